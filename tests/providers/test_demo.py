from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from audit.models import AuditEvent
from providers.demo import DEMO_CONSUMER, seed
from providers.models import AttestationType, Habilitation, Organisation

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
class TestSeedDemo:
    def test_it_seeds_providers_types_and_approved_habilitations_with_their_trail(self) -> None:
        out = io.StringIO()

        seed(out)

        assert "5 attestation types from 7 organisations" in out.getvalue()
        assert AttestationType.objects.count() == 5
        mairie = Organisation.objects.get(code=DEMO_CONSUMER)
        assert Habilitation.objects.filter(consumer=mairie, status="approved").count() == 5
        assert AuditEvent.objects.filter(type="habilitation.submitted").count() == 5
        assert AuditEvent.objects.filter(type="habilitation.approved").count() == 5

    def test_it_is_idempotent(self) -> None:
        seed(io.StringIO())
        rows = (Organisation.objects.count(), AttestationType.objects.count(), Habilitation.objects.count())
        events = AuditEvent.objects.count()

        out = io.StringIO()
        seed(out)

        assert (Organisation.objects.count(), AttestationType.objects.count(), Habilitation.objects.count()) == rows
        assert AuditEvent.objects.count() == events
        assert "(0 new)" in out.getvalue()


class TestRunSandboxProviderCommand:
    def test_it_serves_the_sandbox_until_stopped(self) -> None:
        env = {**os.environ, "DEBUG": "1", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_sandbox_provider", "--port", "0", "--population", "100"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert match, line
            with urllib.request.urlopen(match.group(0) + "/healthz", timeout=5) as response:
                assert response.status == 200
        finally:
            process.terminate()
            process.wait(timeout=10)
        assert process.returncode == 0
