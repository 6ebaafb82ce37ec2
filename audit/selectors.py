"""Reads of the trail: checkpoints, proofs, auditor searches and a citizen's own history.

Proofs come from stored nodes with a constant number of queries (the checkpoint, then one batched
read of the leaf and the nodes), so O(log n) work whatever the log size. Hashes are returned as
bytes; the APIs encode them as lower-case hex.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Case, Count, F, Max, QuerySet, When
from django.db.models.functions import TruncDate

from audit import merkle
from audit.models import AuditEvent, Checkpoint, EventType, Objection
from audit.sealer import DbNodeReader, event_projection, log_verifier_key
from core.errors import LeafArchived, NotFound, ValidationError
from core.replicas import reading_connection

BUNDLE_FORMAT = "gateway-audit-proof/1"


# ---------------------------------------------------------------------------------------------
# Checkpoints and proofs


def checkpoint_latest() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-tree_size").first()


def checkpoint_for_size(tree_size: int, *, field_name: str = "tree_size") -> Checkpoint:
    """The checkpoint signed for exactly `tree_size`; proofs are only served for signed sizes."""
    checkpoint = Checkpoint.objects.filter(tree_size=tree_size).first()
    if checkpoint is None:
        raise ValidationError(
            f"No checkpoint was signed for tree size {tree_size}.",
            errors={field_name: ["not a published tree size"]},
        )
    return checkpoint


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    root: bytes
    checkpoint: str


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]
    first_checkpoint: str
    second_checkpoint: str


def _signed_tree(tree_size: int | None) -> tuple[int, bytes, str] | None:
    """(size, root, note) of the checkpoint for `tree_size`, or of the latest: one raw query.

    Raw because compiling it through the ORM on every call was a quarter of a proof's time.
    """
    table = Checkpoint._meta.db_table
    columns = "tree_size, root, note"
    with reading_connection(Checkpoint).cursor() as cursor:
        # Only the model's table name is interpolated; the size is a parameter.
        if tree_size is None:
            cursor.execute(f"SELECT {columns} FROM {table} ORDER BY tree_size DESC LIMIT 1")  # noqa: S608
        else:
            cursor.execute(f"SELECT {columns} FROM {table} WHERE tree_size = %s", [tree_size])  # noqa: S608
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]), row[2])


def inclusion_proof_get(*, index: int, tree_size: int | None = None) -> InclusionProof:
    """RFC 9162 inclusion proof of leaf `index` in the signed tree of `tree_size` (default latest)."""
    signed = _signed_tree(tree_size)
    if signed is None:
        if tree_size is None:
            raise ValidationError("The log has no checkpoint yet.", errors={"tree_size": ["no checkpoint yet"]})
        raise ValidationError(
            f"No checkpoint was signed for tree size {tree_size}.",
            errors={"tree_size": ["not a published tree size"]},
        )
    size, root, note = signed
    if not 0 <= index < size:
        raise ValidationError(
            f"Leaf {index} is not in the tree of size {size}.",
            errors={"index": [f"must be in [0, {size})"]},
        )
    try:
        leaf, proof = merkle.inclusion_proof_with_leaf(index, size, DbNodeReader())
    except merkle.MissingNodeError:
        archive = archive_for_index(index)
        if archive is None:  # pragma: no cover - nodes are committed with their checkpoint
            raise NotFound("Leaf not stored.") from None
        raise LeafArchived(
            f"Leaf {index} is in an archived partition of the trail.", extra={"archive": archive}
        ) from None
    return InclusionProof(index=index, tree_size=size, leaf_hash=leaf, proof=proof, root=root, checkpoint=note)


def archive_for_index(index: int) -> dict[str, object] | None:
    """Where the archived leaf `index` is (the `audit.archived` event's detail), if it was archived."""
    details = AuditEvent.objects.filter(type=EventType.AUDIT_ARCHIVED).values_list("detail", flat=True)
    for detail in details:
        if int(detail["first_index"]) <= index < int(detail["end_index"]):
            return dict(detail)
    return None


def consistency_proof_get(*, first: int, second: int) -> ConsistencyProof:
    """RFC 9162 consistency proof between two signed tree sizes, first <= second."""
    if first > second:
        raise ValidationError("first must not exceed second.", errors={"first": ["must be <= second"]})
    checkpoints = {c.tree_size: c for c in Checkpoint.objects.filter(tree_size__in=[first, second])}
    if first not in checkpoints:
        raise ValidationError(f"No checkpoint for size {first}.", errors={"first": ["not a published tree size"]})
    if second not in checkpoints:
        raise ValidationError(f"No checkpoint for size {second}.", errors={"second": ["not a published tree size"]})
    proof = merkle.consistency_proof(first, second, DbNodeReader())
    return ConsistencyProof(
        first=first,
        second=second,
        first_root=bytes(checkpoints[first].root),
        second_root=bytes(checkpoints[second].root),
        proof=proof,
        first_checkpoint=checkpoints[first].note,
        second_checkpoint=checkpoints[second].note,
    )


# ---------------------------------------------------------------------------------------------
# Auditor searches


@dataclass(frozen=True)
class EventFilters:
    occurred_from: dt.datetime | None = None
    occurred_to: dt.datetime | None = None
    consumer: str = ""
    provider: str = ""
    attestation_type: str = ""
    type: str = ""
    consent_id: uuid.UUID | None = None
    citizen_ref: str = ""

    def as_detail(self) -> dict[str, str | None]:
        """The filters as recorded in the auditor's own audit event."""
        return {
            "from": self.occurred_from.isoformat() if self.occurred_from else None,
            "to": self.occurred_to.isoformat() if self.occurred_to else None,
            "consumer": self.consumer,
            "provider": self.provider,
            "attestation_type": self.attestation_type,
            "type": self.type,
            "consent_id": str(self.consent_id) if self.consent_id else None,
            "citizen_ref": self.citizen_ref,
        }


@dataclass
class EventPage:
    events: list[AuditEvent]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def cursor_encode(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{event_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "v1" or not number.isdigit():
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("The cursor is not valid.", errors={"cursor": ["invalid cursor"]}) from None


def events_matching(filters: EventFilters) -> QuerySet[AuditEvent]:
    """Events matching the filters, newest first, with `leaf_index` (None until sealed)."""
    queryset = AuditEvent.objects.annotate(leaf_index=F("leaf__index")).order_by("-id")
    if filters.occurred_from:
        queryset = queryset.filter(occurred_at__gte=filters.occurred_from)
    if filters.occurred_to:
        queryset = queryset.filter(occurred_at__lt=filters.occurred_to)
    for name in ("consumer", "provider", "attestation_type", "type", "citizen_ref"):
        value = getattr(filters, name)
        if value:
            queryset = queryset.filter(**{name: value})
    if filters.consent_id:
        queryset = queryset.filter(consent_id=filters.consent_id)
    return queryset


def events_search(*, filters: EventFilters, cursor: str | None = None, limit: int = 50) -> EventPage:
    """One page of an auditor's search (keyset pagination on id, newest first)."""
    queryset = events_matching(filters)
    if cursor:
        queryset = queryset.filter(id__lt=cursor_decode(cursor))
    events = list(queryset[: limit + 1])
    next_cursor = cursor_encode(events[limit - 1].pk) if len(events) > limit else None
    return EventPage(events=events[:limit], next_cursor=next_cursor)


# ---------------------------------------------------------------------------------------------
# A citizen's own history


def events_for_citizen(*, citizen_ref: str, limit: int = 100, before_id: int | None = None) -> list[AuditEvent]:
    """Every event about this citizen, newest first, in one query.

    Each event carries `leaf_index` (int, or None while not sealed yet). `before_id` pages on.
    An empty citizen_ref matches nothing (events about no citizen have it empty).
    """
    if not citizen_ref:
        return []
    queryset = AuditEvent.objects.filter(citizen_ref=citizen_ref).annotate(leaf_index=F("leaf__index"))
    if before_id is not None:
        queryset = queryset.filter(id__lt=before_id)
    return list(queryset.order_by("-id")[:limit])


@dataclass(frozen=True)
class HistoryRow:
    """One line of a citizen's history: who, from whom, what, why, when, under which consent."""

    event_id: int
    type: str
    who: str  # the consumer's SIRET (or the actor for auditor and citizen actions)
    from_whom: str  # the provider's SIRET
    attestation_type: str
    fields: list[str]
    why: str  # the purpose code
    when: dt.datetime
    consent_id: uuid.UUID | None
    actor_kind: str
    leaf_index: int | None
    actor: str = ""  # a citizen actor's keyed reference, an organisation's SIRET…
    detail: dict[str, Any] = field(default_factory=dict)  # small facts: a ground, a mandate's id

    @property
    def sealed(self) -> bool:
        return self.leaf_index is not None


def history_rows_for_citizen(*, citizen_ref: str, limit: int = 100, before_id: int | None = None) -> list[HistoryRow]:
    """`events_for_citizen` shaped for the citizen's history page (organisation names: SIRETs)."""
    return [
        HistoryRow(
            event_id=event.pk,
            type=event.type,
            who=event.consumer or (event.actor if event.type.startswith("auditor.") else ""),
            from_whom=event.provider,
            attestation_type=event.attestation_type,
            fields=list(event.fields or []),
            why=event.purpose,
            when=event.occurred_at,
            consent_id=event.consent_id,
            actor_kind=event.actor_kind,
            leaf_index=getattr(event, "leaf_index", None),
            actor=event.actor,
            detail=dict(event.detail or {}),
        )
        for event in events_for_citizen(citizen_ref=citizen_ref, limit=limit, before_id=before_id)
    ]


@dataclass(frozen=True)
class Accesses:
    """How often the data a consent covers was obtained, and when last."""

    count: int
    last: dt.datetime | None


def accesses_for_citizen(*, citizen_ref: str, consent_ids: list[uuid.UUID]) -> dict[uuid.UUID, Accesses]:
    """Per consent of this citizen, the exchanges that delivered data (one query); a consent with
    none is absent. Read from the trail, the record the citizen can check."""
    if not citizen_ref or not consent_ids:
        return {}
    rows = (
        AuditEvent.objects.filter(
            citizen_ref=citizen_ref, consent_id__in=consent_ids, type=EventType.EXCHANGE_SUCCEEDED
        )
        .values("consent_id")
        .annotate(count=Count("id"), last=Max("occurred_at"))
    )
    return {uuid.UUID(str(row["consent_id"])): Accesses(count=row["count"], last=row["last"]) for row in rows}


def objections_for_citizen(*, citizen_ref: str, event_ids: list[int]) -> dict[int, Objection]:
    """This citizen's cases about these events, by event id (one query)."""
    if not citizen_ref or not event_ids:
        return {}
    found = Objection.objects.filter(citizen_ref=citizen_ref, event_id__in=event_ids)
    return {objection.event_id: objection for objection in found}


def objections_for_auditors(*, status: str | None = None) -> QuerySet[Objection]:
    """Every case, the open ones first, then the newest."""
    queryset = Objection.objects.select_related("event")
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by(Case(When(status=Objection.Status.OPEN, then=0), default=1), "-created_at")


def proof_bundle(*, event_id: int, citizen_ref: str) -> dict[str, Any]:
    """A proof, verifiable offline with `audit.tlog.export.verify_bundle`, that the event is in the log.

    NotFound if the event is not about this citizen or is not sealed yet. Three queries.
    """
    event = (
        AuditEvent.objects.filter(pk=event_id, citizen_ref=citizen_ref)
        .exclude(citizen_ref="")
        .annotate(leaf_index=F("leaf__index"))
        .first()
    )
    leaf_index = getattr(event, "leaf_index", None)
    if event is None or leaf_index is None:
        raise NotFound("No sealed event with this id in your history.")
    proof = inclusion_proof_get(index=leaf_index)
    return {
        "format": BUNDLE_FORMAT,
        "event": event_projection(event),
        "leaf_index": leaf_index,
        "tree_size": proof.tree_size,
        "inclusion_proof": [digest.hex() for digest in proof.proof],
        "checkpoint": proof.checkpoint,
        "verifier_key": log_verifier_key(),
    }


# ---------------------------------------------------------------------------------------------
# Public statistics

SUPPRESSION_THRESHOLD = 10


# The trail's dates live well inside these bounds; outside them date arithmetic overflows.
DATE_MIN = dt.date(1970, 1, 1)
DATE_MAX = dt.date(9998, 12, 31)


def validate_trail_date(value: dt.date | dt.datetime | None) -> None:
    day = value.date() if isinstance(value, dt.datetime) else value
    if day is not None and not DATE_MIN <= day <= DATE_MAX:
        raise DjangoValidationError(f"Give a date between {DATE_MIN} and {DATE_MAX}.", code="out_of_range")


def exchange_stats_daily(*, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
    """Daily succeeded-exchange counts per attestation type, consumer and provider.

    Counts below SUPPRESSION_THRESHOLD are withheld (count None, suppressed True): a small count
    about one administration and one day can point at a person.
    """
    start = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    rows = (
        AuditEvent.objects.filter(type=EventType.EXCHANGE_SUCCEEDED, occurred_at__gte=start, occurred_at__lt=end)
        .annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
        .values("day", "attestation_type", "consumer", "provider")
        .annotate(count=Count("id"))
        .order_by("day", "attestation_type", "consumer", "provider")
    )
    result = []
    for row in rows:
        suppressed = row["count"] < SUPPRESSION_THRESHOLD
        result.append(
            {
                "date": row["day"].isoformat(),
                "attestation_type": row["attestation_type"],
                "consumer": row["consumer"],
                "provider": row["provider"],
                "count": None if suppressed else row["count"],
                "suppressed": suppressed,
            }
        )
    return result
