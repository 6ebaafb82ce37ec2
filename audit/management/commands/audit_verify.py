from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.sealer import log_verifier_key
from audit.tlog import cli


class Command(BaseCommand):
    help = "Verify an audit export offline (audit.tlog, as verifier.pyz does): prints OK or FAILED at index N."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="export file (JSON Lines)")
        parser.add_argument("--key", help="the log's verifier key, obtained out of band (default: this log's)")
        parser.add_argument("--checkpoint", help="file with a checkpoint fetched from the log itself")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["key"]
        if key is None:
            key = log_verifier_key()
        argv = [options["path"], "--key", key]
        if options["checkpoint"]:
            argv += ["--checkpoint", options["checkpoint"]]
        if cli.main(argv) != 0:
            raise CommandError("verification failed", returncode=1)
