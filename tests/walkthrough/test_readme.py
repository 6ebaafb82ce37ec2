"""The README's walk-through, as a newcomer runs it after `make run`, over real HTTP.

The product is started exactly as `make run` starts it (DEBUG and demo mode, `migrate`,
`seed_demo`, then the server and the periodic tasks' process), with no Redis (Celery in eager
mode), once on the embedded SQLite default and once on PostgreSQL. Then: a token for the demo
consumer's client, a consent request, the citizen's demo login and approval through the pages,
the signed attestation (checked with joserfc against the JWKS), the consumer ending the consent
and the next request refused, the citizen's history and one event's proof checked offline, and
every page the README names.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import psycopg
import pytest
import requests
from joserfc import jws
from joserfc.jwk import KeySet

from tests.processes import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
SLUG = "cnaf.quotient-familial"

pytestmark = pytest.mark.walkthrough


@dataclass(frozen=True)
class Gateway:
    base: str
    client_id: str
    client_secret: str
    env: dict[str, str]

    def url(self, path: str) -> str:
        return urljoin(self.base, path)


def _environment(tmp_path: Path, database: str) -> dict[str, str]:
    """What `make run` sets, on a clean slate: none of the test run's own settings leak in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        {
            "DEBUG": "1",
            "GATEWAY_DEMO": "1",
            "GATEWAY_KEYS_DIR": str(tmp_path / "keys"),
            "GATEWAY_SQLITE_FILE": str(tmp_path / "gateway.sqlite3"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database:
        env["DATABASE_URL"] = database
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    database = ""
    if request.param == "postgresql":
        name = f"gw_walkthrough_{secrets.token_hex(4)}"
        admin = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        database = f"{admin}/{name}"
    port = free_port()
    env = _environment(tmp_path, database)
    env["GATEWAY_BASE_URL"] = f"http://127.0.0.1:{port}"
    try:
        _manage(env, "migrate", "--no-input")
        seeded = _manage(env, "seed_demo")
        credentials = re.search(r"client_id=(\S+) client_secret=(\S+)", seeded)
        assert credentials is not None, seeded
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "server.log").open("wb"),
            start_new_session=True,
        )
        # As `make run`: the periodic tasks in their own process, on the same database.
        beat = subprocess.Popen(
            [sys.executable, "manage.py", "beat_embedded"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "beat.log").open("wb"),
            start_new_session=True,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz")
            yield Gateway(f"http://127.0.0.1:{port}/", credentials[1], credentials[2], env)
        finally:
            for process in (server, beat):
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            log = (tmp_path / "server.log").read_text(errors="replace")
            # A 500 anywhere in the walk-through is a failure even if the step's assert missed it.
            assert " 500 " not in log and "Traceback" not in log, log[-3000:]
            # Nor may a periodic task fail beside it (a locked SQLite file, say).
            beat_log = (tmp_path / "beat.log").read_text(errors="replace")
            assert "Traceback" not in beat_log and "failed" not in beat_log, beat_log[-3000:]
    finally:
        if database:
            with psycopg.connect(f"{database.rsplit('/', 1)[0]}/postgres", autocommit=True) as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {database.rsplit('/', 1)[1]} WITH (FORCE)")


def _csrf(session: requests.Session, page: requests.Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match is not None, page.text[:2000]
    return match[1]


def _citizen_approves(gateway: Gateway, approval_url: str) -> requests.Session:
    """The citizen opens the link, logs in with the demo login as demo person 0, approves."""
    citizen = requests.Session()
    page = citizen.get(approval_url, timeout=30)
    assert page.status_code == 200
    approval_path = urlsplit(approval_url).path
    login = citizen.get(gateway.url("/connexion/demo/"), params={"next": approval_path}, timeout=30)
    assert login.status_code == 200
    approval = citizen.post(
        gateway.url("/connexion/demo/"),
        data={
            "csrfmiddlewaretoken": _csrf(citizen, login),
            "citizen": "0",
            "eidas_level": "eidas2",
            "next": approval_path,
        },
        headers={"Referer": login.url},
        timeout=30,
    )
    assert approval.status_code == 200 and urlsplit(approval.url).path == approval_path
    decided = citizen.post(
        gateway.url(approval_path + "accepter/"),
        data={"csrfmiddlewaretoken": _csrf(citizen, approval)},
        headers={"Referer": approval.url},
        timeout=30,
    )
    assert decided.status_code == 200, decided.text[:2000]
    return citizen


def _verifier(gateway: Gateway, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """As the README says: the public key and the one-file verifier from the gateway, then
    `python verifier.pyz FILE --key KEY` with a bare interpreter (no project on the path)."""
    key = requests.get(gateway.url("/api/v1/audit/public-key"), timeout=30).text.strip()
    verifier = path.parent / "verifier.pyz"
    verifier.write_bytes(requests.get(gateway.url("/api/v1/audit/verifier.pyz"), timeout=30).content)
    return subprocess.run(
        [sys.executable, "-I", str(verifier), str(path), *args, "--key", key],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_readme_walk_through_works(gateway: Gateway) -> None:
    # 1. A token for consents and the attestation (client_credentials).
    token_response = requests.post(
        gateway.url("/oauth/token/"),
        auth=(gateway.client_id, gateway.client_secret),
        data={"grant_type": "client_credentials", "scope": f"consents:read consents:write attestations:{SLUG}"},
        timeout=30,
    )
    assert token_response.status_code == 200, token_response.text
    bearer = {"Authorization": f"Bearer {token_response.json()['access_token']}"}

    # 2. The consent request, and the citizen's approval through the pages.
    created = requests.post(
        gateway.url("/api/v1/consent-requests"),
        json={
            "attestation_types": [SLUG],
            "purpose": {"code": "tarification-sociale", "text": "Cantine"},
            "duration_days": 30,
        },
        headers=bearer,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    consent = created.json()
    assert consent["status"] == "pending"
    citizen = _citizen_approves(gateway, consent["approval_url"])
    assert (
        requests.get(gateway.url(f"/api/v1/consents/{consent['id']}"), headers=bearer, timeout=30).json()["status"]
        == "active"
    )

    # 3. The signed attestation, checked against the published keys.
    attestation_url = gateway.url(f"/api/v1/attestations/{SLUG}")
    fetched = requests.get(attestation_url, params={"consent": consent["id"]}, headers=bearer, timeout=30)
    assert fetched.status_code == 200, fetched.text
    body = fetched.json()
    keys = KeySet.import_key_set(requests.get(gateway.url("/.well-known/jwks.json"), timeout=30).json())
    verified = jws.deserialize_compact(body["jws"], keys, algorithms=["EdDSA"])
    assert json.loads(verified.payload) == body["attestation"]
    assert body["attestation"]["consent"] == consent["id"] and body["attestation"]["fields"]

    # 4. The consumer ends the consent; the very next request is refused.
    ended = requests.delete(gateway.url(f"/api/v1/consents/{consent['id']}"), headers=bearer, timeout=30)
    assert ended.status_code == 204
    refused = requests.get(attestation_url, params={"consent": consent["id"]}, headers=bearer, timeout=30)
    assert refused.status_code == 403 and refused.json()["code"] == "consent_revoked"

    # 5. The citizen's history lists the exchange, and one event's proof checks offline.
    history = citizen.get(gateway.url("/mes-consentements/historique/"), timeout=30)
    assert history.status_code == 200
    proofs = re.findall(r'href="(/mes-consentements/historique/\d+/preuve\.json)"', history.text)
    assert proofs, history.text[:3000]
    proof = citizen.get(gateway.url(proofs[0]), timeout=30)
    assert proof.status_code == 200
    bundle = Path(gateway.env["GATEWAY_KEYS_DIR"]).parent / "preuve.json"
    bundle.write_bytes(proof.content)
    checked = _verifier(gateway, bundle, "--bundle")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    number = proofs[0].split("/")[-2]  # the event's number, as the history names it
    assert checked.stdout.startswith(f"OK: event n° {number} is in the log of size "), checked.stdout

    # 6. Every page the README and `make run` name answers.
    for path in ("/", "/api/v1/docs/", "/api/v1/schema/", "/catalogue/", "/connexion/demo/", "/statistiques/"):
        assert requests.get(gateway.url(path), timeout=30).status_code == 200, path
    assert citizen.get(gateway.url("/mes-consentements/"), timeout=30).status_code == 200


def test_the_trail_verifies_end_to_end(gateway: Gateway, tmp_path: Path) -> None:
    """The README's "Verifying the trail": export, then check every leaf, root and signature."""
    export = tmp_path / "trail.jsonl"
    _manage(gateway.env, "audit_export", "--output", str(export))
    checked = _verifier(gateway, export)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK")
