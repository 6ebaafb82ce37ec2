"""Logins in a real Chromium through real OpenID providers (oidc-provider as FranceConnect,
FranceConnect+ and ProConnect, tests/oidc): the provider's own login and consent pages, then back
to the gateway. A citizen logs in, approves a request from the dashboard's world and logs out at
the provider; a citizen at eidas1 steps up to eidas2 for a type that needs it; an agent reaches the
audit console only once given the auditor role."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from audit.models import ActorKind, AuditEvent, EventType
from consent.models import Citizen, Consent
from providers.models import Agent, Organisation
from tests.conftest import ApiCaller
from tests.e2e.conftest import accessibility_problems
from tests.e2e.test_consent_journey import AVIS, QF, request_consent
from tests.oidc.fixtures import OidcServers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def provider_login(page: Page, oidc: OidcServers, provider: str, login: str) -> None:
    """At the provider: its own sign-in form (any password), then its consent screen."""
    page.wait_for_url(f"{oidc.issuers[provider]}/interaction/**")
    page.locator("input[name='login']").fill(login)
    page.locator("input[name='password']").fill("any-password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def gateway_errors(errors: list[str], live_server: LiveServer) -> list[str]:
    """Script errors on the gateway's pages (the providers' development pages are not ours)."""
    return [error for error in errors if error.startswith(live_server.url)]


class TestCitizen:
    def test_a_citizen_logs_in_with_franceconnect_approves_and_logs_out_at_the_provider(
        self,
        page: Page,
        live_server: LiveServer,
        oidc: OidcServers,
        mairie_caller: ApiCaller,
        script_errors: list[str],
    ) -> None:
        consent, approval = request_consent(live_server, mairie_caller, [QF])

        page.goto(approval)
        expect(page).to_have_url(re.compile(r"/connexion/\?next="))
        assert accessibility_problems(page) == []
        page.locator("button.fr-connect").click()
        provider_login(page, oidc, "franceconnect", "demo0")

        expect(page).to_have_url(approval)
        expect(page.get_by_role("heading", level=1)).to_have_text("Demande d'accès à vos données")
        page.get_by_role("button", name="J'accepte").click()
        expect(page).to_have_url(f"{live_server.url}/mes-consentements/{consent.pk}/")
        consent.refresh_from_db()
        assert (consent.status, consent.eidas_level) == (Consent.Status.ACTIVE, "eidas1")
        assert consent.citizen is not None and consent.citizen.issuer == oidc.issuers["franceconnect"]

        page.get_by_role("link", name="Mes consentements").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mes consentements")
        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url(f"{oidc.issuers['franceconnect']}/session/end**")
        page.get_by_role("button", name="Yes, sign me out").click()

        expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/deconnexion/fin/\?state="))
        expect(page.locator("main")).to_contain_text(
            "Vous êtes déconnecté(e) de la passerelle et de votre fournisseur d'identité."
        )
        assert accessibility_problems(page) == []
        page.goto(f"{live_server.url}/mes-consentements/")
        expect(page).to_have_url(re.compile(r"/connexion/\?next="))
        assert gateway_errors(script_errors, live_server) == []

    def test_a_citizen_at_eidas1_steps_up_to_eidas2_and_comes_back_to_the_same_request(
        self, page: Page, live_server: LiveServer, oidc: OidcServers, mairie_caller: ApiCaller
    ) -> None:
        consent, approval = request_consent(live_server, mairie_caller, [AVIS])
        page.goto(approval)
        page.locator("button.fr-connect").click()
        provider_login(page, oidc, "franceconnect", "demo0")

        expect(page).to_have_url(approval)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Niveau de connexion insuffisant")
        expect(page.get_by_role("button", name="J'accepte")).to_have_count(0)
        alert.get_by_role("link", name="Me reconnecter à un niveau supérieur").click()
        page.locator("button.fr-connect--plus").click()
        provider_login(page, oidc, "franceconnect_plus", "demo0")

        expect(page).to_have_url(approval)
        page.get_by_role("button", name="J'accepte").click()
        expect(page).to_have_url(f"{live_server.url}/mes-consentements/{consent.pk}/")
        consent.refresh_from_db()
        assert (consent.status, consent.eidas_level) == (Consent.Status.ACTIVE, "eidas2")
        assert not AuditEvent.objects.filter(type=EventType.CITIZEN_LOGIN_FAILED).exists()
        assert Citizen.objects.count() == 2  # FranceConnect and FranceConnect+ each name her (pairwise)


class TestAgent:
    def test_an_agent_reaches_the_audit_console_only_with_the_auditor_role(
        self, page: Page, live_server: LiveServer, oidc: OidcServers, supervisor: Organisation, script_errors: list[str]
    ) -> None:
        console = f"{live_server.url}/audit/console/"
        page.goto(f"{live_server.url}/audit/console/login/")
        expect(page).to_have_url(f"{live_server.url}/agents/connexion/?next=/audit/console/")
        assert accessibility_problems(page) == []
        page.get_by_role("button", name="S'identifier avec ProConnect").click()
        provider_login(page, oidc, "proconnect", "auditrice")

        # Logged in, tied to the gateway's operator, but no role yet: refused.
        expect(page).to_have_url(console)
        expect(page.get_by_role("heading", level=1)).not_to_have_text("Console d'audit")
        response = page.goto(console)
        assert response is not None and response.status == 403
        agent = Agent.objects.get()
        assert agent.organisation == supervisor
        script_errors.clear()  # the browser reports the refusals above as failed loads

        call_command("grant_role", "--organisation", supervisor.siret, "--email", agent.email, "--role", "auditor")
        page.goto(console)

        expect(page.get_by_role("heading", level=1)).to_have_text("Console d'audit")
        page.get_by_label("Type d'événement").select_option("role.granted")
        page.get_by_role("button", name="Rechercher").click()
        expect(page.locator("table tbody tr")).to_have_count(1)
        searched = AuditEvent.objects.get(type=EventType.AUDITOR_SEARCHED)
        assert (searched.actor_kind, searched.actor) == (ActorKind.AUDITOR, agent.actor_id)
        assert accessibility_problems(page) == []
        assert gateway_errors(script_errors, live_server) == []
