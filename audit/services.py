from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import ActorKind, AuditEvent, EventType, Objection
from audit.sealer import seal_after_commit
from core.compiled import CompiledInsert
from core.correlation import get_correlation_id
from core.errors import InvalidTransition, NotFound, PermissionDeniedError, ValidationError

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


# --- Objections: "I don't recognise this access" -------------------------------------------------

OBJECTION_TEXT_MAX = 2000


def _text(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError("Say what is wrong.", errors={field: [{"code": "required", "message": "Required."}]})
    if len(value) > OBJECTION_TEXT_MAX or "\x00" in value:
        raise ValidationError(
            "The text is too long.", errors={field: [{"code": "too_long", "message": f"At most {OBJECTION_TEXT_MAX}."}]}
        )
    return value


def _objection_event(objection: Objection, type: str, actor: Actor) -> None:
    event = objection.event
    event_record(
        type=type,
        actor=actor,
        citizen_ref=objection.citizen_ref,
        consumer=event.consumer,
        provider=event.provider,
        attestation_type=event.attestation_type,
        consent_id=event.consent_id,
        exchange_id=event.exchange_id,
        # The case and the event it is about; never the citizen's or the auditor's words.
        detail={"objection": str(objection.pk), "event": event.pk},
    )


@transaction.atomic
def objection_open(*, event_id: int, citizen_ref: str, text: str, actor: Actor) -> Objection:
    """The citizen objects to one event of their own history (NotFound for anyone else's). Again
    on the same event: the case already open, unchanged."""
    event = AuditEvent.objects.filter(pk=event_id, citizen_ref=citizen_ref).first() if citizen_ref else None
    if event is None:
        raise NotFound("No such event.")
    existing = Objection.objects.filter(event=event, citizen_ref=citizen_ref).first()
    if existing is not None:
        return existing
    objection = Objection.objects.create(
        event=event, citizen_ref=citizen_ref, consumer=event.consumer, text=_text(text, "text")
    )
    _objection_event(objection, EventType.OBJECTION_OPENED, actor)
    return objection


def objection_concerns(objection: Objection, siret: str) -> bool:
    """Whether the case is about the organisation `siret` (the one the citizen names, or either
    side of the event)."""
    return bool(siret) and siret in {objection.consumer, objection.event.consumer, objection.event.provider}


def _require_impartial(objection: Objection, actor_siret: str) -> None:
    if objection_concerns(objection, actor_siret):
        raise PermissionDeniedError("An auditor does not handle a case about their own organisation.")


@transaction.atomic
def objection_answer(*, objection: Objection, answer: str, actor: Actor, actor_siret: str = "") -> Objection:
    """An auditor answers (or answers again, more fully) a case that is not closed, unless it is
    about their own organisation (`actor_siret`)."""
    objection = Objection.objects.select_for_update().select_related("event").get(pk=objection.pk)
    _require_impartial(objection, actor_siret)
    if objection.status == Objection.Status.CLOSED:
        raise InvalidTransition("This case is closed.")
    objection.answer = _text(answer, "answer")
    objection.status = Objection.Status.ANSWERED
    objection.answered_at = timezone.now()
    objection.save(update_fields=["answer", "status", "answered_at"])
    _objection_event(objection, EventType.OBJECTION_ANSWERED, actor)
    return objection


@transaction.atomic
def objection_close(*, objection: Objection, actor: Actor, actor_siret: str = "") -> Objection:
    """An auditor closes an answered case, unless it is about their own organisation."""
    objection = Objection.objects.select_for_update().select_related("event").get(pk=objection.pk)
    _require_impartial(objection, actor_siret)
    if objection.status != Objection.Status.ANSWERED:
        raise InvalidTransition("Only an answered case can be closed.")
    objection.status = Objection.Status.CLOSED
    objection.closed_at = timezone.now()
    objection.save(update_fields=["status", "closed_at"])
    _objection_event(objection, EventType.OBJECTION_CLOSED, actor)
    return objection
