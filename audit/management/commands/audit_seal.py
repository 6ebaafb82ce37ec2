from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.sealer import log_seal_all


class Command(BaseCommand):
    help = "Seal every pending audit event now (one signed checkpoint per batch)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=50_000, help="events per checkpoint")
        parser.add_argument("--sweep", action="store_true", help="also look for old unsealed events")

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoints = log_seal_all(max_batch=options["batch"], sweep=options["sweep"])
        if checkpoints:
            self.stdout.write(f"sealed: tree size {checkpoints[-1].tree_size} ({len(checkpoints)} checkpoints)")
        else:
            self.stdout.write("nothing to seal")
