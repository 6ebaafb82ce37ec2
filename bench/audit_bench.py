"""Audit trail benchmark (PostgreSQL; not part of the test run).

    .venv/bin/python bench/audit_bench.py --events 1000000 [--database gw_audit_bench]

Recreates the database (DROP/CREATE: the append-only triggers forbid emptying it otherwise),
migrates, COPYs N synthetic events (one citizen with ~100 of them) and ANALYZEs them (as
autovacuum would; --no-analyze to see the planner without statistics), then measures: sealing
throughput (events/s, 50,000 per checkpoint), export and offline verification throughput
(leaves/s over the JSONL export read in binary mode, as the command line does), inclusion-proof
time (p50/p99 over 1,000 random leaves) and the citizen-history selector time. Each figure is set
against a yardstick measured in the same run, on the same data (this machine's speed varies
several-fold from day to day): sealing against a plain COPY of as many leaf rows into an unindexed
table; verification against the least a Python verifier must do per line of the same export
(json.loads, a sorted compact json.dumps, one sha256), per CPU second; proofs and history against
the p99 of one primary-key lookup on the events table. Also the disk used per event. Prints the
figures and writes JSON, with the machine's load average at each phase, to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _recreate(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _copy_yardstick(connection: object, n: int) -> float:
    """Seconds to COPY n leaf-shaped rows (index, event id, 32-byte hash) into an unindexed table:
    the floor cost of writing what sealing writes."""
    import hashlib

    rows = "".join(f"{i}\t{i + 1}\t\\\\x{hashlib.sha256(i.to_bytes(8, 'big')).hexdigest()}\n" for i in range(n))
    with connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("DROP TABLE IF EXISTS bench_copy_yardstick")
        cursor.execute("CREATE TABLE bench_copy_yardstick (index bigint, event_id bigint, hash bytea)")
        t0 = time.perf_counter()
        with cursor.cursor.copy("COPY bench_copy_yardstick FROM STDIN") as copy:
            copy.write(rows)
        elapsed = time.perf_counter() - t0
        cursor.execute("DROP TABLE bench_copy_yardstick")
    return elapsed


def _verify_yardstick(export_path: str) -> float:
    """Lines per CPU second of the least a Python verifier does per line of the export."""
    import hashlib

    cpu0 = time.process_time()
    count = 0
    with open(export_path, "rb") as lines:
        for line in lines:
            document = json.loads(line)
            hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())
            count += 1
    return count / (time.process_time() - cpu0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="gw_audit_bench")
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--proofs", type=int, default=1_000)
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="skip ANALYZE after loading (as if autovacuum were off: the planner then has no statistics)",
    )
    args = parser.parse_args()

    _recreate(args.server, args.database)
    os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.pop("REDIS_URL", None)
    os.environ["AUDIT_SEAL_ON_COMMIT"] = "0"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from audit.exports import export_lines
    from audit.partitions import event_partitions_ensure
    from audit.sealer import log_seal_all, log_verifier_key
    from audit.selectors import events_for_citizen, inclusion_proof_get
    from audit.tlog.export import verify_export

    call_command("migrate", verbosity=0)
    rng = random.Random(42)
    target = "f" * 64
    n = args.events
    target_rows = set(rng.sample(range(n), min(100, n)))
    start_time = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    if connection.vendor == "postgresql":
        # The months the synthetic events fall in, as the beat task would have made them.
        event_partitions_ensure(since=start_time.date(), until=(start_time + dt.timedelta(seconds=2 * n)).date())
    types = ["exchange.succeeded", "exchange.succeeded", "exchange.denied", "consent.approved", "consent.requested"]
    print(f"inserting {n:,} events ...", flush=True)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        columns = (
            "type, occurred_at, actor_kind, actor, citizen_ref, consumer, provider, attestation_type, "
            "fields, purpose, consent_id, exchange_id, correlation_id, detail"
        )
        with cursor.cursor.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
            for i in range(n):
                ref = target if i in target_rows else f"{rng.getrandbits(256):064x}"
                copy.write_row(
                    (
                        types[i % len(types)],
                        start_time + dt.timedelta(seconds=i * 2),
                        "consumer",
                        "21690123100011",
                        ref,
                        "21690123100011",
                        "18003502400011",
                        "cnaf.quotient-familial",
                        '["quotient_familial", "allocataire"]',
                        "instruction-aide-sociale",
                        str(uuid.UUID(int=rng.getrandbits(128))),
                        str(uuid.UUID(int=rng.getrandbits(128))),
                        f"{i:032x}",
                        '{"status": 200}',
                    )
                )
    insert_s = time.perf_counter() - t0
    print(f"  {insert_s:.1f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
        if args.analyze:
            # What autovacuum's auto-analyze does shortly after a bulk load; without statistics the
            # planner guesses a third of the table matches `id > x` and seq-scans it on every seal.
            cursor.execute("ANALYZE audit_auditevent")
    load: dict[str, list[float]] = {}

    load["copy-yardstick"] = list(os.getloadavg())
    copy_s = _copy_yardstick(connection, n)
    print(f"yardstick: COPY of {n:,} leaf rows into an unindexed table: {n / copy_s:,.0f} rows/s", flush=True)

    load["seal"] = list(os.getloadavg())
    t0 = time.perf_counter()
    checkpoints = log_seal_all(max_batch=args.batch)
    seal_s = time.perf_counter() - t0
    size = checkpoints[-1].tree_size
    print(f"sealed {size:,} events in {len(checkpoints)} checkpoints: {size / seal_s:,.0f} events/s", flush=True)

    if args.analyze:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE audit_logleaf")
            cursor.execute("ANALYZE audit_lognode")

    load["export"] = list(os.getloadavg())
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as handle:
        t0 = time.perf_counter()
        handle.writelines(export_lines(checkpoints="all"))
        export_s = time.perf_counter() - t0
        export_path = handle.name
    load["verify"] = list(os.getloadavg())
    t0, cpu0 = time.perf_counter(), time.process_time()
    with open(export_path, "rb") as lines:  # as the command line reads it: bytes, hashed as they stand
        report = verify_export(lines, log_verifier_key())
    verify_s, verify_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    load["verify-yardstick"] = list(os.getloadavg())
    floor_per_cpu_s = _verify_yardstick(export_path)
    os.unlink(export_path)
    print(f"yardstick: loads + sorted dumps + sha256 per line: {floor_per_cpu_s:,.0f} lines per CPU second", flush=True)
    print(
        f"export {size / export_s:,.0f} events/s; verification {report.tree_size / verify_s:,.0f} leaves/s"
        f" ({report.tree_size / verify_cpu_s:,.0f} per CPU second)",
        flush=True,
    )

    load["proofs"] = list(os.getloadavg())
    proof_ms = []
    for index in (rng.randrange(size) for _ in range(args.proofs)):
        t0 = time.perf_counter()
        inclusion_proof_get(index=index)
        proof_ms.append((time.perf_counter() - t0) * 1000)
    lookup_ms = []
    with connection.cursor() as cursor:
        for event_id in (rng.randrange(1, n + 1) for _ in range(args.proofs)):
            t0 = time.perf_counter()
            cursor.execute("SELECT * FROM audit_auditevent WHERE id = %s", [event_id])
            cursor.fetchall()
            lookup_ms.append((time.perf_counter() - t0) * 1000)
    lookup_p99 = _percentile(lookup_ms, 0.99)
    history_ms = []
    for _ in range(100):
        t0 = time.perf_counter()
        rows = events_for_citizen(citizen_ref=target, limit=100)
        history_ms.append((time.perf_counter() - t0) * 1000)
    assert len(rows) == len(target_rows)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(pg_total_relation_size(relid)) FROM ("
            " SELECT relid FROM pg_partition_tree('audit_auditevent') UNION ALL"
            " SELECT relid FROM pg_partition_tree('audit_logleaf') UNION ALL"
            " SELECT relid FROM pg_partition_tree('audit_lognode')) AS t"
        )
        disk_bytes = int(cursor.fetchone()[0])
    verify_per_cpu_s = report.tree_size / verify_cpu_s
    history_p50 = statistics.median(history_ms)
    proof_p99 = _percentile(proof_ms, 0.99)
    ratios = {
        "seal / copy (target >= 0.3)": round((size / seal_s) / (n / copy_s), 3),
        "verify / floor, per CPU s (target >= 0.5)": round(verify_per_cpu_s / floor_per_cpu_s, 3),
        "proof p99 / pk lookup p99 (target <= 5)": round(proof_p99 / lookup_p99, 2),
        "history p50 / pk lookup p99 (target <= 5)": round(history_p50 / lookup_p99, 2),
    }
    for name, value in ratios.items():
        print(f"ratio {name:45s} {value}", flush=True)
    print(f"disk per event (events, leaves, nodes, with indexes): {disk_bytes / n:,.0f} bytes", flush=True)
    print(f"load averages (1/5/15 min) as each phase began: {load}", flush=True)

    results = {
        "events": n,
        "ratios": ratios,
        "copy_yardstick_rows_per_s": round(n / copy_s),
        "verify_yardstick_lines_per_cpu_s": round(floor_per_cpu_s),
        "pk_lookup_ms_p50": round(statistics.median(lookup_ms), 3),
        "pk_lookup_ms_p99": round(lookup_p99, 3),
        "disk_bytes_per_event": round(disk_bytes / n),
        "insert_seconds": round(insert_s, 2),
        "seal_events_per_s": round(size / seal_s),
        "seal_seconds": round(seal_s, 2),
        "checkpoints": len(checkpoints),
        "export_events_per_s": round(size / export_s),
        "verify_leaves_per_s": round(report.tree_size / verify_s),
        # Single-threaded and in-process: per second of this process's CPU, whatever the load.
        "verify_leaves_per_cpu_s": round(report.tree_size / verify_cpu_s),
        "inclusion_proof_ms_p50": round(statistics.median(proof_ms), 3),
        "inclusion_proof_ms_p99": round(_percentile(proof_ms, 0.99), 3),
        "citizen_history_ms_p50": round(statistics.median(history_ms), 3),
        "citizen_history_ms_p99": round(_percentile(history_ms, 0.99), 3),
        "citizen_history_rows": len(rows),
        "analyzed": args.analyze,
        "server_autovacuum": autovacuum,
        # 1/5/15-minute load averages of the machine as each phase began (two cores, shared).
        "load_average": {phase: [round(x, 2) for x in values] for phase, values in load.items()},
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.analyze else "-no-analyze"
    (out / f"audit-{n}{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
