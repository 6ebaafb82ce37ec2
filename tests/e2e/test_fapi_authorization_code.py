"""FAPI 2.0 in a real Chromium with a client nobody here wrote: requests-oauth2client drives
private_key_jwt, PAR, PKCE and DPoP for the authorization code flow, the citizen logs in, reads the
consent screen and approves, then the client calls the exchange API with DPoP proofs. The client
is set to require DPoP and PAR (tests/interop/test_fapi_clients.py has the back-end journeys)."""

from __future__ import annotations

import re

import pytest
import requests
from jwskate import Jwk
from oauth2_provider.models import Application
from playwright.sync_api import Page, Route
from pytest_django.live_server_helper import LiveServer
from requests_oauth2client import DPoPToken

from consent.models import Consent
from gateway.models import DpopBinding
from providers.models import Organisation
from tests.e2e.conftest import demo_login
from tests.interop.test_fapi_clients import QF, fapi_client, oauth2_client
from tests.interop.test_oauth_clients import verify_with_joserfc

pytestmark = [pytest.mark.e2e, pytest.mark.interop, pytest.mark.django_db(transaction=True)]


def test_authorization_code_with_private_key_jwt_par_pkce_and_dpop(
    page: Page, live_server: LiveServer, mairie: Organisation
) -> None:
    private_jwk = Jwk.generate(alg="ES256", kid="mairie-1")
    registered = fapi_client(mairie, private_jwk, grant=Application.GRANT_AUTHORIZATION_CODE)
    oauth = oauth2_client(live_server.url, registered.application.client_id, private_jwk)

    authorization = oauth.authorization_request(scope=f"attestations:{QF}", nonce=None)
    pushed = oauth.pushed_authorization_request(authorization)
    assert str(pushed.request_uri).startswith("urn:ietf:params:oauth:request_uri:")
    assert "code_challenge" not in str(pushed.uri)

    page.route(re.compile(r"^https://client\.example\.fr/"), lambda route: _fulfil(route))
    page.goto(str(pushed.uri))
    demo_login(page, index=0, level="eidas2")
    page.get_by_role("heading", level=1).wait_for()
    with page.expect_request(re.compile(r"^https://client\.example\.fr/callback")) as callback:
        page.get_by_role("button", name="J'accepte").click()

    response = authorization.validate_callback(callback.value.url)
    token = oauth.authorization_code(response, dpop=True)

    assert isinstance(token, DPoPToken)
    assert token.token_type == "DPoP"
    assert DpopBinding.objects.get().jkt == token.dpop_key.private_key.thumbprint()
    attestation = requests.get(f"{live_server.url}/api/v1/attestations/{QF}", auth=token, timeout=10)
    assert attestation.status_code == 200, attestation.text
    consent = Consent.objects.get(status=Consent.Status.ACTIVE)
    assert attestation.json()["attestation"]["consent"] == str(consent.pk)
    verify_with_joserfc(live_server.url, attestation.json())
    # The same token as a bearer gets nothing.
    bearer = requests.get(
        f"{live_server.url}/api/v1/attestations/{QF}",
        headers={"Authorization": f"Bearer {token.access_token}"},
        timeout=10,
    )
    assert bearer.status_code == 401


def _fulfil(route: Route) -> None:
    route.fulfill(status=200, content_type="text/plain", body="client callback")
