"""The sealer's fast projection is byte for byte `canonical_json(event_projection(event))`.

The sealer and the exporter read events as raw PostgreSQL text and assemble each event's
canonical JSON directly; a single differing byte would change a leaf, so every kind of value an
event can hold is compared against the reference projection of the same row loaded by the ORM.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent, Checkpoint, LogLeaf
from audit.sealer import PROJECTION_SQL, event_projection, log_seal, projection_json_rows
from audit.tlog.canonical import canonical_json
from audit.tlog.merkle import leaf_hash, root_from_leaves

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PARIS = dt.timezone(dt.timedelta(hours=1))
AWKWARD = 'é 😀 中文 "quoted" back\\slash \x01\x1f\x7f \u2028\u2029 \t\n\r\b\f \ue000'


def _text(max_size: int) -> st.SearchStrategy[str]:
    # PostgreSQL text and jsonb hold neither NUL nor lone surrogates.
    return st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=max_size)


def _event(**kwargs: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "type": "exchange.succeeded",
        "actor_kind": "consumer",
        "actor": "21690123100011",
        "occurred_at": dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
    }
    values.update(kwargs)
    with transaction.atomic():
        return AuditEvent.objects.create(**values)


def _fast(ids: list[int]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {PROJECTION_SQL} FROM audit_auditevent e WHERE e.id = ANY(%s) ORDER BY e.id", [ids])  # noqa: S608
        return projection_json_rows(cursor.fetchall())


def _reference(ids: list[int]) -> list[str]:
    events = AuditEvent.objects.filter(pk__in=ids).order_by("pk")
    return [canonical_json(event_projection(event)).decode() for event in events]


class TestFastProjection:
    def test_it_matches_the_reference_on_every_kind_of_value(self) -> None:
        events = [
            _event(),
            _event(
                citizen_ref="f" * 64,
                consumer="21690123100011",
                provider="18003502400011",
                attestation_type="cnaf.quotient-familial",
                fields=["quotient_familial", "allocataire"],
                purpose="instruction-aide-sociale",
                consent_id=uuid.UUID("C6A7EE39-C4B0-32CC-D7C5-24A55304317F"),
                exchange_id=uuid.uuid4(),
                correlation_id="0123456789abcdef",
                detail={"status": 200},
            ),
            _event(actor=AWKWARD, purpose=AWKWARD, correlation_id=AWKWARD, fields=[AWKWARD, ""]),
            _event(
                detail={
                    "é": 1,
                    "😀": [True, False, None],
                    "\ue000": {"z": "", "a": {"nested": [1, -2, 2**53 - 1, -(2**53 - 1)]}},
                    "a": AWKWARD,
                    "": 0,
                    "B": "upper sorts first",
                }
            ),
            _event(detail={}, fields=[]),
            _event(fields={"b": 1, "a": 2}),  # not a list: the projection keeps its keys
            _event(occurred_at=dt.datetime(2026, 3, 1, 0, 0, 0, 0, tzinfo=PARIS)),
            _event(occurred_at=dt.datetime(1000, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
            _event(occurred_at=dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
            # strftime writes year 999 without the leading zero to_char gives: the fallback path.
            _event(occurred_at=dt.datetime(999, 6, 1, 8, 0, 0, 42, tzinfo=UTC)),
            _event(id=2**53 - 1),
        ]
        ids = [event.pk for event in events]

        fast = _fast(ids)

        assert fast == _reference(ids)
        assert '"occurred_at":"999-06-01T08:00:00.000042Z"' in fast[ids.index(events[9].pk)]

    def test_it_matches_json_null_members_stored_by_hand(self) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO audit_auditevent (type, occurred_at, actor_kind, actor, citizen_ref, consumer, provider,"
                " attestation_type, fields, purpose, correlation_id, detail)"
                " VALUES ('consent.expired', now(), 'system', 'system', '', '', '', '', 'null', '', '', 'null')"
                " RETURNING id"
            )
            event_id = cursor.fetchone()[0]

        assert _fast([event_id]) == _reference([event_id])
        assert '"detail":{}' in _fast([event_id])[0] and '"fields":[]' in _fast([event_id])[0]

    def test_it_refuses_what_the_reference_refuses(self) -> None:
        too_big = _event(id=2**53)
        float_detail = _event(detail={"ratio": 0.5})

        with pytest.raises(ValueError):
            canonical_json(event_projection(too_big))
        with pytest.raises(ValueError):
            _fast([too_big.pk])
        with pytest.raises(TypeError):
            canonical_json(event_projection(float_detail))
        with pytest.raises(TypeError):
            _fast([float_detail.pk])

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        text=_text(20),
        detail=st.dictionaries(
            _text(5),
            st.recursive(
                st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | _text(8),
                lambda children: st.lists(children, max_size=3) | st.dictionaries(_text(3), children, max_size=3),
                max_leaves=8,
            ),
            max_size=4,
        ),
        microsecond=st.integers(0, 999_999),
    )
    def test_it_matches_the_reference_on_generated_events(
        self, text: str, detail: dict[str, Any], microsecond: int
    ) -> None:
        event = _event(
            actor=text,
            citizen_ref=text[:64],
            fields=[text, text[::-1]],
            detail=detail,
            occurred_at=dt.datetime(2026, 1, 1, 0, 0, 0, microsecond, tzinfo=UTC),
        )

        assert _fast([event.pk]) == _reference([event.pk])


class TestSealedLeaves:
    def test_every_sealed_leaf_is_the_reference_hash(self) -> None:
        events = [
            _event(actor=AWKWARD, detail={"é": [1, {"😀": None}]}),
            _event(occurred_at=dt.datetime(999, 1, 1, tzinfo=UTC)),
            _event(consent_id=uuid.uuid4(), fields=["a", "b"]),
        ]

        checkpoint = log_seal()

        assert checkpoint is not None and checkpoint.tree_size == 3
        leaves = dict(LogLeaf.objects.values_list("event_id", "hash"))
        for event in events:
            stored = AuditEvent.objects.get(pk=event.pk)
            assert bytes(leaves[event.pk]) == leaf_hash(event_projection(stored))

    def test_it_finds_late_commits_within_the_lookback_and_older_ones_only_in_the_sweep(self) -> None:
        first = _event(occurred_at=timezone.now())
        top = _event(id=first.pk + 10, occurred_at=timezone.now())
        assert log_seal() is not None
        recent_late = _event(id=first.pk + 5, occurred_at=timezone.now())
        old_late = _event(id=first.pk + 3, occurred_at=timezone.now() - dt.timedelta(days=1))
        above = _event(id=top.pk + 1, occurred_at=timezone.now() - dt.timedelta(days=1))

        regular = log_seal()
        assert log_seal() is None
        swept = log_seal(sweep=True)

        assert regular is not None and regular.tree_size == 4
        assert swept is not None and swept.tree_size == 5
        order = list(LogLeaf.objects.order_by("index").values_list("event_id", flat=True))
        assert order == [first.pk, top.pk, recent_late.pk, above.pk, old_late.pk]
        hashes = [bytes(h) for h in LogLeaf.objects.order_by("index").values_list("hash", flat=True)]
        for checkpoint in Checkpoint.objects.all():
            assert bytes(checkpoint.root) == root_from_leaves(hashes[: checkpoint.tree_size])
