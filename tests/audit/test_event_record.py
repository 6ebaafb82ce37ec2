"""Every action leaves exactly one event, in its own transaction, or none if it fails."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit.models import ActorKind, AuditEvent, EventType
from audit.services import Actor, auditor_search_record, event_record

ALICE_REF = "a" * 64


class Boom(Exception):
    pass


@pytest.mark.django_db
class TestEventRecord:
    def test_it_records_one_event_with_the_actions_facts(self) -> None:
        with transaction.atomic():
            event_id = event_record(
                type=EventType.CONSENT_APPROVED,
                actor=Actor(ActorKind.CITIZEN, ALICE_REF),
                citizen_ref=ALICE_REF,
                consumer="21690123100011",
                fields=["quotient_familial"],
                detail={"version": 2},
            )

        stored = AuditEvent.objects.get()
        assert stored.pk == event_id
        assert (stored.type, stored.citizen_ref, stored.fields, stored.detail) == (
            "consent.approved",
            ALICE_REF,
            ["quotient_familial"],
            {"version": 2},
        )

    def test_a_failed_action_leaves_no_event(self) -> None:
        with pytest.raises(Boom), transaction.atomic():
            event_record(type=EventType.CONSENT_REVOKED, actor=Actor.system())
            raise Boom

        assert AuditEvent.objects.count() == 0

    @pytest.mark.django_db(transaction=True)
    def test_it_refuses_to_record_outside_a_transaction(self) -> None:
        with pytest.raises(RuntimeError, match="inside the action's transaction"):
            event_record(type=EventType.CONSENT_REVOKED, actor=Actor.system())

        assert AuditEvent.objects.count() == 0

    def test_an_auditor_search_is_one_event_with_its_filters_and_a_truncated_justification(self) -> None:
        auditor_search_record(
            actor=Actor(ActorKind.AUDITOR, "cnil-inspector"),
            filters={"consumer": "21690123100011", "citizen_ref": ALICE_REF, "type": ""},
            justification="Contrôle n°42 " + "x" * 600,
        )

        event = AuditEvent.objects.get()
        assert event.type == "auditor.searched"
        assert event.citizen_ref == ALICE_REF
        assert event.detail["consumer"] == "21690123100011"
        assert "type" not in event.detail
        assert len(event.detail["justification"]) == 500
