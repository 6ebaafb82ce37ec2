"""Habilitations: a consumer's request to use one attestation type, and its decision (DataPass).

    draft → submitted → changes_requested ⇄ submitted → approved | refused;  approved → revoked

and, while approved, an extension past `valid_until` asked by the consumer and granted or declined
by the provider. Every step is one of the services below: it validates, locks the row (two
agents clicking at once must not both decide), changes the row, bumps `version`, writes one
`habilitation.*` audit event and one step of the request's history, all in one transaction. A
refused step changes nothing.

Who may: the consumer organisation asks (its administrators and habilitation managers, an
operator, the system for demo data); the provider holding the type decides (likewise on its side);
either may revoke.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from core.errors import InvalidTransition, PermissionDeniedError, ValidationError
from providers import rules
from providers.models import (
    AttestationType,
    Habilitation,
    HabilitationStep,
    Organisation,
)
from providers.selectors import actor_holds_role
from providers.services.emails import habilitation_notify
from providers.services.terms import MAX_TEXT_LENGTH, validated_terms

Status = Habilitation.Status

# Who may act: the consumer asks, the provider (or an operator) decides; the system seeds demos.
SUBMITTERS = {ActorKind.CONSUMER, ActorKind.AGENT, ActorKind.OPERATOR, ActorKind.SYSTEM}
DECIDERS = {ActorKind.PROVIDER, ActorKind.AGENT, ActorKind.OPERATOR, ActorKind.SYSTEM}
REVOKERS = {ActorKind.CONSUMER, ActorKind.PROVIDER, ActorKind.AGENT, ActorKind.OPERATOR, ActorKind.SYSTEM}
EDITABLE = (
    "fields",
    "purpose_code",
    "purpose_text",
    "legal_basis",
    "legal_basis_reference",
    "retention_days",
    "dpo_name",
    "dpo_email",
    "expected_volume",
    "return_url_origins",
)

EVENT_TYPES = {
    Status.DRAFT: EventType.HABILITATION_DRAFTED,
    Status.SUBMITTED: EventType.HABILITATION_SUBMITTED,
    Status.CHANGES_REQUESTED: EventType.HABILITATION_CHANGES_REQUESTED,
    Status.APPROVED: EventType.HABILITATION_APPROVED,
    Status.REFUSED: EventType.HABILITATION_REFUSED,
    Status.REVOKED: EventType.HABILITATION_REVOKED,
}


@transaction.atomic
def habilitation_submit(
    *,
    consumer: Organisation,
    attestation_type: AttestationType,
    actor: Actor,
    **terms: Any,
) -> Habilitation:
    """Asks at once (the API and demo data); the portal saves a draft first."""
    consumer = _consumer_locked(consumer)
    _require_actor(actor, SUBMITTERS, consumer=consumer)
    validated = validated_terms(consumer=consumer, attestation_type=attestation_type, complete=True, **terms)
    _require_nothing_pending(consumer, attestation_type)
    now = timezone.now()
    habilitation = Habilitation.objects.create(
        consumer=consumer,
        attestation_type=attestation_type,
        status=Status.SUBMITTED,
        created_at=now,
        updated_at=now,
        **validated,
    )
    _record(habilitation, actor=actor, previous="")
    return habilitation


@transaction.atomic
def habilitation_draft_save(
    *,
    consumer: Organisation,
    attestation_type: AttestationType,
    actor: Actor,
    habilitation: Habilitation | None = None,
    **terms: Any,
) -> Habilitation:
    """Creates or updates a draft: what is given is checked against the type, nothing is required yet."""
    _require_actor(actor, SUBMITTERS, consumer=consumer)
    if habilitation is not None:
        habilitation = _locked(habilitation)
        if habilitation.consumer_id != consumer.pk or habilitation.attestation_type_id != attestation_type.pk:
            raise PermissionDeniedError("This draft belongs to another request.")
        _require_status(habilitation, {Status.DRAFT}, to=Status.DRAFT)
    validated = validated_terms(consumer=consumer, attestation_type=attestation_type, complete=False, **terms)
    now = timezone.now()
    if habilitation is None:
        habilitation = Habilitation(
            consumer=consumer, attestation_type=attestation_type, status=Status.DRAFT, created_at=now
        )
    else:
        habilitation.version += 1
    for name, value in validated.items():
        setattr(habilitation, name, value)
    habilitation.updated_at = now
    habilitation.save()
    _record(habilitation, actor=actor, previous=Status.DRAFT if habilitation.version > 1 else "")
    return habilitation


@transaction.atomic
def habilitation_draft_submit(*, habilitation: Habilitation, actor: Actor) -> Habilitation:
    consumer = _consumer_locked(habilitation.consumer)
    locked = _locked(habilitation)
    _require_actor(actor, SUBMITTERS, consumer=consumer)
    _require_status(locked, {Status.DRAFT}, to=Status.SUBMITTED)
    current = {name: getattr(locked, name) for name in EDITABLE}
    validated_terms(consumer=consumer, attestation_type=locked.attestation_type, complete=True, **current)
    _require_nothing_pending(consumer, locked.attestation_type)
    return _apply(locked, to=Status.SUBMITTED, reason="", actor=actor)


@transaction.atomic
def habilitation_request_changes(*, habilitation: Habilitation, reason: str, actor: Actor) -> Habilitation:
    return _transition(
        habilitation, to=Status.CHANGES_REQUESTED, allowed_from={Status.SUBMITTED}, reason=reason, actor=actor
    )


@transaction.atomic
def habilitation_resubmit(*, habilitation: Habilitation, actor: Actor, **changes: Any) -> Habilitation:
    """The consumer answers a change request, optionally amending the terms (`fields=...`)."""
    locked = _locked(habilitation)
    _require_actor(actor, SUBMITTERS, consumer=locked.consumer)
    _require_status(locked, {Status.CHANGES_REQUESTED}, to=Status.SUBMITTED)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError(
            "Only the terms of the request can be changed.", errors={name: "Not editable." for name in unknown}
        )
    current = {name: getattr(locked, name) for name in EDITABLE}
    terms = validated_terms(
        consumer=locked.consumer, attestation_type=locked.attestation_type, complete=True, **{**current, **changes}
    )
    for name, value in terms.items():
        setattr(locked, name, value)
    return _apply(locked, to=Status.SUBMITTED, reason="", actor=actor)


@transaction.atomic
def habilitation_approve(
    *, habilitation: Habilitation, actor: Actor, valid_until: dt.date | None = None
) -> Habilitation:
    _require_future(valid_until, name="valid_until")
    locked = _locked(habilitation)
    _require_actor(actor, DECIDERS, provider=locked.attestation_type.holder)
    _require_status(locked, {Status.SUBMITTED}, to=Status.APPROVED)
    consumer = _consumer_locked(locked.consumer)
    if not consumer.active:
        raise ValidationError("The consumer organisation is not active.", errors={"consumer": "Inactive."})
    # The origins asked for become the consumer's: its return_url may now point there.
    added = [origin for origin in locked.return_url_origins if origin not in consumer.return_url_origins]
    if added:
        consumer.return_url_origins = [*consumer.return_url_origins, *added]
        consumer.save(update_fields=["return_url_origins"])
    locked.valid_until = valid_until
    return _apply(locked, to=Status.APPROVED, reason="", actor=actor, decided=True)


@transaction.atomic
def habilitation_refuse(*, habilitation: Habilitation, reason: str, actor: Actor) -> Habilitation:
    return _transition(habilitation, to=Status.REFUSED, allowed_from={Status.SUBMITTED}, reason=reason, actor=actor)


@transaction.atomic
def habilitation_revoke(*, habilitation: Habilitation, reason: str, actor: Actor) -> Habilitation:
    return _transition(habilitation, to=Status.REVOKED, allowed_from={Status.APPROVED}, reason=reason, actor=actor)


@transaction.atomic
def habilitation_extension_request(
    *, habilitation: Habilitation, until: dt.date, reason: str, actor: Actor
) -> Habilitation:
    """The consumer asks to keep an approved habilitation past its `valid_until`, before that day."""
    reason = _reason(reason)
    locked = _locked(habilitation)
    _require_actor(actor, SUBMITTERS, consumer=locked.consumer)
    today = timezone.localdate()
    if not rules.habilitation_in_force(
        status=locked.status, valid_until=locked.valid_until, type_active=locked.attestation_type.active, today=today
    ):
        raise InvalidTransition("Only a habilitation in force can be extended.", extra={"status": locked.status})
    if locked.valid_until is None:
        raise InvalidTransition("This habilitation has no end of validity.")
    if locked.extension_until is not None:
        raise InvalidTransition("An extension is already asked for.")
    if until <= locked.valid_until:
        raise ValidationError("The new end must come after the current one.", errors={"until": "Too early."})
    locked.extension_until, locked.extension_reason = until, reason
    return _step(
        locked,
        type=EventType.HABILITATION_EXTENSION_REQUESTED,
        action="extension_requested",
        reason=reason,
        actor=actor,
    )


@transaction.atomic
def habilitation_extension_grant(*, habilitation: Habilitation, actor: Actor) -> Habilitation:
    locked = _locked(habilitation)
    _require_actor(actor, DECIDERS, provider=locked.attestation_type.holder)
    until = _extension_pending(locked)
    _require_future(until, name="until")
    locked.valid_until, locked.extension_until, locked.extension_reason = until, None, ""
    return _step(locked, type=EventType.HABILITATION_EXTENDED, action="extended", reason="", actor=actor)


@transaction.atomic
def habilitation_extension_refuse(*, habilitation: Habilitation, reason: str, actor: Actor) -> Habilitation:
    reason = _reason(reason)
    locked = _locked(habilitation)
    _require_actor(actor, DECIDERS, provider=locked.attestation_type.holder)
    _extension_pending(locked)
    locked.extension_until, locked.extension_reason = None, ""
    return _step(
        locked, type=EventType.HABILITATION_EXTENSION_REFUSED, action="extension_refused", reason=reason, actor=actor
    )


def _extension_pending(habilitation: Habilitation) -> dt.date:
    if habilitation.status != Status.APPROVED or habilitation.extension_until is None:
        raise InvalidTransition("No extension is asked for.", extra={"status": habilitation.status})
    return habilitation.extension_until


def _require_future(day: dt.date | None, *, name: str) -> None:
    if day is not None and day < timezone.localdate():
        raise ValidationError("The end of validity is in the past.", errors={name: "Must not be in the past."})


def _require_nothing_pending(consumer: Organisation, attestation_type: AttestationType) -> None:
    pending = Habilitation.objects.filter(
        consumer=consumer,
        attestation_type=attestation_type,
        status__in=[Status.SUBMITTED, Status.CHANGES_REQUESTED],
    )
    if pending.exists():
        raise InvalidTransition("A habilitation request for this attestation type is already under review.")


def _transition(
    habilitation: Habilitation, *, to: Status, allowed_from: set[Status], reason: str, actor: Actor
) -> Habilitation:
    reason = _reason(reason)
    locked = _locked(habilitation)
    if to == Status.REVOKED:
        _require_actor(actor, REVOKERS, consumer=locked.consumer, provider=locked.attestation_type.holder)
        locked.extension_until, locked.extension_reason = None, ""
    else:
        _require_actor(actor, DECIDERS, provider=locked.attestation_type.holder)
    _require_status(locked, allowed_from, to=to)
    return _apply(locked, to=to, reason=reason, actor=actor, decided=to != Status.CHANGES_REQUESTED)


def _consumer_locked(consumer: Organisation) -> Organisation:
    # Locking the consumer serialises its submissions, so two identical requests cannot both
    # pass the "nothing pending" check.
    return Organisation.objects.select_for_update().get(pk=consumer.pk)


def _locked(habilitation: Habilitation) -> Habilitation:
    # The status is read again under the lock: the caller's copy may be stale.
    return (
        Habilitation.objects.select_for_update(of=("self",))
        .select_related("consumer", "attestation_type__holder")
        .get(pk=habilitation.pk)
    )


def _require_status(habilitation: Habilitation, allowed: set[Status], *, to: Status) -> None:
    if habilitation.status not in allowed:
        raise InvalidTransition(
            f"A habilitation in status '{habilitation.status}' cannot move to '{to}'.",
            extra={"habilitation_status": habilitation.status},
        )


def _require_actor(
    actor: Actor,
    kinds: set[ActorKind],
    *,
    consumer: Organisation | None = None,
    provider: Organisation | None = None,
) -> None:
    if actor.kind not in kinds:
        raise PermissionDeniedError(f"A {actor.kind} may not perform this change.")
    # Organisations act under their SIRET: one may not decide for, or ask in the name of, another.
    if actor.kind == ActorKind.CONSUMER and (consumer is None or actor.id != consumer.siret):
        raise PermissionDeniedError("Only the consumer organisation itself may do this.")
    if actor.kind == ActorKind.PROVIDER and (provider is None or actor.id != provider.siret):
        raise PermissionDeniedError("Only the provider holding this attestation type may do this.")
    if actor.kind == ActorKind.AGENT:
        sides = [organisation for organisation in (consumer, provider) if organisation is not None]
        if not any(
            actor_holds_role(actor_id=actor.id, organisation=side, roles=rules.HABILITATION_ROLES) for side in sides
        ):
            raise PermissionDeniedError(
                "Only an administrator or habilitation manager of the organisation may do this."
            )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("A reason is required.", errors={"reason": "Required."})
    if len(reason) > MAX_TEXT_LENGTH:
        raise ValidationError("The reason is too long.", errors={"reason": f"At most {MAX_TEXT_LENGTH} characters."})
    return reason


def _apply(habilitation: Habilitation, *, to: Status, reason: str, actor: Actor, decided: bool = False) -> Habilitation:
    previous = habilitation.status
    now = timezone.now()
    habilitation.status = to
    habilitation.status_reason = reason
    habilitation.version += 1
    habilitation.updated_at = now
    if decided:
        habilitation.decided_at = now
    habilitation.save()
    _record(habilitation, actor=actor, previous=previous, reason=reason)
    return habilitation


def _step(habilitation: Habilitation, *, type: EventType, action: str, reason: str, actor: Actor) -> Habilitation:
    habilitation.version += 1
    habilitation.updated_at = timezone.now()
    habilitation.save()
    _record(habilitation, actor=actor, previous=habilitation.status, reason=reason, type=type, action=action)
    return habilitation


def _record(
    habilitation: Habilitation,
    *,
    actor: Actor,
    previous: str,
    reason: str = "",
    type: EventType | None = None,
    action: str = "",
) -> None:
    # The reason stays on the row and in the history: free text has no place in a published trail.
    type = type or EVENT_TYPES[Status(habilitation.status)]
    event_record(
        type=type,
        actor=actor,
        consumer=habilitation.consumer.siret,
        provider=habilitation.attestation_type.holder.siret,
        attestation_type=habilitation.attestation_type.slug,
        fields=habilitation.fields,
        purpose=habilitation.purpose_code,
        detail={
            "habilitation_id": str(habilitation.pk),
            "from": previous or None,
            "to": habilitation.status,
            "version": habilitation.version,
            "valid_until": habilitation.valid_until.isoformat() if habilitation.valid_until else None,
        },
    )
    HabilitationStep.objects.create(
        habilitation=habilitation,
        actor_kind=actor.kind,
        actor=actor.id,
        from_status=previous,
        to_status=habilitation.status,
        action=action or habilitation.status,
        reason=reason,
        valid_until=habilitation.extension_until
        if type == EventType.HABILITATION_EXTENSION_REQUESTED
        else habilitation.valid_until,
    )
    habilitation_notify(habilitation=habilitation, action=action or habilitation.status, reason=reason)


@transaction.atomic
def attestation_type_withdraw(*, attestation_type: AttestationType, reason: str, actor: Actor) -> int:
    """The holder switches a type off: out of the catalogue, and every habilitation to it that is
    approved is revoked with `reason` (its consumers are told). Returns how many were revoked."""
    reason = _reason(reason)
    locked = AttestationType.objects.select_for_update().select_related("holder").get(pk=attestation_type.pk)
    _require_actor(actor, DECIDERS, provider=locked.holder)
    if not locked.active:
        raise InvalidTransition("This attestation type is already withdrawn.")
    locked.active = False
    locked.save(update_fields=["active"])
    event_record(
        type=EventType.ATTESTATION_TYPE_WITHDRAWN,
        actor=actor,
        provider=locked.holder.siret,
        attestation_type=locked.slug,
        detail={"attestation_type": locked.slug},
    )
    approved = Habilitation.objects.filter(attestation_type=locked, status=Status.APPROVED)
    for habilitation in approved:
        _transition(habilitation, to=Status.REVOKED, allowed_from={Status.APPROVED}, reason=reason, actor=actor)
    return len(approved)
