"""A new consumer administration becomes operational with nothing but the pages, in Chromium,
through the real ProConnect and FranceConnect look-alikes (tests/oidc): its administrator logs in
and invites a habilitation manager, who asks for a habilitation; the provider's agent asks for
changes; the manager answers; the provider approves; the administrator creates an OAuth client
and the README's walk-through runs with it over HTTP (token, consent request, the citizen's
approval, the signed attestation, the consumer ending the consent)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from consent.models import Consent
from providers.models import Agent, AgentRole, Habilitation, Organisation
from tests.e2e.conftest import accessibility_problems
from tests.e2e.test_identity import gateway_errors, provider_login
from tests.oidc.fixtures import NEW_CONSUMER_SIRET, OidcServers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QF = "cnaf.quotient-familial"
MANAGER_EMAIL = "gestionnaire-nouvelle@administration.example.fr"


def agent_login(browser: Browser, live_server: LiveServer, oidc: OidcServers, login: str) -> Page:
    """A browser of its own for `login`, logged in at ProConnect and back in their agent space."""
    page = browser.new_context(locale="fr-FR").new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/agents/")
    page.get_by_role("button", name="S'identifier avec ProConnect").click()
    provider_login(page, oidc, "proconnect", login)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon espace agent")
    return page


def accessible(page: Page) -> None:
    assert accessibility_problems(page) == [], page.url


class TestNewConsumer:
    def test_from_first_login_to_a_signed_attestation(
        self,
        browser: Browser,
        page: Page,
        live_server: LiveServer,
        oidc: OidcServers,
        cnaf: Organisation,
        script_errors: list[str],
    ) -> None:
        # The operator registers the organisation (its SIRET is what ties agents to it).
        commune = Organisation.objects.create(
            siret=NEW_CONSUMER_SIRET,
            code="saint-exemple",
            name="Commune de Saint-Exemple",
            kind=Organisation.Kind.LOCAL_AUTHORITY,
            dpo_email="dpo@saint-exemple.example.fr",
        )
        admin = agent_login(browser, live_server, oidc, "admin-nouvelle")
        call_command(
            "grant_role",
            "--organisation",
            commune.siret,
            "--email",
            "admin-nouvelle@administration.example.fr",
            "--role",
            "administrator",
        )

        # The administrator invites a habilitation manager.
        admin.reload()
        admin.get_by_role("link", name="Membres").click()
        accessible(admin)
        admin.get_by_label("Adresse électronique professionnelle").fill(MANAGER_EMAIL)
        admin.locator("input[name='roles'][value='habilitation_manager'] + label").click()
        admin.get_by_role("button", name="Envoyer l'invitation").click()
        expect(admin.locator("main")).to_contain_text("L'invitation est envoyée.")

        # The manager logs in with that address: the role is theirs; they ask for a habilitation.
        manager = agent_login(browser, live_server, oidc, "gestionnaire-nouvelle")
        manager.get_by_role("link", name="Habilitations").click()
        manager.get_by_role("link", name="Quotient familial CAF / MSA").click()
        accessible(manager)
        manager.locator("label[for='id_data_fields_0']").click()
        manager.locator("input[name='purpose_code'] + label").first.click()
        manager.get_by_label("La démarche, en termes simples").fill("Tarifs de la cantine scolaire")
        manager.get_by_label("Durée de conservation (jours)").fill("90")
        manager.get_by_label("Nom du délégué à la protection des données").fill("Claire Petit")
        manager.get_by_label("Volume attendu (échanges par mois)").fill("300")
        manager.get_by_role("button", name="Déposer la demande").click()
        expect(manager.locator("main")).to_contain_text("Soumise")
        habilitation = Habilitation.objects.get(consumer=commune)

        # The provider's agent asks for changes.
        provider = agent_login(browser, live_server, oidc, "inspectrice")
        inspectrice = Agent.objects.get(email="inspectrice@administration.example.fr")
        call_command(
            "grant_role", "--organisation", cnaf.siret, "--email", inspectrice.email, "--role", "habilitation_manager"
        )
        provider.goto(f"{live_server.url}/agents/habilitations/")
        provider.get_by_role("link", name="Commune de Saint-Exemple").click()
        accessible(provider)
        provider.locator("input[name='decision'][value='changes'] + label").click()
        provider.get_by_label("Motif (si des modifications sont demandées ou la demande refusée)").fill(
            "Réduisez la durée de conservation à 60 jours."
        )
        provider.get_by_role("button", name="Enregistrer la décision").click()
        expect(provider.locator("main")).to_contain_text("Modifications demandées")

        # The manager answers; the provider approves.
        manager.reload()
        manager.get_by_role("link", name="Répondre aux modifications demandées").click()
        expect(manager.locator("main")).to_contain_text("Réduisez la durée de conservation à 60 jours.")
        manager.get_by_label("Durée de conservation (jours)").fill("60")
        manager.get_by_role("button", name="Envoyer ma réponse").click()
        expect(manager.locator("main")).to_contain_text("Soumise")
        provider.reload()
        provider.locator("input[name='decision'][value='approve'] + label").click()
        until = timezone.localdate() + dt.timedelta(days=365)
        provider.get_by_label("Valide jusqu'au (en cas de validation)").fill(until.isoformat())
        provider.get_by_role("button", name="Enregistrer la décision").click()
        expect(provider.locator("main")).to_contain_text("Validée")
        habilitation.refresh_from_db()
        assert (habilitation.status, habilitation.retention_days) == (Habilitation.Status.APPROVED, 60)

        # The administrator creates a client and copies its secret.
        admin.goto(f"{live_server.url}/agents/")
        admin.get_by_role("link", name="Clients OAuth").click()
        admin.get_by_role("link", name="Créer un client").click()
        accessible(admin)
        admin.get_by_label("Nom du client").fill("Démarches de la commune")
        admin.get_by_role("button", name="Créer le client").click()
        client_id, secret = admin.locator("#client-id").inner_text(), admin.locator("#client-secret").inner_text()
        accessible(admin)

        # The README's walk-through, with that client, over HTTP.
        token = requests.post(
            f"{live_server.url}/oauth/token/",
            data={"grant_type": "client_credentials", "scope": f"consents:read consents:write attestations:{QF}"},
            auth=(client_id, secret),
            timeout=10,
        )
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        asked = requests.post(
            f"{live_server.url}/api/v1/consent-requests",
            json={
                "attestation_types": [QF],
                "purpose": {"code": "tarification-sociale", "text": "Cantine"},
                "duration_days": 30,
            },
            headers=bearer,
            timeout=10,
        )
        assert asked.status_code == 201, asked.text
        consent_id = asked.json()["id"]
        page.goto(live_server.url + urlsplit(asked.json()["approval_url"]).path)
        page.locator("button.fr-connect").click()
        provider_login(page, oidc, "franceconnect", "demo0")
        page.get_by_role("button", name="J'accepte").click()
        expect(page).to_have_url(re.compile(rf"/mes-consentements/{consent_id}/$"))

        attestation = requests.get(
            f"{live_server.url}/api/v1/attestations/{QF}", params={"consent": consent_id}, headers=bearer, timeout=10
        )
        assert attestation.status_code == 200, attestation.text
        assert attestation.json()["attestation"]["type"] == QF and attestation.json()["jws"].count(".") == 2
        ended = requests.delete(f"{live_server.url}/api/v1/consents/{consent_id}", headers=bearer, timeout=10)
        assert ended.status_code in (200, 204), ended.text
        refused = requests.get(
            f"{live_server.url}/api/v1/attestations/{QF}", params={"consent": consent_id}, headers=bearer, timeout=10
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "consent_revoked")
        assert Consent.objects.get(pk=consent_id).consumer == commune
        assert AgentRole.objects.filter(agent__email=MANAGER_EMAIL, role="habilitation_manager").exists()
        for other in (admin, manager, provider):
            other.context.close()
        assert gateway_errors(script_errors, live_server) == []
