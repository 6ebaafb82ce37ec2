"""A citizen sees only their own history, and gets proofs only for their own sealed events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent, EventType
from audit.sealer import log_seal, log_verifier_key
from audit.selectors import events_for_citizen, history_rows_for_citizen, proof_bundle
from audit.tlog.export import verify_bundle
from core.errors import NotFound

ALICE_REF, BOB_REF = "a" * 64, "b" * 64


class TestHistory:
    def test_it_lists_only_the_citizens_events_newest_first_in_one_query(self, record: Callable[..., Any]) -> None:
        alice = [record(citizen_ref=ALICE_REF) for _ in range(3)]
        record(citizen_ref=BOB_REF)
        log_seal()
        late = record(EventType.CONSENT_REVOKED, citizen_ref=ALICE_REF)

        with CaptureQueriesContext(connection) as queries:
            events = events_for_citizen(citizen_ref=ALICE_REF)

        assert len(queries) == 1
        assert [e.pk for e in events] == [late.pk, *(e.pk for e in reversed(alice))]
        assert [getattr(e, "leaf_index", None) for e in events] == [None, 2, 1, 0]
        rows = history_rows_for_citizen(citizen_ref=ALICE_REF)
        assert rows[1].who == "21690123100011" and rows[1].from_whom == "18003502400011"
        assert rows[0].sealed is False and rows[1].sealed is True
        assert events_for_citizen(citizen_ref="") == []


class TestProofBundle:
    def test_it_proves_the_citizens_own_event(self, record: Callable[..., Any]) -> None:
        event = record(citizen_ref=ALICE_REF)
        record(citizen_ref=BOB_REF)
        log_seal()

        bundle = proof_bundle(event_id=event.pk, citizen_ref=ALICE_REF)

        verify_bundle(bundle, log_verifier_key())
        assert bundle["verifier_key"] == log_verifier_key() and bundle["tree_size"] == 2

    def test_it_is_not_found_for_someone_elses_or_an_unsealed_event(self, record: Callable[..., Any]) -> None:
        bobs = record(citizen_ref=BOB_REF)
        log_seal()
        pending = record(citizen_ref=ALICE_REF)
        anonymous = record(EventType.HABILITATION_APPROVED)
        log_seal()
        newer = record(citizen_ref=ALICE_REF)

        for event_id, ref in [(bobs.pk, ALICE_REF), (newer.pk, ALICE_REF), (anonymous.pk, ""), (10**9, ALICE_REF)]:
            with pytest.raises(NotFound):
                proof_bundle(event_id=event_id, citizen_ref=ref)
        assert proof_bundle(event_id=pending.pk, citizen_ref=ALICE_REF)["leaf_index"] == 1


class TestEmbeddedSealing:
    def test_with_seal_on_commit_an_event_is_sealed_right_after_its_transaction(
        self, settings: Any, record: Callable[..., Any], django_capture_on_commit_callbacks: Any
    ) -> None:
        settings.AUDIT_SEAL_ON_COMMIT = True

        with django_capture_on_commit_callbacks(execute=True):
            event = record(citizen_ref=ALICE_REF)

        assert getattr(events_for_citizen(citizen_ref=ALICE_REF)[0], "leaf_index", None) == 0
        assert AuditEvent.objects.get().pk == event.pk
