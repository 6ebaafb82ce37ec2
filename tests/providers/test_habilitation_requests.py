"""The portal's side of habilitations: drafts, agents acting by their roles, extensions, history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent, EventType
from core.errors import InvalidTransition, PermissionDeniedError, ValidationError
from providers.models import AgentRole, AttestationType, Habilitation, HabilitationStep, Organisation
from providers.selectors import habilitation_in_force
from providers.services import (
    habilitation_approve,
    habilitation_draft_save,
    habilitation_draft_submit,
    habilitation_extension_grant,
    habilitation_extension_refuse,
    habilitation_extension_request,
    habilitation_request_changes,
    habilitation_resubmit,
)
from providers.services.agents import agent_actor
from tests.agents import make_agent

QF = "cnaf.quotient-familial"
Role = AgentRole.Role
Status = Habilitation.Status

TERMS: dict[str, Any] = {
    "fields": ["quotient_familial", "annee", "mois"],
    "purpose_code": "tarification-sociale",
    "purpose_text": "Tarifs de la cantine scolaire",
    "legal_basis": "CRPA art. L. 114-8",
    "legal_basis_reference": "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000031366350",
    "retention_days": 90,
    "dpo_name": "Camille Dupont",
    "dpo_email": "dpo@cd-rhone.sandbox.invalid",
    "expected_volume": 2000,
    "return_url_origins": ["https://demarches.cd-rhone.example.fr"],
}


@pytest.fixture
def qf(catalogue: None) -> AttestationType:
    return AttestationType.objects.get(slug=QF)


@pytest.fixture
def manager(cd_rhone: Organisation) -> Any:
    return make_agent(cd_rhone, "claire", roles=[Role.HABILITATION_MANAGER])


@pytest.fixture
def reviewer(cnaf: Organisation) -> Any:
    return make_agent(cnaf, "remi", roles=[Role.HABILITATION_MANAGER])


def steps(habilitation: Habilitation) -> list[tuple[str, str, str]]:
    return [(s.action, s.from_status, s.to_status) for s in HabilitationStep.objects.filter(habilitation=habilitation)]


class TestDrafts:
    def test_it_saves_a_partial_draft_then_submits_it_once_complete(
        self, cd_rhone: Organisation, qf: AttestationType, manager: Any
    ) -> None:
        actor = agent_actor(manager)
        draft = habilitation_draft_save(consumer=cd_rhone, attestation_type=qf, actor=actor, fields=["annee"])
        assert (draft.status, draft.fields, draft.retention_days) == (Status.DRAFT, ["annee"], None)
        with pytest.raises(ValidationError) as refused:
            habilitation_draft_submit(habilitation=draft, actor=actor)
        assert {"purpose_code", "purpose_text", "legal_basis", "retention_days", "dpo_email"} <= set(
            refused.value.extra["errors"]
        )
        draft.refresh_from_db()
        assert draft.status == Status.DRAFT

        draft = habilitation_draft_save(
            consumer=cd_rhone, attestation_type=qf, actor=actor, habilitation=draft, **TERMS
        )
        submitted = habilitation_draft_submit(habilitation=draft, actor=actor)

        assert submitted.status == Status.SUBMITTED
        assert steps(submitted) == [
            ("draft", "", "draft"),
            ("draft", "draft", "draft"),
            ("submitted", "draft", "submitted"),
        ]
        types = list(AuditEvent.objects.filter(detail__habilitation_id=str(draft.pk)).values_list("type", "actor"))
        assert types == [
            (EventType.HABILITATION_DRAFTED, manager.actor_id),
            (EventType.HABILITATION_DRAFTED, manager.actor_id),
            (EventType.HABILITATION_SUBMITTED, manager.actor_id),
        ]

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"fields": ["annee", "nom_de_jeune_fille"]}, "fields"),
            ({"purpose_code": "marketing"}, "purpose_code"),
            ({"retention_days": 0}, "retention_days"),
            ({"expected_volume": -3}, "expected_volume"),
            ({"dpo_email": "pas-une-adresse"}, "dpo_email"),
            ({"return_url_origins": ["http://demarches.example.fr"]}, "return_url_origins"),
            ({"return_url_origins": ["https://demarches.example.fr/chemin"]}, "return_url_origins"),
        ],
    )
    def test_it_refuses_a_draft_asking_what_the_type_does_not_offer(
        self, cd_rhone: Organisation, qf: AttestationType, manager: Any, change: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            habilitation_draft_save(consumer=cd_rhone, attestation_type=qf, actor=agent_actor(manager), **change)
        assert set(refused.value.extra["errors"]) == {field}
        assert not Habilitation.objects.filter(consumer=cd_rhone).exists()
        assert not AuditEvent.objects.filter(type=EventType.HABILITATION_DRAFTED).exists()


class TestAgentsActByTheirRoles:
    def test_an_auditor_or_another_organisations_agent_cannot_ask(
        self, cd_rhone: Organisation, mairie: Organisation, qf: AttestationType
    ) -> None:
        auditor = make_agent(cd_rhone, "axel")
        stranger = make_agent(mairie, "mallory", roles=[Role.ADMINISTRATOR])
        for agent in (auditor, stranger):
            with pytest.raises(PermissionDeniedError):
                habilitation_draft_save(consumer=cd_rhone, attestation_type=qf, actor=agent_actor(agent), **TERMS)
        assert not Habilitation.objects.filter(consumer=cd_rhone).exists()

    def test_only_the_holders_agents_decide_and_the_origins_become_the_consumers(
        self, cd_rhone: Organisation, qf: AttestationType, manager: Any, reviewer: Any
    ) -> None:
        draft = habilitation_draft_save(consumer=cd_rhone, attestation_type=qf, actor=agent_actor(manager), **TERMS)
        submitted = habilitation_draft_submit(habilitation=draft, actor=agent_actor(manager))
        with pytest.raises(PermissionDeniedError):
            habilitation_approve(habilitation=submitted, actor=agent_actor(manager))

        asked = habilitation_request_changes(
            habilitation=submitted, reason="Précisez la durée.", actor=agent_actor(reviewer)
        )
        resubmitted = habilitation_resubmit(habilitation=asked, actor=agent_actor(manager), retention_days=60)
        approved = habilitation_approve(
            habilitation=resubmitted,
            actor=agent_actor(reviewer),
            valid_until=timezone.localdate() + dt.timedelta(days=90),
        )

        assert approved.status == Status.APPROVED and approved.retention_days == 60
        assert habilitation_in_force(consumer=cd_rhone, attestation_type=qf) == approved
        cd_rhone.refresh_from_db()
        assert "https://demarches.cd-rhone.example.fr" in cd_rhone.return_url_origins
        reasons = [s.reason for s in HabilitationStep.objects.filter(habilitation=approved)]
        assert reasons == ["", "", "Précisez la durée.", "", ""]


class TestExtensions:
    @pytest.fixture
    def approved(self, cd_rhone: Organisation, qf: AttestationType, manager: Any, reviewer: Any) -> Habilitation:
        draft = habilitation_draft_save(consumer=cd_rhone, attestation_type=qf, actor=agent_actor(manager), **TERMS)
        submitted = habilitation_draft_submit(habilitation=draft, actor=agent_actor(manager))
        return habilitation_approve(
            habilitation=submitted,
            actor=agent_actor(reviewer),
            valid_until=timezone.localdate() + dt.timedelta(days=10),
        )

    def test_the_consumer_asks_and_the_provider_extends(
        self, approved: Habilitation, manager: Any, reviewer: Any
    ) -> None:
        until = timezone.localdate() + dt.timedelta(days=400)
        asked = habilitation_extension_request(
            habilitation=approved, until=until, reason="Le marché continue.", actor=agent_actor(manager)
        )
        assert asked.extension_until == until
        with pytest.raises(InvalidTransition):
            habilitation_extension_request(
                habilitation=asked, until=until, reason="Encore.", actor=agent_actor(manager)
            )

        extended = habilitation_extension_grant(habilitation=asked, actor=agent_actor(reviewer))

        assert (extended.valid_until, extended.extension_until, extended.status) == (until, None, Status.APPROVED)
        assert AuditEvent.objects.filter(type=EventType.HABILITATION_EXTENDED, actor=reviewer.actor_id).count() == 1
        assert steps(extended)[-2:] == [
            ("extension_requested", "approved", "approved"),
            ("extended", "approved", "approved"),
        ]

    def test_an_extension_must_end_later_and_a_refusal_needs_a_reason(
        self, approved: Habilitation, manager: Any, reviewer: Any
    ) -> None:
        with pytest.raises(ValidationError):
            habilitation_extension_request(
                habilitation=approved, until=timezone.localdate(), reason="Plus court ?", actor=agent_actor(manager)
            )
        asked = habilitation_extension_request(
            habilitation=approved,
            until=timezone.localdate() + dt.timedelta(days=100),
            reason="Le marché continue.",
            actor=agent_actor(manager),
        )
        with pytest.raises(ValidationError):
            habilitation_extension_refuse(habilitation=asked, reason="  ", actor=agent_actor(reviewer))
        refused = habilitation_extension_refuse(
            habilitation=asked, reason="Pas de besoin.", actor=agent_actor(reviewer)
        )
        assert refused.extension_until is None
        assert refused.valid_until == timezone.localdate() + dt.timedelta(days=10)
