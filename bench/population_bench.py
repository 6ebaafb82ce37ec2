"""Synthetic population benchmark (pure Python; not part of the test run).

    .venv/bin/python bench/population_bench.py [--sizes 1000 10000 100000] [--repeat 5]

Times building `providers.demodata.population.Population` at each size (identities and the lookup
index; records are derived on demand) and deriving every record of the first 10,000 people. The
demo adapter builds one population per process and the sandbox one at start-up, so the build at
100,000 people (the largest allowed) is the figure to watch: a few seconds at most on two cores.
Prints the best and the median of the runs, with the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from providers.demodata.population import DATASETS, MAX_SIZE, MIN_SIZE, Population  # noqa: E402

RECORDS_OF = 10_000


def _timed(build: Callable[[], object]) -> float:
    started = time.perf_counter()
    build()
    return time.perf_counter() - started


def _records(population: Population) -> None:
    for person in population.people[:RECORDS_OF]:
        for slug in DATASETS:
            population.record(person, slug)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, MAX_SIZE])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if any(not MIN_SIZE <= size <= MAX_SIZE for size in args.sizes):
        parser.error(f"sizes must be between {MIN_SIZE} and {MAX_SIZE}")

    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    for size in args.sizes:
        builds = [_timed(lambda size=size: Population(size=size, seed=args.seed)) for _ in range(args.repeat)]
        population = Population(size=size, seed=args.seed)
        records = [_timed(lambda population=population: _records(population)) for _ in range(args.repeat)]
        people = min(size, RECORDS_OF)
        print(
            f"{size:>7} people: build best {min(builds):.3f} s, median {statistics.median(builds):.3f} s; "
            f"every record of {people} people best {min(records):.3f} s, median {statistics.median(records):.3f} s"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
