"""Third-party clients against a live server: authlib's OAuth2Session for client_credentials and for
authorization code + PKCE (S256), and joserfc (not what the project signs with) for the JWS."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from joserfc import jws
from joserfc.jwk import KeySet

from consent.auth import SESSION_CITIZEN, SESSION_LEVEL
from consent.models import Citizen, Consent
from providers.models import Organisation
from tests.gateway.conftest import QF, REDIRECT_URI, Consumer

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def plain_http_for_the_live_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # The live server speaks http on localhost; production is https behind its proxy.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


def metadata(base: str) -> dict[str, Any]:
    response = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def verify_with_joserfc(base: str, body: dict[str, Any]) -> None:
    keys = KeySet.import_key_set(requests.get(metadata(base)["jwks_uri"], timeout=10).json())
    signature = jws.deserialize_compact(body["jws"], keys, algorithms=["EdDSA"])
    assert json.loads(signature.payload) == body["attestation"]


def test_client_credentials_with_authlib(
    live_server: Any, mairie_client: Consumer, alice: Citizen, make_consent: Callable[..., Consent]
) -> None:
    consent = make_consent(alice, mairie_client.organisation)
    endpoints = metadata(live_server.url)
    # Closed at the end: an open keep-alive connection holds a live-server thread and its database
    # connection, which would keep the test database from being dropped at the end of the run.
    with OAuth2Session(mairie_client.client_id, mairie_client.secret, scope=f"attestations:{QF}") as session:
        token = session.fetch_token(endpoints["token_endpoint"], grant_type="client_credentials")
        response = session.get(f"{live_server.url}/api/v1/attestations/{QF}", params={"consent": str(consent.pk)})

    assert token["expires_in"] <= 600
    assert response.status_code == 200, response.text
    verify_with_joserfc(live_server.url, response.json())


def citizen_cookie(citizen: Citizen, level: str = "eidas2") -> str:
    """A logged-in citizen's session, as the citizen login leaves it (consent.auth.login_citizen)."""
    store = SessionStore()
    store[SESSION_CITIZEN] = str(citizen.pk)
    store[SESSION_LEVEL] = level
    store.create()
    return str(store.session_key)


def test_authorization_code_with_pkce_with_authlib(
    request: pytest.FixtureRequest,
    live_server: Any,
    mairie_web_client: Consumer,
    mairie: Organisation,
    alice: Citizen,
) -> None:
    endpoints = metadata(live_server.url)
    assert endpoints["code_challenge_methods_supported"] == ["S256"]
    session = OAuth2Session(
        mairie_web_client.client_id,
        mairie_web_client.secret,
        scope=f"attestations:{QF}",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    # Both closed at the end (see test_client_credentials_with_authlib).
    request.addfinalizer(session.close)
    verifier = "v" * 20 + "-interop-verifier-" + "x" * 30
    url, state = session.create_authorization_url(endpoints["authorization_endpoint"], code_verifier=verifier)
    assert f"code_challenge={create_s256_code_challenge(verifier)}" in url

    # The citizen's browser: logged in, sees the page, approves.
    browser = requests.Session()
    request.addfinalizer(browser.close)
    browser.cookies.set(settings.SESSION_COOKIE_NAME, citizen_cookie(alice))
    page = browser.get(url, timeout=10, allow_redirects=False)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert form["code_challenge_method"] == "S256"
    form["allow"] = "on"
    approved = browser.post(url, data=form, timeout=10, allow_redirects=False)
    assert approved.status_code == 302, approved.text
    location = approved.headers["Location"]
    params = parse_qs(urlsplit(location).query)
    assert params["iss"] == [endpoints["issuer"]]
    assert params["state"] == [state]

    token = session.fetch_token(
        endpoints["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state
    )
    # The token is bound to the consent the citizen just gave: no consent parameter is needed.
    response = session.get(f"{live_server.url}/api/v1/attestations/{QF}")

    assert "refresh_token" not in token
    assert response.status_code == 200, response.text
    consent = Consent.objects.get(citizen=alice, consumer=mairie, status=Consent.Status.ACTIVE)
    assert response.json()["attestation"]["consent"] == str(consent.pk)
    verify_with_joserfc(live_server.url, response.json())
