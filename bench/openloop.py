"""An open-loop load generator: requests sent at a fixed arrival rate, whatever the answers do.

A closed loop (wrk's N connections, each waiting for its answer before sending again) measures
queueing: its mean latency is N ÷ throughput. What a user sees is the latency at a given arrival
rate, counted from when the request was due to be sent (so a stall delays the requests behind it
and shows in their figures: no coordinated omission). Debian packages neither wrk2 nor vegeta;
this is a small asyncio client over plain HTTP/1.1 keep-alive connections, cheap enough in CPU to
leave the server its cores at the rates a two-core machine serves.

    .venv/bin/python bench/openloop.py http://127.0.0.1:8000 --rate 100 --duration 20 \\
        --path-file consents.txt --prefix /api/v1/attestations/cnaf.quotient-familial \\
        --header "Authorization: Bearer ..."

Prints one JSON line: requests, rate asked and achieved, non-2xx, errors, p50/p90/p99/p99.9/max.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


class Connection:
    """One keep-alive connection; `request` sends a GET and reads the whole answer."""

    def __init__(self, host: str, port: int, headers: list[str]) -> None:
        self.host, self.port, self.headers = host, port, headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}", *self.headers, "", ""]
        self.writer.write("\r\n".join(head).encode())
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        version, status_text = status_line.split()[:2]
        status = int(status_text)
        length = 0
        keep_alive = version == b"HTTP/1.1"
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
            elif name.strip().lower() == "connection":
                keep_alive = value.strip().lower() != "close"
        await self.reader.readexactly(length)
        if not keep_alive:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run(
    base: str, paths: list[str], headers: list[str], rate: float, duration: float, connections: int
) -> dict[str, object]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port, headers))
    latencies: list[float] = []
    statuses: list[int] = []
    errors = 0

    async def one(due: float, path: str) -> None:
        nonlocal errors
        connection = await idle.get()
        try:
            for attempt in (1, 2):
                reused = connection.writer is not None
                try:
                    statuses.append(await connection.request(path))
                    break
                except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
                    connection.close()
                    # A kept-alive connection the server closed meanwhile: once more on a new one.
                    if attempt == 2 or not reused:
                        errors += 1
                        return
            # From when it was due, not when a connection was free: queueing counts.
            latencies.append(time.perf_counter() - due)
        finally:
            idle.put_nowait(connection)

    start = time.perf_counter()
    total = int(rate * duration)
    tasks = []
    for number, path in zip(range(total), itertools.cycle(paths), strict=False):
        due = start + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, path)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "requests": total,
        "rate_asked": rate,
        "rate_achieved": round(len(ordered) / elapsed, 1),
        "non_2xx": sum(1 for status in statuses if not 200 <= status < 300),
        "errors": errors,
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p90_ms": round(percentile(ordered, 0.90) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "p999_ms": round(percentile(ordered, 0.999) * 1000, 2),
        "max_ms": round((ordered[-1] if ordered else math.nan) * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="http://host:port")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections at most")
    parser.add_argument("--path-file", type=Path, help="one path suffix per line, cycled")
    parser.add_argument("--prefix", default="", help="prepended to each path")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    args = parser.parse_args()
    suffixes = args.path_file.read_text().split() if args.path_file else ["/"]
    paths = [args.prefix + suffix for suffix in suffixes]
    result = asyncio.run(run(args.base, paths, args.header, args.rate, args.duration, args.connections))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
