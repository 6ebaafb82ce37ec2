from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from audit.models import ActorKind, AuditEvent, EventType
from audit.sealer import seal_after_commit
from core.compiled import CompiledInsert
from core.correlation import get_correlation_id

DetailValue = str | int | bool | None

# Every exchange writes one: compiled once (core.compiled), not on every call.
EVENT_INSERT = CompiledInsert(AuditEvent)


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, "system")


def event_row(
    *,
    type: EventType,
    actor: Actor,
    citizen_ref: str = "",
    consumer: str = "",
    provider: str = "",
    attestation_type: str = "",
    fields: Sequence[str] = (),
    purpose: str = "",
    consent_id: uuid.UUID | None = None,
    exchange_id: uuid.UUID | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> dict[str, Any]:
    """The stored values of one event (for `EVENT_INSERT`), the correlation id included."""
    return {
        "type": type,
        "actor_kind": actor.kind,
        "actor": actor.id,
        "citizen_ref": citizen_ref,
        "consumer": consumer,
        "provider": provider,
        "attestation_type": attestation_type,
        "fields": list(fields),
        "purpose": purpose,
        "consent_id": consent_id,
        "exchange_id": exchange_id,
        "correlation_id": get_correlation_id(),
        "detail": dict(detail or {}),
    }


def events_recorded() -> None:
    """Call once events were written in the current transaction (or statement)."""
    if settings.AUDIT_SEAL_ON_COMMIT:
        # Embedded default only (no beat): production leaves sealing to the beat task, so the
        # request path never waits for it.
        transaction.on_commit(seal_after_commit)


def event_record(**facts: Any) -> int:
    """Records one event (`event_row`'s facts); returns its id. Must run inside the transaction
    of the action it records."""
    if not transaction.get_connection().in_atomic_block:
        # An event written outside the action's transaction could survive a rolled-back action,
        # or be lost when the action commits.
        raise RuntimeError("event_record must be called inside the action's transaction.atomic block")
    event_id: int = EVENT_INSERT.run(**event_row(**facts))
    events_recorded()
    return event_id


# Justifications are free text: kept short, and they must not contain personal data.
JUSTIFICATION_MAX = 500


@transaction.atomic
def auditor_search_record(
    *,
    actor: Actor,
    filters: Mapping[str, DetailValue],
    justification: str = "",
    export_format: str = "",
) -> int:
    """Records an auditor's search (or export, with `export_format`) in its own transaction.

    The searched citizen reference, if any, goes in the event's citizen_ref, so the citizen sees
    in their own history that an auditor looked them up, and why.
    """
    detail: dict[str, DetailValue] = {key: value for key, value in filters.items() if value not in (None, "")}
    citizen = str(detail.pop("citizen_ref", "") or "")
    if justification:
        detail["justification"] = justification.strip()[:JUSTIFICATION_MAX]
    if export_format:
        detail["format"] = export_format
    return event_record(
        type=EventType.AUDITOR_EXPORTED if export_format else EventType.AUDITOR_SEARCHED,
        actor=actor,
        citizen_ref=citizen,
        detail=detail,
    )
