"""`python -m audit.tlog EXPORT.jsonl --key KEY`: the command line of the downloadable verifier."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
