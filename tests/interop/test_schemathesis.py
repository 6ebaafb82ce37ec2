"""The OpenAPI schema tells the truth: schemathesis (every check, every phase, stateful through the
schema's links) against a live gateway, with real tokens: client credentials, then a token a
citizen's consent gave through the authorization-code flow (PKCE). tests/interop/schemathesis.toml
bounds the run (examples per operation, seed) and names the rules OpenAPI cannot state."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore

from consent.auth import SESSION_CITIZEN, SESSION_LEVEL
from consent.models import Citizen, Consent
from providers.models import Organisation
from tests.gateway.conftest import QF, REDIRECT_URI, Consumer

pytestmark = [pytest.mark.interop, pytest.mark.django_db(transaction=True)]

CONFIG = Path(__file__).with_name("schemathesis.toml")


def client_credentials_token(base: str, consumer: Consumer, scope: str) -> str:
    response = requests.post(
        f"{base}/oauth/token/",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(consumer.client_id, consumer.secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def authorization_code_token(base: str, consumer: Consumer, citizen: Citizen) -> str:
    """The whole flow over HTTP: the consumer's redirect, the citizen's approval in their browser
    session, the code exchanged with its PKCE verifier."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": consumer.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": f"attestations:{QF}",
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = f"{base}/oauth/authorize/?{urlencode(query)}"
    session = SessionStore()
    session[SESSION_CITIZEN] = str(citizen.pk)
    session[SESSION_LEVEL] = "eidas2"
    session.create()
    with requests.Session() as browser:
        browser.cookies.set(settings.SESSION_COOKIE_NAME, str(session.session_key))
        page = browser.get(url, timeout=10, allow_redirects=False)
        assert page.status_code == 200, page.text
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        approved = browser.post(url, data={**form, "allow": "on"}, timeout=10, allow_redirects=False)
    assert approved.status_code == 302, approved.text
    code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
    response = requests.post(
        f"{base}/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(consumer.client_id, consumer.secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def schemathesis_run(base: str, tokens: dict[str, str], workdir: Path, *options: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "--no-color",
            "run",
            f"{base}/api/v1/schema/?format=json",
            *options,
        ],
        env={**os.environ, "GATEWAY_URL": base, **tokens},
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    (workdir / "schemathesis.txt").write_text(output)
    assert result.returncode == 0, output[-20000:]
    assert " passed" in output and "failed" not in output.split("SUMMARY")[-1]


@pytest.fixture
def auditor_token(live_server: Any, supervisor: Organisation, make_consumer: Callable[..., Consumer]) -> str:
    return client_credentials_token(live_server.url, make_consumer(supervisor, scopes=["audit:read"]), "audit:read")


def test_the_schema_holds_with_a_client_credentials_token(
    live_server: Any,
    mairie_client: Consumer,
    auditor_token: str,
    alice: Citizen,
    make_consent: Callable[..., Consent],
    tmp_path: Path,
) -> None:
    make_consent(alice, mairie_client.organisation)
    scope = f"attestations:{QF} consents:read consents:write"
    tokens = {
        "CONSUMER_TOKEN": client_credentials_token(live_server.url, mairie_client, scope),
        "AUDITOR_TOKEN": auditor_token,
    }

    schemathesis_run(live_server.url, tokens, tmp_path)


def test_the_exchange_operations_hold_with_an_authorization_code_token(
    live_server: Any, mairie_web_client: Consumer, auditor_token: str, alice: Citizen, tmp_path: Path
) -> None:
    tokens = {
        "CONSUMER_TOKEN": authorization_code_token(live_server.url, mairie_web_client, alice),
        "AUDITOR_TOKEN": auditor_token,
    }

    # The operations such a token is for: a consent-bound fetch, synchronous or not.
    schemathesis_run(live_server.url, tokens, tmp_path, "--include-path-regex", "^/api/v1/(attestations|exchanges)")
