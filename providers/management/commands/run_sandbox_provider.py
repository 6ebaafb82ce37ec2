from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.sandbox.population import MAX_SIZE, MIN_SIZE
from providers.sandbox.server import DEFAULT_HOST, DEFAULT_PORT, FAULT_MODES, TOKEN_ENV_VAR, serve


class Command(BaseCommand):
    help = "Runs the sandbox provider (CNAF, DGFiP, MESR, CNOUS, France Travail) over HTTP until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST})")
        parser.add_argument(
            "--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port (default {DEFAULT_PORT})"
        )
        parser.add_argument(
            "--population", type=int, default=1000, help=f"synthetic people, {MIN_SIZE} to {MAX_SIZE} (default 1000)"
        )
        parser.add_argument("--seed", type=int, default=2026, help="population seed (default 2026)")
        parser.add_argument(
            "--token",
            default=None,
            help=f"bearer token clients must send (default ${TOKEN_ENV_VAR}, else sandbox-token)",
        )
        parser.add_argument("--fault", default="none", choices=FAULT_MODES, help="fault to inject from the start")
        parser.add_argument("--fault-slug", default=None, help="limit the fault to one attestation type")
        parser.add_argument("--latency-ms", type=int, default=None, help="delay of the latency fault (default 1000)")

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
