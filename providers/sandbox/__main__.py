"""`python -m providers.sandbox --port 8100`: run the sandbox provider in the foreground."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from providers.demodata.population import MAX_SIZE, MIN_SIZE
from providers.sandbox.server import DEFAULT_HOST, DEFAULT_PORT, FAULT_MODES, TOKEN_ENV_VAR, serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options, shared with `manage.py run_sandbox_provider`."""
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--population",
        type=int,
        default=1000,
        help=f"number of synthetic people, {MIN_SIZE}..{MAX_SIZE} (default 1000)",
    )
    parser.add_argument("--seed", type=int, default=2026, help="population seed (default 2026)")
    parser.add_argument(
        "--token",
        default=None,
        help=f"bearer token clients must present (default ${TOKEN_ENV_VAR}, else sandbox-token)",
    )
    parser.add_argument("--fault", default="none", choices=FAULT_MODES, help="fault to inject from the start")
    parser.add_argument("--fault-slug", default=None, help="limit the fault to one attestation type")
    parser.add_argument("--latency-ms", type=int, default=None, help="delay of the latency fault (default 1000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m providers.sandbox",
        description="Sandbox provider standing in for CNAF, DGFiP, MESR, CNOUS and France Travail.",
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if not MIN_SIZE <= args.population <= MAX_SIZE:
        build_parser().error(f"--population must be between {MIN_SIZE} and {MAX_SIZE}")
    try:
        serve(
            args.host,
            args.port,
            args.population,
            args.seed,
            args.token,
            args.fault,
            fault_slug=args.fault_slug,
            latency_ms=args.latency_ms,
        )
    except ValueError as exc:
        build_parser().error(str(exc))


if __name__ == "__main__":
    main()
