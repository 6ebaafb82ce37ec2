from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.exports import export_lines


class Command(BaseCommand):
    help = "Write the audit log as a gateway-audit-export/1 JSONL file (verifiable offline)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument("--from-index", type=int, default=0, help="first leaf (only 0 verifies alone)")
        parser.add_argument("--to-index", type=int, default=None, help="end leaf, exclusive (default: latest)")
        parser.add_argument(
            "--checkpoints", choices=["all", "latest"], default="all", help="which checkpoints to include"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        lines = export_lines(
            from_index=options["from_index"], to_index=options["to_index"], checkpoints=options["checkpoints"]
        )
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="\n") as handle:
                handle.writelines(lines)
        else:
            sys.stdout.writelines(lines)
