from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import ActorKind, AuditEvent
from audit.services import Actor
from core.errors import GatewayError, InvalidTransition
from providers.models import AttestationType, Habilitation, Organisation
from providers.selectors import attestation_type_slugs_in_force, habilitation_in_force
from providers.services import (
    habilitation_approve,
    habilitation_refuse,
    habilitation_request_changes,
    habilitation_resubmit,
    habilitation_revoke,
    habilitation_submit,
)

QF = "cnaf.quotient-familial"
OPERATOR = Actor(ActorKind.OPERATOR, "operateur")


def submit(consumer: Organisation, **overrides: Any) -> Habilitation:
    attestation_type = overrides.pop("attestation_type", None) or AttestationType.objects.get(slug=QF)
    values: dict[str, Any] = {
        "consumer": consumer,
        "attestation_type": attestation_type,
        "fields": ["quotient_familial", "annee", "mois"],
        "purpose_code": "tarification-sociale",
        "purpose_text": "Tarifs de la cantine scolaire",
        "legal_basis": "CRPA art. L. 114-8",
        "retention_days": 90,
        "dpo_email": "dpo@cd-rhone.sandbox.invalid",
        "actor": Actor(ActorKind.CONSUMER, consumer.siret),
    }
    values.update(overrides)
    return habilitation_submit(**values)


def events(habilitation: Habilitation) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(detail__habilitation_id=str(habilitation.pk)).order_by("id"),
    )


def request_changes(h: Habilitation) -> Habilitation:
    return habilitation_request_changes(habilitation=h, reason="Précisez la finalité.", actor=OPERATOR)


def resubmit(h: Habilitation) -> Habilitation:
    return habilitation_resubmit(habilitation=h, actor=Actor(ActorKind.CONSUMER, h.consumer.siret))


def approve(h: Habilitation) -> Habilitation:
    return habilitation_approve(habilitation=h, actor=OPERATOR)


def refuse(h: Habilitation) -> Habilitation:
    return habilitation_refuse(habilitation=h, reason="Finalité non justifiée.", actor=OPERATOR)


def revoke(h: Habilitation) -> Habilitation:
    return habilitation_revoke(habilitation=h, reason="Fin de la convention.", actor=OPERATOR)


ACTIONS: dict[str, Callable[[Habilitation], Habilitation]] = {
    "request_changes": request_changes,
    "resubmit": resubmit,
    "approve": approve,
    "refuse": refuse,
    "revoke": revoke,
}
# How to reach each status from a fresh submission.
PATHS: dict[str, list[str]] = {
    "submitted": [],
    "changes_requested": ["request_changes"],
    "approved": ["approve"],
    "refused": ["refuse"],
    "revoked": ["approve", "revoke"],
}
ALLOWED = {
    ("submitted", "request_changes"),
    ("submitted", "approve"),
    ("submitted", "refuse"),
    ("changes_requested", "resubmit"),
    ("approved", "revoke"),
}
REFUSED = sorted((status, action) for status in PATHS for action in ACTIONS if (status, action) not in ALLOWED)


def reach(consumer: Organisation, status: str) -> Habilitation:
    habilitation = submit(consumer)
    for action in PATHS[status]:
        habilitation = ACTIONS[action](habilitation)
    assert habilitation.status == status
    return habilitation


