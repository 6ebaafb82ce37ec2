"""`python -m sandbox --port 8100`: run the sandbox provider in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from providers.demodata.population import MAX_SIZE, MIN_SIZE
from sandbox.server import DEFAULT_HOST, DEFAULT_PORT, FAULT_MODES, TOKEN_ENV_VAR, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Sandbox provider standing in for CNAF, DGFiP, MESR, CNOUS and France Travail.",
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not MIN_SIZE <= args.population <= MAX_SIZE:
        parser.error(f"--population must be between {MIN_SIZE} and {MAX_SIZE}")
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
    except (ValueError, OSError) as exc:
        # A bad --fault-slug or --latency-ms, or a port already taken: a usage error, not a traceback.
        parser.error(str(exc))


if __name__ == "__main__":
    main()
