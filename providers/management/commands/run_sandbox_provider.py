from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.demodata.population import MAX_SIZE, MIN_SIZE
from providers.sandbox.__main__ import add_arguments as sandbox_arguments
from providers.sandbox.server import serve


class Command(BaseCommand):
    help = "Runs the sandbox provider (CNAF, DGFiP, MESR, CNOUS, France Travail) over HTTP until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        sandbox_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if not MIN_SIZE <= options["population"] <= MAX_SIZE:
            raise CommandError(f"--population must be between {MIN_SIZE} and {MAX_SIZE}.")
        try:
            serve(
                options["host"],
                options["port"],
                options["population"],
                options["seed"],
                options["token"],
                options["fault"],
                fault_slug=options["fault_slug"],
                latency_ms=options["latency_ms"],
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
