"""The error pages people see: in the gateway's layout (DSFR), in their language, saying in plain
words what is missing, with a way back; never Django's bare or technical pages."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.test import Client

from consent.models import Citizen
from providers.models import Organisation
from tests.agents import make_agent
from tests.gateway.conftest import login_citizen

pytestmark = pytest.mark.django_db


def agent_client(organisation: Organisation, language: str = "fr") -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_agent(organisation, "adele", roles=["administrator"]).user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


class TestForbidden:
    @pytest.mark.parametrize(
        ("language", "heading", "words"),
        [
            ("fr", "Accès refusé", "Cette page est réservée aux auditeurs de la passerelle"),
            ("en", "Access refused", "This page is for the gateway's auditors"),
        ],
    )
    def test_the_audit_console_tells_an_agent_it_is_the_auditors(
        self, cd_rhone: Organisation, language: str, heading: str, words: str
    ) -> None:
        response = agent_client(cd_rhone, language).get("/audit/console/")

        assert response.status_code == 403
        page = response.content.decode()
        assert "fr-header" in page and f"<h1>{heading}</h1>" in page
        assert words in page
        assert 'href="/"' in page
        assert "403 Forbidden" not in page

    def test_another_page_says_which_role_to_ask_for(self, cd_rhone: Organisation) -> None:
        client = Client()
        client.force_login(make_agent(cd_rhone, "colin").user)

        response = client.get("/agents/membres/")

        assert response.status_code == 403
        assert "demandez le rôle à un administrateur de votre organisation" in response.content.decode()

    def test_an_api_client_still_gets_a_problem(self, cd_rhone: Organisation) -> None:
        client = Client()
        client.force_login(make_agent(cd_rhone, "colin").user)

        response = client.get("/audit/console/", HTTP_ACCEPT="application/json")

        assert response.status_code == 403 and response.json()["code"] == "permission_denied"


class TestExpiredForm:
    @pytest.mark.parametrize("debug", [False, True])
    def test_a_form_sent_without_its_token_says_it_expired(
        self, cd_rhone: Organisation, settings: object, debug: bool
    ) -> None:
        settings.DEBUG = debug  # type: ignore[attr-defined]
        client = agent_client(cd_rhone)

        response = client.post("/agents/membres/", {"email": "hugo@cd-rhone.example.fr", "roles": ["administrator"]})

        assert response.status_code == 403
        page = response.content.decode()
        assert "fr-header" in page and "<h1>Le formulaire a expiré</h1>" in page
        assert "Rien n'a été enregistré" in page
        assert "CSRF" not in page and "Forbidden" not in page


class TestBadRequest:
    def test_a_bad_request_gets_the_gateway_s_page(self, client: Client) -> None:
        response = client.get("/", HTTP_HOST="ailleurs.invalid")

        assert response.status_code == 400
        page = response.content.decode()
        assert "fr-header" in page and "<h1>Requête incorrecte</h1>" in page


class TestNotFoundInDebug:
    """`make run` runs in DEBUG: a person's page that does not exist for them is the product's
    "not found", never Django's technical page (the URLconf, 600 px wide on a phone)."""

    @pytest.fixture(autouse=True)
    def debug(self, settings: object) -> None:
        settings.DEBUG = True  # type: ignore[attr-defined]

    def test_a_citizen_s_unknown_consent_is_the_product_s_page(self, client: Client, alice: Citizen) -> None:
        login_citizen(client, alice)

        for path in (f"/mes-consentements/{uuid.uuid4()}/", f"/consentements/demandes/{uuid.uuid4()}/"):
            response = client.get(path)

            assert response.status_code == 404, path
            page = response.content.decode()
            assert "fr-header" in page and "<h1>Page introuvable</h1>" in page, path
            assert "URLconf" not in page and "Django" not in page, path

    def test_an_auditor_s_unknown_case_is_the_product_s_page(self, supervisor: Organisation) -> None:
        client = Client()
        client.force_login(make_agent(supervisor, "axel", roles=["auditor"]).user)

        response = client.get(f"/audit/console/objections/{uuid.uuid4()}/")

        assert response.status_code == 404 and "URLconf" not in response.content.decode()

    def test_an_address_no_route_matches_keeps_the_developers_page(self, client: Client) -> None:
        response = client.get("/nulle-part/")

        assert response.status_code == 404 and "URLconf" in response.content.decode()
