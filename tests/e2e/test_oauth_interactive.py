"""The interactive consent flow in a real Chromium: the consumer's authorize URL, the demo login,
the consent screen with its preview, the approval, and the redirect to the client with code, state
and iss; then the client's side over real HTTP: the code for a token (PKCE), the token for the
attestation, with no consent parameter."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from oauth2_provider.models import Application
from playwright.sync_api import Page, Route, expect
from pytest_django.live_server_helper import LiveServer

from consent.models import Consent
from gateway.services.clients import NewClient, client_create
from providers.models import Organisation
from tests.e2e.conftest import accessibility_problems, demo_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QF = "cnaf.quotient-familial"
# The client's callback: never loaded, the test intercepts the browser's request for it.
REDIRECT_URI = "https://client.example.fr/callback"


@pytest.fixture
def mairie_web(mairie: Organisation) -> NewClient:
    return client_create(
        organisation=mairie,
        name="Portail famille de la mairie",
        grant=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=[REDIRECT_URI],
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class TestInteractiveConsent:
    def test_a_citizen_consents_on_the_authorize_page_and_the_client_gets_the_attestation(
        self, page: Page, live_server: LiveServer, mairie_web: NewClient, script_errors: list[str]
    ) -> None:
        client_id = mairie_web.application.client_id
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        authorize = (
            live_server.url
            + "/oauth/authorize/?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": client_id,
                    "redirect_uri": REDIRECT_URI,
                    "scope": f"attestations:{QF}",
                    "state": state,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "duration_days": "60",
                }
            )
        )

        def client_callback(route: Route) -> None:
            route.fulfill(status=200, content_type="text/plain", body="client callback")

        page.route(re.compile(r"^https://client\.example\.fr/"), client_callback)

        # Not logged in: the gateway sends the citizen to its login, then back to the screen.
        page.goto(authorize)
        expect(page).to_have_url(re.compile(r"/connexion/\?next=%2Foauth%2Fauthorize%2F"))
        demo_login(page, index=0, level="eidas2")
        expect(page.get_by_role("heading", level=1)).to_have_text("Demande d'accès à vos données")
        expect(page.get_by_text("SIRET " + mairie_web.api_client.organisation.siret)).to_be_visible()
        expect(page.get_by_text("60 jours")).to_be_visible()
        assert accessibility_problems(page) == []

        page.get_by_role("button", name="Voir les données avant de décider").click()
        expect(page.get_by_role("heading", name="Aperçu de vos données")).to_be_visible()
        expect(page.locator(".gw-values").first).to_be_visible()
        assert accessibility_problems(page) == []
        assert not Consent.objects.exists()
        # The consent screen's scripts ran cleanly before the browser left for the client.
        assert script_errors == []

        with page.expect_request(re.compile(r"^https://client\.example\.fr/callback")) as callback:
            page.get_by_role("button", name="J'accepte").click()

        params = parse_qs(urlsplit(callback.value.url).query)
        assert params["state"] == [state]
        assert params["iss"] == [live_server.url]
        consent = Consent.objects.get()
        assert consent.status == Consent.Status.ACTIVE
        assert consent.duration_days == 60

        # The client's back end, over real HTTP.
        token_response = requests.post(
            live_server.url + "/oauth/token/",
            data={
                "grant_type": "authorization_code",
                "code": params["code"][0],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(client_id, mairie_web.client_secret),
            timeout=10,
        )
        assert token_response.status_code == 200, token_response.text
        token = token_response.json()["access_token"]
        attestation = requests.get(
            f"{live_server.url}/api/v1/attestations/{QF}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert attestation.status_code == 200, attestation.text
        assert attestation.json()["attestation"]["consent"] == str(consent.pk)
