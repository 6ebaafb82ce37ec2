"""The habilitation pages of the portal, through Django's full stack: the consumer asks, the provider
decides, every bad answer is refused next to its field and changes nothing, and an agent sees
only their own organisation's requests (404) and does only what their role allows (403)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent, EventType
from providers.models import Agent, AgentRole, Habilitation, Organisation
from tests.agents import make_agent

QF = "cnaf.quotient-familial"
Role = AgentRole.Role
Status = Habilitation.Status

ANSWERS: dict[str, Any] = {
    "data_fields": ["quotient_familial", "annee"],
    "purpose_code": "tarification-sociale",
    "purpose_text": "Tarifs de la cantine scolaire",
    "legal_basis": "CRPA art. L. 114-8",
    "legal_basis_reference": "LEGIARTI000031366350",
    "retention_days": "90",
    "dpo_name": "Camille Dupont",
    "dpo_email": "dpo@cd-rhone.sandbox.invalid",
    "expected_volume": "2000",
    "return_url_origins": "https://demarches.cd-rhone.example.fr",
}


def client_for(agent: Agent, language: str = "fr") -> Client:
    client = Client()
    client.force_login(agent.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.fixture
def claire(cd_rhone: Organisation) -> Agent:
    """A habilitation manager of the consumer."""
    return make_agent(cd_rhone, "claire", roles=[Role.HABILITATION_MANAGER])


@pytest.fixture
def remi(cnaf: Organisation) -> Agent:
    """A habilitation manager of the provider holding the quotient familial."""
    return make_agent(cnaf, "remi", roles=[Role.HABILITATION_MANAGER])


def new_url() -> str:
    return reverse("portal-habilitation-new", args=[QF])


def submitted(claire: Agent) -> Habilitation:
    response = client_for(claire).post(new_url(), {**ANSWERS, "action": "submit"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Habilitation.objects.get(consumer=claire.organisation)


class TestTheReviewThroughThePages:
    def test_draft_submit_changes_resubmit_approve(self, claire: Agent, remi: Agent) -> None:
        consumer, provider = client_for(claire), client_for(remi, "en")
        page = consumer.get(new_url())
        assert page.status_code == 200
        assert 'value="quotient_familial"' in page.content.decode()

        response = consumer.post(new_url(), {"data_fields": ["annee"], "action": "draft"})
        draft = Habilitation.objects.get(consumer=claire.organisation)
        assert response["Location"] == reverse("portal-habilitation", args=[draft.pk])
        assert (draft.status, draft.fields) == (Status.DRAFT, ["annee"])
        # Drafts stay the consumer's: the provider does not see them.
        assert provider.get(reverse("portal-habilitation", args=[draft.pk])).status_code == 404

        edit = reverse("portal-habilitation-edit", args=[draft.pk])
        refused = consumer.post(edit, {"data_fields": ["annee"], "action": "submit"})
        assert refused.status_code == 400
        assert "Ce champ est obligatoire." in refused.content.decode()
        draft.refresh_from_db()
        assert draft.status == Status.DRAFT

        assert consumer.post(edit, {**ANSWERS, "action": "submit"}).status_code == 302
        draft.refresh_from_db()
        assert draft.status == Status.SUBMITTED

        review = reverse("portal-habilitation-review", args=[draft.pk])
        no_reason = provider.post(review, {"decision": "changes", "reason": " "})
        assert no_reason.status_code == 400 and "Give the reason" in no_reason.content.decode()
        assert provider.post(review, {"decision": "changes", "reason": "Précisez la durée."}).status_code == 302
        draft.refresh_from_db()
        assert (draft.status, draft.status_reason) == (Status.CHANGES_REQUESTED, "Précisez la durée.")
        assert "Précisez la durée." in consumer.get(edit).content.decode()

        assert consumer.post(edit, {**ANSWERS, "retention_days": "60"}).status_code == 302
        past = provider.post(review, {"decision": "approve", "valid_until": "2020-01-01"})
        assert past.status_code == 400 and "This date is in the past." in past.content.decode()
        until = timezone.localdate() + dt.timedelta(days=365)
        assert provider.post(review, {"decision": "approve", "valid_until": until.isoformat()}).status_code == 302

        draft.refresh_from_db()
        assert (draft.status, draft.retention_days, draft.valid_until) == (Status.APPROVED, 60, until)
        history = consumer.get(reverse("portal-habilitation", args=[draft.pk])).content.decode()
        assert "Précisez la durée." in history and "Remi Agent" in history
        events = AuditEvent.objects.filter(detail__habilitation_id=str(draft.pk)).values_list("type", flat=True)
        assert list(events) == [
            EventType.HABILITATION_DRAFTED,
            EventType.HABILITATION_DRAFTED,
            EventType.HABILITATION_SUBMITTED,
            EventType.HABILITATION_CHANGES_REQUESTED,
            EventType.HABILITATION_SUBMITTED,
            EventType.HABILITATION_APPROVED,
        ]

    def test_the_consumer_asks_for_an_extension_and_the_provider_grants_it(self, claire: Agent, remi: Agent) -> None:
        habilitation = submitted(claire)
        until = timezone.localdate() + dt.timedelta(days=30)
        review = reverse("portal-habilitation-review", args=[habilitation.pk])
        client_for(remi).post(review, {"decision": "approve", "valid_until": until.isoformat()})
        later = until + dt.timedelta(days=365)

        extension = reverse("portal-habilitation-extension", args=[habilitation.pk])
        too_early = client_for(claire).post(
            extension, {"extension-until": until.isoformat(), "extension-reason": "Suite du marché"}
        )
        assert too_early.status_code == 400
        assert (
            client_for(claire)
            .post(extension, {"extension-until": later.isoformat(), "extension-reason": "Suite"})
            .status_code
            == 302
        )
        decision = reverse("portal-habilitation-extension-decision", args=[habilitation.pk])
        assert client_for(remi).post(decision, {"extension_decision-decision": "grant"}).status_code == 302

        habilitation.refresh_from_db()
        assert (habilitation.valid_until, habilitation.extension_until) == (later, None)


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"data_fields": ["quotient_familial", "numero_fiscal"]}, "data_fields"),
            ({"purpose_code": "prospection"}, "purpose_code"),
            ({"retention_days": "0"}, "retention_days"),
            ({"dpo_email": "pas-une-adresse"}, "dpo_email"),
            ({"expected_volume": "beaucoup"}, "expected_volume"),
            ({"return_url_origins": "http://demarches.example.fr"}, "return_url_origins"),
            ({"return_url_origins": "https://demarches.example.fr/retour"}, "return_url_origins"),
        ],
    )
    def test_it_refuses_the_answer_next_to_its_field_and_changes_nothing(
        self, claire: Agent, change: dict[str, Any], field: str, settings: Any
    ) -> None:
        settings.DEMO_MODE = False
        response = client_for(claire).post(new_url(), {**ANSWERS, **change, "action": "submit"})
        assert response.status_code == 400
        form = response.context["form"]
        assert list(form.errors) == [field]
        assert not Habilitation.objects.filter(consumer=claire.organisation).exists()
        assert not AuditEvent.objects.filter(
            type__startswith="habilitation.", consumer=claire.organisation.siret
        ).exists()

    def test_a_second_request_under_review_is_refused_with_a_sentence(self, claire: Agent) -> None:
        submitted(claire)
        response = client_for(claire).post(new_url(), {**ANSWERS, "action": "submit"})
        assert response.status_code == 400
        assert Habilitation.objects.filter(consumer=claire.organisation).count() == 1
        assert response.context["form"].non_field_errors() == [
            "Une demande de votre organisation pour cette attestation est déjà en cours d'instruction."
        ]


class TestIsolation:
    def test_anyone_but_an_agent_goes_to_the_agents_login(self, db: None) -> None:
        response = Client().get(reverse("portal-habilitations"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("agent-login"))

    def test_another_organisations_agent_finds_nothing(
        self, claire: Agent, mairie: Organisation, dgfip: Organisation
    ) -> None:
        habilitation = submitted(claire)
        for organisation in (mairie, dgfip):
            stranger = client_for(make_agent(organisation, f"mallory-{organisation.code}", roles=[Role.ADMINISTRATOR]))
            for name in ("portal-habilitation", "portal-habilitation-edit"):
                assert stranger.get(reverse(name, args=[habilitation.pk])).status_code == 404
            for name, data in (
                ("portal-habilitation-review", {"decision": "refuse", "reason": "Non."}),
                ("portal-habilitation-revoke", {"revoke-reason": "Non."}),
                ("portal-habilitation-submit", {}),
                ("portal-habilitation-extension", {"extension-until": "2099-01-01", "extension-reason": "Non."}),
                ("portal-habilitation-extension-decision", {"extension_decision-decision": "grant"}),
            ):
                assert stranger.post(reverse(name, args=[habilitation.pk]), data).status_code == 404
            assert "Tarifs" not in stranger.get(reverse("portal-habilitations")).content.decode()
        habilitation.refresh_from_db()
        assert habilitation.status == Status.SUBMITTED

    def test_an_agent_without_a_habilitation_role_is_refused(self, claire: Agent, cd_rhone: Organisation) -> None:
        habilitation = submitted(claire)
        auditor = client_for(make_agent(cd_rhone, "axel"))
        assert auditor.get(reverse("portal-habilitations")).status_code == 403
        assert auditor.get(new_url()).status_code == 403
        assert auditor.get(reverse("portal-habilitation", args=[habilitation.pk])).status_code == 403
        assert auditor.post(new_url(), {**ANSWERS, "action": "submit"}).status_code == 403
        assert Habilitation.objects.filter(consumer=cd_rhone).count() == 1

    def test_the_consumer_cannot_decide_nor_the_provider_answer(self, claire: Agent, remi: Agent) -> None:
        habilitation = submitted(claire)
        review = reverse("portal-habilitation-review", args=[habilitation.pk])
        until = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
        assert client_for(claire).post(review, {"decision": "approve", "valid_until": until}).status_code == 403
        assert client_for(remi).get(reverse("portal-habilitation-edit", args=[habilitation.pk])).status_code == 403
        habilitation.refresh_from_db()
        assert habilitation.status == Status.SUBMITTED