@pytest.mark.django_db
class TestHabilitationTransitions:
    def test_it_records_a_submission_with_one_event(self, cd_rhone: Organisation, cnaf: Organisation) -> None:
        habilitation = submit(cd_rhone, fields=["mois", "quotient_familial"])

        assert habilitation.status == Habilitation.Status.SUBMITTED
        assert habilitation.version == 1
        assert habilitation.decided_at is None
        # Kept in the catalogue's order whatever the order asked.
        assert habilitation.fields == ["quotient_familial", "mois"]
        [event] = events(habilitation)
        assert event.type == "habilitation.submitted"
        assert (event.actor_kind, event.actor) == ("consumer", cd_rhone.siret)
        assert (event.consumer, event.provider) == (cd_rhone.siret, cnaf.siret)
        assert event.attestation_type == QF
        assert event.fields == ["quotient_familial", "mois"]
        assert event.purpose == "tarification-sociale"
        assert event.detail["from"] is None
        assert event.detail["to"] == "submitted"
        assert event.detail["version"] == 1

    @pytest.mark.parametrize(("status", "action"), sorted(ALLOWED))
    def test_it_performs_each_allowed_transition_with_exactly_one_event(
        self, cd_rhone: Organisation, status: str, action: str
    ) -> None:
        habilitation = reach(cd_rhone, status)
        before = events(habilitation)

        after = ACTIONS[action](habilitation)

        expected = {
            "request_changes": "changes_requested",
            "resubmit": "submitted",
            "approve": "approved",
            "refuse": "refused",
            "revoke": "revoked",
        }[action]
        stored = Habilitation.objects.get(pk=habilitation.pk)
        assert stored.status == after.status == expected
        assert stored.version == habilitation.version + 1
        new = events(habilitation)[len(before) :]
        assert [event.type for event in new] == [f"habilitation.{expected}"]
        assert new[0].detail["from"] == status
        assert new[0].detail["to"] == expected
        assert new[0].detail["version"] == stored.version
        if expected in {"approved", "refused", "revoked"}:
            assert stored.decided_at is not None
        if action in {"request_changes", "refuse", "revoke"}:
            assert stored.status_reason

    @pytest.mark.parametrize(("status", "action"), REFUSED)
    def test_it_refuses_every_other_transition_and_changes_nothing(
        self, cd_rhone: Organisation, status: str, action: str
    ) -> None:
        habilitation = reach(cd_rhone, status)
        row_before = Habilitation.objects.values().get(pk=habilitation.pk)
        events_before = AuditEvent.objects.count()

        with pytest.raises(InvalidTransition) as caught:
            ACTIONS[action](habilitation)

        assert caught.value.code == "invalid_transition"
        assert caught.value.status == 409
        assert Habilitation.objects.values().get(pk=habilitation.pk) == row_before
        assert AuditEvent.objects.count() == events_before

    def test_it_decides_on_the_current_state_not_a_stale_copy(self, cd_rhone: Organisation) -> None:
        stale = submit(cd_rhone)
        approve(stale)

        with pytest.raises(InvalidTransition):
            refuse(stale)  # `stale` still says "submitted"

        assert Habilitation.objects.get(pk=stale.pk).status == "approved"

    def test_it_lets_the_consumer_amend_the_terms_when_resubmitting(self, cd_rhone: Organisation) -> None:
        habilitation = request_changes(submit(cd_rhone))

        amended = habilitation_resubmit(
            habilitation=habilitation,
            actor=Actor(ActorKind.CONSUMER, cd_rhone.siret),
            fields=["quotient_familial"],
            purpose_text="Tarifs du centre de loisirs",
        )

        stored = Habilitation.objects.get(pk=habilitation.pk)
        assert (stored.status, stored.fields, stored.purpose_text) == (
            "submitted",
            ["quotient_familial"],
            "Tarifs du centre de loisirs",
        )
        assert amended.version == 3
        assert events(habilitation)[-1].fields == ["quotient_familial"]

    def test_it_records_the_validity_end_on_approval(self, cd_rhone: Organisation) -> None:
        valid_until = timezone.localdate() + dt.timedelta(days=365)

        approved = habilitation_approve(habilitation=submit(cd_rhone), actor=OPERATOR, valid_until=valid_until)

        assert Habilitation.objects.get(pk=approved.pk).valid_until == valid_until
        assert events(approved)[-1].detail["valid_until"] == valid_until.isoformat()


@pytest.mark.django_db
class TestHabilitationValidation:
    @pytest.mark.parametrize(
        ("overrides", "error_field"),
        [
            ({"fields": ["quotient_familial", "revenu_fiscal_reference"]}, "fields"),
            ({"fields": []}, "fields"),
            ({"fields": "quotient_familial"}, "fields"),
            ({"purpose_code": "tarif-etudiant"}, "purpose_code"),
            ({"purpose_text": "  "}, "purpose_text"),
            ({"legal_basis": ""}, "legal_basis"),
            ({"retention_days": 0}, "retention_days"),
            ({"retention_days": -5}, "retention_days"),
            ({"dpo_email": "not-an-email"}, "dpo_email"),
        ],
    )
    def test_it_refuses_bad_terms_and_creates_nothing(
        self, cd_rhone: Organisation, overrides: dict[str, Any], error_field: str
    ) -> None:
        events_before = AuditEvent.objects.count()

        with pytest.raises(GatewayError) as caught:
            submit(cd_rhone, **overrides)

        assert caught.value.code == "validation_error"
        assert error_field in caught.value.extra["errors"]
        assert not Habilitation.objects.filter(consumer=cd_rhone).exists()
        assert AuditEvent.objects.count() == events_before

    def test_it_refuses_a_habilitation_for_the_holders_own_data(self, cnaf: Organisation) -> None:
        with pytest.raises(GatewayError) as caught:
            submit(cnaf, dpo_email=cnaf.dpo_email)

        assert caught.value.code == "validation_error"
        assert "consumer" in caught.value.extra["errors"]
        assert not Habilitation.objects.filter(consumer=cnaf).exists()

    def test_it_refuses_an_inactive_consumer(self, cd_rhone: Organisation) -> None:
        Organisation.objects.filter(pk=cd_rhone.pk).update(active=False)
        cd_rhone.refresh_from_db()

        with pytest.raises(GatewayError) as caught:
            submit(cd_rhone)

        assert caught.value.code == "validation_error"
        assert not Habilitation.objects.filter(consumer=cd_rhone).exists()

    def test_it_refuses_a_second_request_while_one_is_under_review(self, cd_rhone: Organisation) -> None:
        submit(cd_rhone)
        events_before = AuditEvent.objects.count()

        with pytest.raises(InvalidTransition):
            submit(cd_rhone)

        assert Habilitation.objects.filter(consumer=cd_rhone).count() == 1
        assert AuditEvent.objects.count() == events_before

    def test_it_refuses_a_decision_without_a_reason(self, cd_rhone: Organisation) -> None:
        habilitation = submit(cd_rhone)

        with pytest.raises(GatewayError) as caught:
            habilitation_refuse(habilitation=habilitation, reason="  ", actor=OPERATOR)

        assert caught.value.code == "validation_error"
        assert Habilitation.objects.get(pk=habilitation.pk).status == "submitted"

    def test_it_refuses_a_validity_end_in_the_past(self, cd_rhone: Organisation) -> None:
        habilitation = submit(cd_rhone)

        with pytest.raises(GatewayError) as caught:
            habilitation_approve(
                habilitation=habilitation, actor=OPERATOR, valid_until=timezone.localdate() - dt.timedelta(days=1)
            )

        assert caught.value.code == "validation_error"
        assert Habilitation.objects.get(pk=habilitation.pk).status == "submitted"

    def test_it_lets_only_the_holder_decide_among_providers(
        self, cd_rhone: Organisation, cnaf: Organisation, dgfip: Organisation
    ) -> None:
        habilitation = submit(cd_rhone)
        events_before = AuditEvent.objects.count()

        with pytest.raises(GatewayError) as caught:
            habilitation_approve(habilitation=habilitation, actor=Actor(ActorKind.PROVIDER, dgfip.siret))

        assert caught.value.code == "permission_denied"
        assert AuditEvent.objects.count() == events_before
        approved = habilitation_approve(habilitation=habilitation, actor=Actor(ActorKind.PROVIDER, cnaf.siret))
        assert approved.status == "approved"

    def test_it_refuses_a_consumer_asking_in_anothers_name(self, cd_rhone: Organisation, mairie: Organisation) -> None:
        with pytest.raises(GatewayError) as caught:
            submit(cd_rhone, actor=Actor(ActorKind.CONSUMER, mairie.siret))

        assert caught.value.code == "permission_denied"
        assert not Habilitation.objects.filter(consumer=cd_rhone).exists()


