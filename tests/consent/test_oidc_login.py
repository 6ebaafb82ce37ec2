"""The citizen's login through real OpenID providers (oidc-provider as FranceConnect and
FranceConnect+, tests/oidc): the authorization code flow with PKCE, state and nonce, the checks on
the ID token and the signed userinfo, the eIDAS level, and every way it can fail: a clear page,
nothing created, and `citizen.login_failed` in the trail with the reason."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent, EventType
from consent.auth import SESSION_LEVEL, SESSION_SEEN
from consent.models import Citizen, Consent
from providers.demodata.population import Population, demo_citizens
from tests.consent.conftest import AVIS
from tests.oidc.fixtures import OidcServers, callback_path
from tests.processes import free_port

pytestmark = pytest.mark.django_db

DASHBOARD = "/mes-consentements/"


@pytest.fixture
def browser(catalogue: None) -> Client:
    # The providers know the gateway as http://localhost (tests/oidc/fixtures.py).
    return Client(SERVER_NAME="localhost")


def start(browser: Client, *, next_path: str = DASHBOARD, level: str = "") -> str:
    """Clicks the FranceConnect button of the login page; returns where the gateway sends us."""
    response = browser.post("/connexion/franceconnect/", {"next": next_path, "level": level})
    assert response.status_code == 302, response.content[:300]
    return str(response["Location"])


def login(browser: Client, oidc: OidcServers, person: str = "demo0", **kwargs: Any) -> Any:
    return browser.get(callback_path(oidc.authorize(start(browser, **kwargs), person)))


def failures() -> list[dict[str, Any]]:
    return [event.detail for event in AuditEvent.objects.filter(type=EventType.CITIZEN_LOGIN_FAILED).order_by("id")]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def assert_refused(response: Any, reason: str, *, status: int = 400, provider: str = "franceconnect") -> None:
    assert response.status_code == status, response.content[:500]
    page = html.unescape(response.content.decode())
    assert "La connexion n'a pas abouti" in page
    assert reason not in page  # the code is for the trail, not for people
    assert failures() == [{"reason": reason, "provider": provider}]
    assert not Citizen.objects.exists()


class TestLogin:
    def test_a_citizen_logs_in_with_franceconnect_and_lands_where_they_were_going(
        self, browser: Client, oidc: OidcServers, population: Population
    ) -> None:
        authorization = start(browser)
        query = parse_qs(urlsplit(authorization).query)
        assert authorization.startswith(oidc.issuers["franceconnect"] + "/auth?")
        assert query["scope"] == ["openid identite_pivot email"]
        assert query["acr_values"] == ["eidas1"]
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        assert query["state"][0] and query["nonce"][0]

        response = browser.get(callback_path(oidc.authorize(authorization, "demo0")))

        assert response.status_code == 302 and response["Location"] == DASHBOARD
        citizen = Citizen.objects.get()
        person = demo_citizens(population)[0]
        assert (citizen.issuer, citizen.nom_naissance, citizen.prenoms, citizen.date_naissance, citizen.sexe) == (
            oidc.issuers["franceconnect"],
            person.nom_naissance,
            " ".join(person.prenoms),
            person.date_naissance,
            person.sexe,
        )
        assert citizen.code_cog_lieu_naissance == person.code_cog_lieu_naissance
        assert citizen.email == "demo0@exemple.fr"
        # Pairwise: a subject of its own for this gateway, not the provider's account name.
        assert re.fullmatch(r"[0-9a-f]{64}", citizen.subject)
        assert browser.session[SESSION_LEVEL] == "eidas1"
        assert browser.get(DASHBOARD).status_code == 200
        assert failures() == []

    def test_the_same_person_is_the_same_citizen_at_the_next_login(self, browser: Client, oidc: OidcServers) -> None:
        login(browser, oidc)
        first = Citizen.objects.get()

        login(Client(SERVER_NAME="localhost"), oidc)

        assert Citizen.objects.get().pk == first.pk

    def test_the_login_page_offers_franceconnect_and_franceconnect_plus_for_a_higher_level(
        self, browser: Client, oidc: OidcServers
    ) -> None:
        plain = browser.get("/connexion/?next=/mes-consentements/").content.decode()
        plus = browser.get("/connexion/?next=/mes-consentements/&level=eidas2").content.decode()

        assert 'class="fr-connect"' in plain and "fr-connect--plus" not in plain
        assert "fr-connect--plus" in plus
        assert start(browser, level="eidas2").startswith(oidc.issuers["franceconnect_plus"] + "/auth?")

    def test_a_key_rotated_at_the_provider_is_fetched_and_trusted(self, browser: Client, oidc: OidcServers) -> None:
        login(browser, oidc)  # the provider's keys as they were
        oidc.fault("franceconnect", "rotated_key")

        response = login(Client(SERVER_NAME="localhost"), oidc)

        assert response.status_code == 302 and response["Location"] == DASHBOARD
        assert failures() == []


class TestRefusals:
    def test_an_answer_with_another_state_is_refused(self, browser: Client, oidc: OidcServers) -> None:
        callback = oidc.authorize(start(browser), "demo0")

        response = browser.get(callback_path(with_query(callback, state="forged-state")))

        assert_refused(response, "state_mismatch")

    def test_an_answer_for_another_browser_is_refused(self, browser: Client, oidc: OidcServers) -> None:
        callback = oidc.authorize(start(browser), "demo0")

        response = Client(SERVER_NAME="localhost").get(callback_path(callback))

        assert_refused(response, "state_mismatch")

    def test_a_replayed_code_is_refused(self, browser: Client, oidc: OidcServers) -> None:
        first = oidc.authorize(start(browser), "demo0")
        assert browser.get(callback_path(first)).status_code == 302
        citizens = list(Citizen.objects.values_list("pk", "session_until"))
        old_code = parse_qs(urlsplit(first).query)["code"][0]

        # A new login's state, with the code already used.
        fresh = oidc.authorize(start(browser), "demo0")
        response = browser.get(callback_path(with_query(fresh, code=old_code)))

        assert response.status_code == 400
        assert failures() == [{"reason": "code_rejected", "provider": "franceconnect"}]
        assert list(Citizen.objects.values_list("pk", "session_until")) == citizens

    @pytest.mark.parametrize(
        ("fault", "reason"),
        [
            ("bad_signature", "bad_signature"),
            ("unknown_kid", "unknown_key"),
            ("wrong_aud", "wrong_audience"),
            ("expired", "expired"),
            ("bad_nonce", "nonce_mismatch"),
        ],
    )
    def test_a_flawed_id_token_is_refused(self, browser: Client, oidc: OidcServers, fault: str, reason: str) -> None:
        oidc.fault("franceconnect", fault)

        assert_refused(login(browser, oidc), reason)
        assert SESSION_LEVEL not in browser.session

    def test_a_userinfo_signed_with_another_key_is_refused(self, browser: Client, oidc: OidcServers) -> None:
        oidc.fault("franceconnect", "userinfo_bad_signature")

        assert_refused(login(browser, oidc), "bad_signature")

    def test_a_level_lower_than_asked_is_refused(self, browser: Client, oidc: OidcServers) -> None:
        # demo3 has no means of identification above eidas1: FranceConnect+ says so in `acr`.
        response = login(browser, oidc, "demo3", level="eidas2")

        assert_refused(response, "acr_too_low", status=403, provider="franceconnect_plus")

    def test_a_cancelled_login_is_recorded_and_explained(self, browser: Client, oidc: OidcServers) -> None:
        state = parse_qs(urlsplit(start(browser)).query)["state"][0]

        response = browser.get("/connexion/franceconnect/retour/", {"error": "access_denied", "state": state})

        assert_refused(response, "cancelled")
        assert "Vous avez annulé la connexion" in html.unescape(response.content.decode())

    def test_an_answer_naming_another_issuer_is_refused(self, browser: Client, oidc: OidcServers) -> None:
        callback = oidc.authorize(start(browser), "demo0")

        response = browser.get(callback_path(with_query(callback, iss="https://evil.example")))

        assert_refused(response, "wrong_issuer")

    def test_a_provider_that_is_down_gets_a_clear_page(self, browser: Client, oidc: OidcServers, settings: Any) -> None:
        settings.OIDC_PROVIDERS = {
            **settings.OIDC_PROVIDERS,
            "franceconnect": {**settings.OIDC_PROVIDERS["franceconnect"], "issuer": f"http://127.0.0.1:{free_port()}"},
        }

        response = browser.post("/connexion/franceconnect/", {"next": DASHBOARD})

        assert_refused(response, "provider_unreachable", status=502)

    def test_a_slow_provider_is_cut_off_by_the_outbound_timeout(
        self, browser: Client, oidc: OidcServers, settings: Any
    ) -> None:
        settings.OIDC_TIMEOUT_SECONDS = 0.5
        callback = oidc.authorize(start(browser), "demo0")
        oidc.fault("franceconnect", delay_ms=3000)

        response = browser.get(callback_path(callback))

        assert_refused(response, "provider_timeout", status=504)

    def test_the_refusal_speaks_english_when_asked(self, browser: Client, oidc: OidcServers) -> None:
        oidc.fault("franceconnect", "bad_signature")
        callback = oidc.authorize(start(browser), "demo0")

        response = browser.get(callback_path(callback), HTTP_ACCEPT_LANGUAGE="en")

        assert "The login did not succeed" in response.content.decode()
        assert "could not be verified" in response.content.decode()


class TestStepUp:
    def test_a_citizen_at_eidas1_steps_up_to_eidas2_and_comes_back_to_approve(
        self, browser: Client, oidc: OidcServers, make_request: Callable[..., Consent]
    ) -> None:
        consent = make_request(attestation_types=[AVIS])
        approval = f"/consentements/demandes/{consent.pk}/"
        assert login(browser, oidc, next_path=approval)["Location"] == approval

        page = html.unescape(browser.get(approval).content.decode())
        assert "Niveau de connexion insuffisant" in page
        relogin = re.search(r'href="(/connexion/\?[^"]+)"', page)
        assert relogin and parse_qs(urlsplit(relogin.group(1)).query) == {"next": [approval], "level": ["eidas2"]}
        assert "fr-connect--plus" in browser.get(relogin.group(1)).content.decode()

        authorization = start(browser, next_path=approval, level="eidas2")
        assert authorization.startswith(oidc.issuers["franceconnect_plus"] + "/auth?")
        assert parse_qs(urlsplit(authorization).query)["acr_values"] == ["eidas2"]
        response = browser.get(callback_path(oidc.authorize(authorization, "demo0")))

        assert response["Location"] == approval
        assert browser.session[SESSION_LEVEL] == "eidas2"
        assert browser.post(approval + "accepter/").status_code == 302
        consent.refresh_from_db()
        assert (consent.status, consent.eidas_level) == (Consent.Status.ACTIVE, "eidas2")
        assert consent.citizen is not None and consent.citizen.issuer == oidc.issuers["franceconnect_plus"]
        assert failures() == []


class TestLogout:
    def test_logging_out_ends_the_session_here_and_at_the_provider(self, browser: Client, oidc: OidcServers) -> None:
        provider_browser = requests.Session()
        authorization = start(browser)
        browser.get(callback_path(oidc.authorize(authorization, "demo0", session=provider_browser)))
        citizen = Citizen.objects.get()

        response = browser.post("/deconnexion/")

        end_session = urlsplit(response["Location"])
        query = parse_qs(end_session.query)
        assert response["Location"].startswith(oidc.issuers["franceconnect"] + "/session/end?")
        assert query["post_logout_redirect_uri"] == ["http://localhost/deconnexion/fin/"]
        assert query["id_token_hint"][0].count(".") == 2 and query["state"][0]
        back = oidc.follow(response["Location"], session=provider_browser)
        assert parse_qs(urlsplit(back).query)["state"] == query["state"]
        page = html.unescape(browser.get(callback_path(back)).content.decode())
        assert "Vous êtes déconnecté(e) de la passerelle et de votre fournisseur d'identité." in page
        assert browser.get(DASHBOARD)["Location"].startswith("/connexion/")
        citizen.refresh_from_db()
        assert citizen.session_until is not None and citizen.session_until <= timezone.now()
        # The provider forgot the session too: it asks who is there again.
        interaction = provider_browser.get(start(browser), timeout=10)
        assert 'name="login"' in interaction.text

    def test_a_demo_login_logs_out_here_only(self, browser: Client) -> None:
        browser.post("/connexion/demo/", {"citizen": 0, "eidas_level": "eidas2", "next": ""})

        response = browser.post("/deconnexion/")

        assert response["Location"] == "/deconnexion/fin/"
        assert browser.get(DASHBOARD).status_code == 302


class TestIdleTimeout:
    def test_a_session_left_idle_too_long_is_over(self, browser: Client, oidc: OidcServers, settings: Any) -> None:
        login(browser, oidc)
        assert browser.get(DASHBOARD).status_code == 200

        session = browser.session
        session[SESSION_SEEN] = int(time.time()) - settings.CITIZEN_SESSION_IDLE_SECONDS - 1
        session.save()

        assert browser.get(DASHBOARD)["Location"].startswith("/connexion/")
        assert SESSION_LEVEL not in browser.session
