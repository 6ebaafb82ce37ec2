"""Settings are read once per process, so each case runs in a fresh interpreter with its own env."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-key-with-enough-entropy-8d2f0c6b1e9a4d7c5b3a",
    "AUDIT_HMAC_KEY": "a-production-audit-hmac-key",
    "ALLOWED_HOSTS": "passerelle.example.gouv.fr",
    "GATEWAY_BASE_URL": "https://passerelle.example.gouv.fr",
    "DATABASE_URL": "postgres://gateway@db.internal:5432/gateway",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "GATEWAY_OPERATOR_NAME": "Direction interministérielle du numérique",
    "GATEWAY_OPERATOR_ADDRESS": "20 avenue de Ségur, 75007 Paris",
    "GATEWAY_HOSTING": "Hébergeur public, Paris",
    "GATEWAY_CONTACT_EMAIL": "contact@passerelle.example.gouv.fr",
    "GATEWAY_DPO_EMAIL": "dpd@passerelle.example.gouv.fr",
}
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'cache': s.CACHES['default']['BACKEND'], 'debug': s.DEBUG, 'ssl': s.SECURE_SSL_REDIRECT, "
    "'hosts': s.ALLOWED_HOSTS, 'demo': s.DEMO_MODE}))"
)


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "SYSTEMROOT"}}
    base["DJANGO_SETTINGS_MODULE"] = "gateway.settings"
    base["GATEWAY_KEYS_DIR"] = str(ROOT / "var" / "test-keys")
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


class TestSettings:
    def test_it_runs_embedded_on_sqlite_and_eager_celery_without_env(self) -> None:
        result = run_python({"DEBUG": "1"}, "-c", PROBE)
        assert result.returncode == 0, result.stderr
        probe = json.loads(result.stdout)
        assert probe["engine"] == "django.db.backends.sqlite3"
        assert probe["eager"] is True
        assert probe["cache"].endswith("LocMemCache")
        assert probe["demo"] is True

    def test_it_uses_postgresql_and_redis_when_given(self) -> None:
        result = run_python(PRODUCTION_ENV, "-c", PROBE)
        assert result.returncode == 0, result.stderr
        probe = json.loads(result.stdout)
        assert probe["engine"] == "core.db.postgresql"  # Django's backend with a health-check delay
        assert probe["eager"] is False
        assert probe["cache"].endswith("RedisCache")
        assert probe["debug"] is False and probe["ssl"] is True and probe["demo"] is False
        assert probe["hosts"] == ["passerelle.example.gouv.fr"]

    @pytest.mark.parametrize("missing", ["SECRET_KEY", "AUDIT_HMAC_KEY"])
    def test_it_refuses_to_start_without_a_production_secret(self, missing: str) -> None:
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
        result = run_python(env, "-c", PROBE)
        assert result.returncode != 0
        assert f"{missing} is not set. It is required when DEBUG is off" in result.stderr

    def test_it_rejects_a_boolean_it_cannot_read(self) -> None:
        result = run_python({**PRODUCTION_ENV, "DEBUG": "maybe"}, "-c", PROBE)
        assert result.returncode != 0
        assert "DEBUG must be a boolean" in result.stderr

    def test_it_reads_retention_durations_over_the_defaults(self) -> None:
        probe = (
            "import json, django; django.setup(); from django.conf import settings as s; "
            "print(json.dumps(s.AUDIT_RETENTION_DAYS))"
        )
        result = run_python(
            {**PRODUCTION_ENV, "AUDIT_RETENTION_DAYS": "consent=3000, citizen.previewed=90"}, "-c", probe
        )
        assert result.returncode == 0, result.stderr
        durations = json.loads(result.stdout)
        assert durations["consent"] == 3000
        assert durations["citizen.previewed"] == 90
        assert durations["exchange"] == 1827

        refused = run_python({**PRODUCTION_ENV, "AUDIT_RETENTION_DAYS": "consent=six-years"}, "-c", probe)
        assert refused.returncode != 0
        assert "AUDIT_RETENTION_DAYS is a list of key=days pairs" in refused.stderr

    def test_it_passes_the_deployment_checklist_with_production_settings(self) -> None:
        result = run_python(PRODUCTION_ENV, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout

    def test_it_refuses_to_generate_signing_keys_in_production(self, tmp_path: Path) -> None:
        code = "import django; django.setup(); from core.jose import jwks; jwks()"
        result = run_python({**PRODUCTION_ENV, "GATEWAY_KEYS_DIR": str(tmp_path)}, "-c", code)
        assert result.returncode != 0
        assert "does not exist. Provide it" in result.stderr
        assert not any(tmp_path.iterdir())

    def test_it_names_the_missing_secret_when_a_command_runs_without_it(self) -> None:
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
        result = run_python(env, "manage.py", "check")
        assert result.returncode == 1
        assert "Configuration error: SECRET_KEY is not set." in result.stderr
        assert "Models aren't loaded yet" not in result.stderr
