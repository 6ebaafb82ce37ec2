"""The sealer appends events in id order, signs consistent checkpoints and never signs two."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from audit.models import AuditEvent, Checkpoint, EventType, LogLeaf
from audit.sealer import event_projection, log_seal, log_seal_all, log_verifier_key
from audit.selectors import consistency_proof_get
from audit.tlog.merkle import leaf_hash, root_from_leaves, verify_consistency
from audit.tlog.note import open_note, parse_checkpoint


def _leaf_hashes() -> list[bytes]:
    return [bytes(h) for h in LogLeaf.objects.order_by("index").values_list("hash", flat=True)]


class TestSealer:
    def test_it_seals_pending_events_in_id_order_and_signs_a_checkpoint(self, record: Callable[..., Any]) -> None:
        events = [record(citizen_ref=f"ref-{i}") for i in range(5)]

        checkpoint = log_seal()

        assert checkpoint is not None and checkpoint.tree_size == 5
        leaves = list(LogLeaf.objects.order_by("index").values_list("index", "event_id"))
        assert leaves == [(i, e.pk) for i, e in enumerate(events)]
        expected = [leaf_hash(event_projection(e)) for e in events]
        assert _leaf_hashes() == expected
        assert bytes(checkpoint.root) == root_from_leaves(expected)
        body = open_note(checkpoint.note, log_verifier_key())
        parsed = parse_checkpoint(body)
        assert (parsed.size, parsed.root) == (5, root_from_leaves(expected))

    def test_it_does_nothing_when_nothing_is_pending(self, record: Callable[..., AuditEvent]) -> None:
        record()
        assert log_seal() is not None

        assert log_seal() is None
        assert Checkpoint.objects.count() == 1

    def test_it_splits_a_backlog_into_consistent_batches(self, record: Callable[..., AuditEvent]) -> None:
        for i in range(11):
            record(citizen_ref=f"ref-{i}")

        checkpoints = log_seal_all(max_batch=3)

        assert [c.tree_size for c in checkpoints] == [3, 6, 9, 11]
        hashes = _leaf_hashes()
        for checkpoint in checkpoints:
            assert bytes(checkpoint.root) == root_from_leaves(hashes[: checkpoint.tree_size])
        for first, second in zip(checkpoints, checkpoints[1:], strict=False):
            proof = consistency_proof_get(first=first.tree_size, second=second.tree_size)
            assert verify_consistency(
                first.tree_size, second.tree_size, bytes(first.root), bytes(second.root), proof.proof
            )

    def test_it_keeps_checkpoints_when_events_arrive_between_seals(self, record: Callable[..., AuditEvent]) -> None:
        sizes = []
        for batch in (1, 2, 4, 1, 7):
            for _ in range(batch):
                record()
            checkpoint = log_seal()
            assert checkpoint is not None
            sizes.append(checkpoint.tree_size)

        assert sizes == [1, 3, 7, 8, 15]
        hashes = _leaf_hashes()
        for checkpoint in Checkpoint.objects.all():
            assert bytes(checkpoint.root) == root_from_leaves(hashes[: checkpoint.tree_size])


@pytest.mark.django_db(transaction=True)
class TestSealerConcurrency:
    def test_it_seals_a_late_committed_lower_id_in_a_later_batch(self) -> None:
        from audit.models import ActorKind
        from audit.services import Actor, event_record

        actor = Actor(ActorKind.SYSTEM, "system")
        started, release = threading.Event(), threading.Event()
        late: list[int] = []

        def slow_action() -> None:
            try:
                with transaction.atomic():
                    late.append(event_record(type=EventType.CONSENT_EXPIRED, actor=actor))
                    started.set()
                    release.wait(10)
            finally:
                connections.close_all()

        worker = threading.Thread(target=slow_action)
        worker.start()
        assert started.wait(10)
        with transaction.atomic():
            early = event_record(type=EventType.CONSENT_EXPIRED, actor=actor)
        assert early > late[0]

        first = log_seal()
        release.set()
        worker.join()
        second = log_seal()

        assert first is not None and first.tree_size == 1
        assert second is not None and second.tree_size == 2
        order = list(LogLeaf.objects.order_by("index").values_list("event_id", flat=True))
        assert order == [early, late[0]]

    def test_it_lets_only_one_of_two_concurrent_sealers_sign(self) -> None:
        from audit.models import ActorKind
        from audit.services import Actor, event_record

        with transaction.atomic():
            for _ in range(4):
                event_record(type=EventType.CONSENT_EXPIRED, actor=Actor(ActorKind.SYSTEM, "system"))
        inside, release = threading.Event(), threading.Event()
        results: dict[str, object] = {}

        def holder() -> None:
            # Holds the sealer's lock as a running seal would, until told to let go.
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    from audit.sealer import SEAL_LOCK_KEY

                    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
                    results["holder"] = cursor.fetchone()[0]
                    inside.set()
                    release.wait(10)
            finally:
                connections.close_all()

        thread = threading.Thread(target=holder)
        thread.start()
        assert inside.wait(10)
        results["while_locked"] = log_seal()
        release.set()
        thread.join()
        results["after"] = log_seal()

        assert results["holder"] is True
        assert results["while_locked"] is None
        assert isinstance(results["after"], Checkpoint) and results["after"].tree_size == 4
        assert Checkpoint.objects.count() == 1

    def test_it_never_signs_two_roots_when_sealers_race(self) -> None:
        from audit.models import ActorKind
        from audit.services import Actor, event_record

        for _ in range(3):
            with transaction.atomic():
                for _ in range(5):
                    event_record(type=EventType.CONSENT_EXPIRED, actor=Actor(ActorKind.SYSTEM, "system"))
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def race() -> None:
            try:
                barrier.wait(10)
                for _ in range(3):
                    log_seal(max_batch=4)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=race) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log_seal_all()

        assert errors == []
        hashes = _leaf_hashes()
        assert len(hashes) == 15 == AuditEvent.objects.count()
        for checkpoint in Checkpoint.objects.all():
            assert bytes(checkpoint.root) == root_from_leaves(hashes[: checkpoint.tree_size])