@pytest.mark.django_db
class TestHabilitationsInForce:
    def test_it_gives_the_demo_city_hall_every_type_and_the_department_none(
        self, mairie: Organisation, cd_rhone: Organisation
    ) -> None:
        assert attestation_type_slugs_in_force(consumer=mairie) == set(
            AttestationType.objects.values_list("slug", flat=True)
        )
        assert attestation_type_slugs_in_force(consumer=cd_rhone) == set()

    def test_it_counts_an_approved_habilitation_only_while_it_is_valid(self, cd_rhone: Organisation) -> None:
        qf = AttestationType.objects.get(slug=QF)
        habilitation = submit(cd_rhone)
        assert habilitation_in_force(consumer=cd_rhone, attestation_type=qf) is None

        approve(habilitation)
        assert habilitation_in_force(consumer=cd_rhone, attestation_type=qf) == habilitation
        assert attestation_type_slugs_in_force(consumer=cd_rhone) == {QF}

        Habilitation.objects.filter(pk=habilitation.pk).update(valid_until=timezone.localdate() - dt.timedelta(days=1))
        assert habilitation_in_force(consumer=cd_rhone, attestation_type=qf) is None
        assert attestation_type_slugs_in_force(consumer=cd_rhone) == set()

    def test_it_drops_a_revoked_habilitation_at_once(self, mairie: Organisation) -> None:
        qf = AttestationType.objects.get(slug=QF)
        habilitation = habilitation_in_force(consumer=mairie, attestation_type=qf)
        assert habilitation is not None

        revoke(habilitation)

        assert habilitation_in_force(consumer=mairie, attestation_type=qf) is None
        assert QF not in attestation_type_slugs_in_force(consumer=mairie)

    def test_it_grants_nothing_to_an_inactive_consumer(self, mairie: Organisation) -> None:
        Organisation.objects.filter(pk=mairie.pk).update(active=False)
        mairie.refresh_from_db()

        assert attestation_type_slugs_in_force(consumer=mairie) == set()

    def test_it_grants_nothing_for_a_withdrawn_type(self, mairie: Organisation) -> None:
        AttestationType.objects.filter(slug=QF).update(active=False)

        assert QF not in attestation_type_slugs_in_force(consumer=mairie)


@pytest.mark.django_db(transaction=True)
class TestConcurrentDecisions:
    def test_it_lets_only_one_of_two_simultaneous_decisions_through(self, cd_rhone: Organisation) -> None:
        habilitation = submit(cd_rhone)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def decide(action: Callable[[Habilitation], Habilitation]) -> None:
            try:
                barrier.wait(timeout=5)
                action(habilitation)
                outcomes.append("done")
            except InvalidTransition:
                outcomes.append("refused")
            finally:
                connection.close()

        threads = [threading.Thread(target=decide, args=(action,)) for action in (approve, refuse)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

        assert sorted(outcomes) == ["done", "refused"]
        decided = Habilitation.objects.get(pk=habilitation.pk)
        assert decided.version == 2
        assert [event.type for event in events(habilitation)] == [
            "habilitation.submitted",
            f"habilitation.{decided.status}",
        ]
