"""The portal's webhook, operations and integration pages: an endpoint set (https only) with its
secret shown once, a new signing key, a delivery sent again; the organisation's own exchanges
with their refusals in words and nothing about the people; a guide written from its own
habilitations. Another organisation's delivery is a 404; an agent without any role gets a 403."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent, WebhookDelivery
from core.ratelimit import WINDOW_SECONDS, ratelimit_hit
from gateway.models import Exchange
from gateway.services.clients import client_create
from providers.models import Agent, AgentRole, AttestationType, Organisation
from providers.services.agents import agent_actor
from tests.agents import make_agent
from tests.gateway.conftest import habilitation_grant

Role = AgentRole.Role
QF = "cnaf.quotient-familial"


def client_for(agent: Agent) -> Client:
    client = Client()
    client.force_login(agent.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return client


@pytest.fixture
def adele(cd_rhone: Organisation) -> Agent:
    return make_agent(cd_rhone, "adele", roles=[Role.ADMINISTRATOR])


def delivery_for(organisation: Organisation, consent: Consent, status: str) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        organisation=organisation,
        event_type=WebhookDelivery.Event.APPROVED,
        consent=consent,
        payload={"type": "consent.approved"},
        status=status,
        attempts=8,
        last_error_code="http_status",
        last_status_code=500,
    )


class TestWebhooks:
    def test_an_https_endpoint_gets_a_secret_shown_once_and_a_new_key_on_request(
        self, adele: Agent, cd_rhone: Organisation, settings: Any
    ) -> None:
        settings.DEMO_MODE = False
        admin = client_for(adele)
        refused = admin.post(reverse("portal-webhook-endpoint"), {"endpoint-url": "http://recepteur.example.fr/hooks"})
        assert refused.status_code == 400 and list(refused.context["form"].errors) == ["url"]
        assert "commence par https://" in refused.content.decode()
        cd_rhone.refresh_from_db()
        assert (
            cd_rhone.webhook_url == "" and not AuditEvent.objects.filter(type=EventType.WEBHOOK_ENDPOINT_SET).exists()
        )

        page = admin.post(reverse("portal-webhook-endpoint"), {"endpoint-url": "https://recepteur.example.fr/hooks"})
        assert page.status_code == 200 and re.search(r'id="webhook-secret"[^>]*>whsec_', page.content.decode())
        assert "Le précédent" not in page.content.decode()  # a first secret replaces none
        cd_rhone.refresh_from_db()
        assert cd_rhone.webhook_url == "https://recepteur.example.fr/hooks" and cd_rhone.webhook_secret

        rotated = admin.post(reverse("portal-webhook-key"))
        assert re.search(r'id="webhook-secret"[^>]*>whsec_', rotated.content.decode())
        assert "Le précédent continue de signer" in rotated.content.decode()
        cd_rhone.refresh_from_db()
        assert cd_rhone.webhook_secret_previous
        assert AuditEvent.objects.filter(type=EventType.WEBHOOK_KEY_ROTATED, actor=adele.actor_id).count() == 1

    def test_a_failed_delivery_is_sent_again_but_not_another_organisations(
        self,
        adele: Agent,
        cd_rhone: Organisation,
        mairie: Organisation,
        alice: Citizen,
        make_consent: Callable[..., Consent],
    ) -> None:
        habilitation_grant(cd_rhone, QF)
        consent = make_consent(alice, cd_rhone)
        ours = delivery_for(cd_rhone, consent, WebhookDelivery.Status.FAILED)
        theirs = delivery_for(mairie, consent, WebhookDelivery.Status.FAILED)
        admin = client_for(adele)
        page = admin.get(reverse("portal-webhooks")).content.decode()
        assert "Consentement donné" in page and "consent.approved" not in page

        assert admin.post(reverse("portal-webhook-redeliver", args=[ours.pk])).status_code == 302
        assert admin.post(reverse("portal-webhook-redeliver", args=[theirs.pk])).status_code == 404
        ours.refresh_from_db()
        theirs.refresh_from_db()
        assert (ours.status, ours.attempts) != (WebhookDelivery.Status.FAILED, 8)
        assert (theirs.status, theirs.attempts) == (WebhookDelivery.Status.FAILED, 8)
        assert AuditEvent.objects.filter(type=EventType.WEBHOOK_REDELIVERED).count() == 1

    def test_a_failed_delivery_says_why_in_plain_words(
        self, adele: Agent, cd_rhone: Organisation, alice: Citizen, make_consent: Callable[..., Consent]
    ) -> None:
        habilitation_grant(cd_rhone, QF)
        delivery = delivery_for(cd_rhone, make_consent(alice, cd_rhone), WebhookDelivery.Status.FAILED)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(last_error_code="connection_failed")

        page = client_for(adele).get(reverse("portal-webhooks")).content.decode()

        assert "pas pu être joint." in page and "connection_failed" not in page


class TestOperations:
    def test_the_organisation_sees_its_own_exchanges_and_why_they_were_refused(
        self, adele: Agent, cd_rhone: Organisation, mairie: Organisation, cnaf: Organisation
    ) -> None:
        qf = AttestationType.objects.get(slug=QF)
        for consumer, status, code in (
            (cd_rhone, "succeeded", ""),
            (cd_rhone, "denied", "consent_revoked"),
            (cd_rhone, "failed", "provider_timeout"),
            (mairie, "denied", "loa_insufficient"),
        ):
            Exchange.objects.create(
                consumer=consumer, provider=cnaf, attestation_type=qf, client_id="x", status=status, error_code=code
            )
        manager = client_for(make_agent(cd_rhone, "axel", roles=[Role.HABILITATION_MANAGER]))
        page = manager.get(reverse("portal-operations")).content.decode()
        assert "Le consentement a été retiré" in page and "Le fournisseur n&#x27;a pas répondu à temps" in page
        assert "niveau de connexion" not in page  # the city hall's refusal
        assert "consent_revoked" not in page

        denied = manager.get(reverse("portal-operations"), {"status": "denied"})
        assert [row["exchange"].status for row in denied.context["rows"]] == ["denied"]
        backwards = manager.get(reverse("portal-operations"), {"since": "2026-02-01", "until": "2026-01-01"})
        assert backwards.status_code == 400

    def test_each_clients_use_of_its_rate_limit_this_minute(self, adele: Agent, cd_rhone: Organisation) -> None:
        created = client_create(organisation=cd_rhone, name="Démarches", actor=agent_actor(adele))
        # The count is per minute: a minute that turns between the requests and the page starts over.
        for _minute in range(2):
            window = int(time.time() // WINDOW_SECONDS)
            for _request in range(3):
                ratelimit_hit(client_id=created.application.client_id, limit=600)
            response = client_for(adele).get(reverse("portal-operations"))
            if int(time.time() // WINDOW_SECONDS) == window:
                break
        usage = [(row["client"].pk, row["used"]) for row in response.context["usage"]]
        assert usage == [(created.api_client.pk, 3)]
        assert "Démarches : 3 cette minute" in response.content.decode()

    def test_the_integration_guide_is_written_from_the_habilitations_in_force(
        self, adele: Agent, cd_rhone: Organisation
    ) -> None:
        created = client_create(organisation=cd_rhone, name="Démarches", actor=agent_actor(adele))
        assert "aucune habilitation en vigueur" in client_for(adele).get(reverse("portal-integration")).content.decode()
        habilitation_grant(cd_rhone, QF)
        page = client_for(adele).get(reverse("portal-integration")).content.decode()
        assert f"attestations:{QF}" in page and created.application.client_id in page
        assert f"/api/v1/attestations/{QF}" in page and "import requests" in page
        assert created.client_secret not in page

    def test_the_guide_numbers_its_steps_and_speaks_the_page_s_language(
        self, adele: Agent, cd_rhone: Organisation
    ) -> None:
        client_create(organisation=cd_rhone, name="Démarches", actor=agent_actor(adele))
        habilitation_grant(cd_rhone, QF)
        habilitation_grant(cd_rhone, "dgfip.avis-imposition")

        page = client_for(adele).get(reverse("portal-integration")).content.decode()

        headings = [re.sub(r"\s+", " ", h).strip() for h in re.findall(r"<h2>(.*?)</h2>", page, re.DOTALL)]
        assert [h.split(".")[0] for h in headings] == ["1", "2", "3"], headings
        assert "where the person approves" not in page and "où la personne donne son accord" in page


class TestIsolation:
    def test_an_agent_without_any_role_is_refused_everywhere(self, adele: Agent, cd_rhone: Organisation) -> None:
        nobody = client_for(make_agent(cd_rhone, "colin"))
        for name in ("portal-operations", "portal-integration", "portal-webhooks", "portal-habilitations"):
            assert nobody.get(reverse(name)).status_code == 403, name
        assert nobody.post(reverse("portal-webhook-key")).status_code == 403

    @pytest.mark.parametrize("role", [Role.HABILITATION_MANAGER])
    def test_only_administrators_manage_webhooks(self, cd_rhone: Organisation, role: str) -> None:
        colleague = client_for(make_agent(cd_rhone, "colin", roles=[role]))
        assert colleague.get(reverse("portal-webhooks")).status_code == 403
        assert (
            colleague.post(reverse("portal-webhook-endpoint"), {"endpoint-url": "https://x.example.fr/"}).status_code
            == 403
        )
        cd_rhone.refresh_from_db()
        assert cd_rhone.webhook_url == ""
