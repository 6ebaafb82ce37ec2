from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction

from audit.context import get_correlation_id
from audit.models import ActorKind, AuditEvent, EventType

DetailValue = str | int | bool | None


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, "system")


def event_record(
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
) -> AuditEvent:
    """Records one event. Must run inside the transaction of the action it records."""
    if not transaction.get_connection().in_atomic_block:
        # An event written outside the action's transaction could survive a rolled-back action,
        # or be lost when the action commits.
        raise RuntimeError("event_record must be called inside the action's transaction.atomic block")
    return AuditEvent.objects.create(
        type=type,
        actor_kind=actor.kind,
        actor=actor.id,
        citizen_ref=citizen_ref,
        consumer=consumer,
        provider=provider,
        attestation_type=attestation_type,
        fields=list(fields),
        purpose=purpose,
        consent_id=consent_id,
        exchange_id=exchange_id,
        correlation_id=get_correlation_id(),
        detail=dict(detail or {}),
    )
