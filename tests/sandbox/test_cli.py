"""`python -m sandbox`: the sandbox provider as the separate program it is deployed as."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Top-level packages the sandbox must never load: Django and what runs on it, and the product apps.
PRODUCT_AND_DJANGO = {"django", "rest_framework", "oauth2_provider", "celery", "core", "audit", "consent", "gateway"}


def run_sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_runs_from_the_command_line_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--population",
            "100",
            "--seed",
            "7",
            "--fault",
            "error",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SANDBOX_PROVIDER_TOKEN": "cli-token"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.fullmatch(
            r"Sandbox provider listening on http://127\.0\.0\.1:(\d+) \(100 people, seed 7\)\n", banner
        )
        assert match, banner
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=5)
        conn.request("GET", "/_sandbox/faults", headers={"Authorization": "Bearer cli-token"})
        assert json.loads(conn.getresponse().read())["mode"] == "error"
        conn.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == "Sandbox provider stopped\n"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--population", "99"], "--population must be between 100 and 100000"),
        (["--population", "100001"], "--population must be between 100 and 100000"),
        (["--fault", "latency", "--latency-ms", "-1"], "latency_ms: must be an integer between 0 and 120000"),
        (["--fault", "error", "--fault-slug", "cnaf.inconnu"], "slug: unknown attestation type"),
        (["--fault", "meltdown"], "argument --fault: invalid choice: 'meltdown'"),
    ],
)
def test_it_refuses_bad_options_with_a_usage_error(args: list[str], message: str) -> None:
    result = run_sandbox("--port", "0", *args)

    assert result.returncode == 2
    assert result.stderr.startswith("usage: python -m sandbox")
    assert message in result.stderr
    assert result.stdout == ""


def test_it_refuses_a_port_already_taken_with_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_sandbox("--port", str(taken.getsockname()[1]), "--population", "100")

    assert result.returncode == 2
    assert "Address already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_it_loads_no_django_and_of_the_product_only_its_demo_data() -> None:
    script = "import sys, sandbox.__main__, sandbox.server; print(*sorted(sys.modules), sep='\\n')"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    loaded = result.stdout.split()

    assert "sandbox.server" in loaded
    assert [name for name in loaded if name.split(".")[0] in PRODUCT_AND_DJANGO] == []
    assert [name for name in loaded if name.split(".")[0] == "providers"] == [
        "providers",
        "providers.demodata",
        "providers.demodata.catalogue",
        "providers.demodata.companies",
        "providers.demodata.population",
        "providers.siret",
    ]
