"""The command line: `python verifier.pyz EXPORT.jsonl --key KEY`, or `BUNDLE.json --bundle --key KEY`.

Prints one line, `OK: ...` or `FAILED at index N: ...`, and exits 0 or 1.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from .errors import VerificationError
from .export import verify_bundle, verify_export


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
            print(f"OK: event {bundle['leaf_index']} is in the log of size {bundle['tree_size']}")
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
