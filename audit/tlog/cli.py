"""The command line: `python verifier.pyz EXPORT.jsonl --key KEY`, or `BUNDLE.json --bundle --key KEY`.

Prints one line, `OK: ...` or `FAILED at index N: ...`, and exits 0 or 1. A bundle's `OK` line
names the event by its number (`event n° 42`, as the citizen's history shows it) and its place as
`entry n° 2 (leaf index 1)`: entries count from 1, leaf indexes from 0.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from .errors import VerificationError
from .export import verify_bundle, verify_export


def bundle_verified(bundle: dict[str, Any]) -> str:
    """The line for a verified bundle, in the terms the citizen's pages use: the event's number as
    their history shows it (its id, in the file's name too), its entry in the log counted from 1 as
    the gateway's check page shows it, and the 0-based leaf index of RFC 9162."""
    index, size = bundle["leaf_index"], bundle["tree_size"]
    event = bundle.get("event")
    event_id = event.get("id") if isinstance(event, dict) else None
    entry = f"entry n° {index + 1} (leaf index {index})"
    if type(event_id) is int:
        return f"OK: event n° {event_id} is in the log of size {size}, as {entry}"
    return f"OK: {entry} is in the log of size {size}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="audit_verify", description="Verify an audit trail export or proof bundle offline."
    )
    parser.add_argument("path", help="export (JSON Lines) or, with --bundle, a proof bundle")
    parser.add_argument("--key", help="the log's verifier key, obtained out of band")
    parser.add_argument("--bundle", action="store_true", help="PATH is a citizen's proof bundle")
    parser.add_argument("--checkpoint", help="file with a checkpoint fetched from the log itself")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        if args.bundle:
            if not args.key:
                parser.error("--bundle needs --key")
            with open(args.path, encoding="utf-8") as f:
                bundle = json.load(f)
            verify_bundle(bundle if isinstance(bundle, dict) else {}, args.key)
            print(bundle_verified(bundle))
            return 0
        latest = None
        if args.checkpoint:
            with open(args.checkpoint, encoding="utf-8") as f:
                latest = f.read()
        with open(args.path, "rb") as f:  # bytes: event lines are hashed as they stand
            report = verify_export(f, args.key, latest_checkpoint=latest)
    except VerificationError as exc:
        where = f" at index {exc.index}" if exc.index is not None else ""
        print(f"FAILED{where}: {exc.summary()}")
        return 1
    except (OSError, ValueError) as exc:
        print(f"FAILED: {exc}")
        return 1
    elapsed = max(time.perf_counter() - started, 1e-9)
    trust = "" if report.key_source == "argument" else " (key from the export header: pass --key)"
    print(
        f"OK: {report.tree_size} events, {report.checkpoints_checked} checkpoints, "
        f"root {report.root}, {report.tree_size / elapsed:,.0f} leaves/s{trust}"
    )
    return 0
