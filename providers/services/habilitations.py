"""Habilitations: a consumer's request to use one attestation type, and its decision (DataPass).

    submitted → changes_requested ⇄ submitted → approved | refused;  approved → revoked

Every transition is one of the services below: it validates, locks the row (two operators
clicking at once must not both decide), changes the status, bumps `version` and writes exactly
one `habilitation.*` audit event, all in one transaction. A refused transition changes nothing.

An organisation's webhook secret (the Standard Webhooks `v1` HMAC secret) is set and rotated here too.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from core.encryption import decrypt, encrypt
from core.errors import InvalidTransition, PermissionDeniedError, ValidationError
from providers.models import AttestationType, Habilitation, Organisation

Status = Habilitation.Status

MAX_RETENTION_DAYS = 3650
MAX_TEXT_LENGTH = 2000
# Who may act: the consumer asks, the provider (or an operator) decides; the system seeds demos.
SUBMITTERS = {ActorKind.CONSUMER, ActorKind.OPERATOR, ActorKind.SYSTEM}
DECIDERS = {ActorKind.PROVIDER, ActorKind.OPERATOR, ActorKind.SYSTEM}
REVOKERS = {ActorKind.CONSUMER, ActorKind.PROVIDER, ActorKind.OPERATOR, ActorKind.SYSTEM}
EDITABLE = ("fields", "purpose_code", "purpose_text", "legal_basis", "retention_days", "dpo_email")

# Standard Webhooks: a symmetric secret is 24 to 64 random bytes, shown as `whsec_` + base64.
WEBHOOK_SECRET_BYTES = 32
WEBHOOK_SECRET_PREFIX = "whsec_"
# How long the previous secret keeps signing after a rotation: time for the receiver to switch.
WEBHOOK_SECRET_OVERLAP = dt.timedelta(hours=24)
WEBHOOK_SECRET_PURPOSE = "webhook-secret"

EVENT_TYPES = {
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
    fields: Sequence[str],
    purpose_code: str,
    purpose_text: str,
    legal_basis: str,
    retention_days: int,
    dpo_email: str,
    actor: Actor,
) -> Habilitation:
    # Locking the consumer serialises its submissions, so two identical requests cannot both
    # pass the "nothing pending" check below.
    consumer = Organisation.objects.select_for_update().get(pk=consumer.pk)
    _require_actor(actor, SUBMITTERS, consumer_siret=consumer.siret)
    terms = _validated_terms(
        consumer=consumer,
        attestation_type=attestation_type,
        fields=fields,
        purpose_code=purpose_code,
        purpose_text=purpose_text,
        legal_basis=legal_basis,
        retention_days=retention_days,
        dpo_email=dpo_email,
    )
    pending = Habilitation.objects.filter(
        consumer=consumer,
        attestation_type=attestation_type,
        status__in=[Status.SUBMITTED, Status.CHANGES_REQUESTED],
    )
    if pending.exists():
        raise InvalidTransition("A habilitation request for this attestation type is already under review.")
    now = timezone.now()
    habilitation = Habilitation.objects.create(
        consumer=consumer,
        attestation_type=attestation_type,
        status=Status.SUBMITTED,
        created_at=now,
        updated_at=now,
        **terms,
    )
    _record(habilitation, actor=actor, previous="")
    return habilitation


@transaction.atomic
def habilitation_request_changes(*, habilitation: Habilitation, reason: str, actor: Actor) -> Habilitation:
    return _transition(
        habilitation, to=Status.CHANGES_REQUESTED, allowed_from={Status.SUBMITTED}, reason=reason, actor=actor
    )


@transaction.atomic
def habilitation_resubmit(*, habilitation: Habilitation, actor: Actor, **changes: Any) -> Habilitation:
    """The consumer answers a change request, optionally amending the terms (`fields=...`)."""
    locked = _locked(habilitation)
    _require_actor(actor, SUBMITTERS, consumer_siret=locked.consumer.siret)
    _require_status(locked, {Status.CHANGES_REQUESTED}, to=Status.SUBMITTED)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError(
            "Only the terms of the request can be changed.", errors={name: "Not editable." for name in unknown}
        )
    current = {name: getattr(locked, name) for name in EDITABLE}
    terms = _validated_terms(
        consumer=locked.consumer, attestation_type=locked.attestation_type, **{**current, **changes}
    )
    for name, value in terms.items():
        setattr(locked, name, value)
    return _apply(locked, to=Status.SUBMITTED, reason="", actor=actor)


@transaction.atomic
def habilitation_approve(
    *, habilitation: Habilitation, actor: Actor, valid_until: dt.date | None = None
) -> Habilitation:
    if valid_until is not None and valid_until < timezone.localdate():
        raise ValidationError("The end of validity is in the past.", errors={"valid_until": "Must not be in the past."})
    locked = _locked(habilitation)
    _require_actor(actor, DECIDERS, provider_siret=locked.attestation_type.holder.siret)
    _require_status(locked, {Status.SUBMITTED}, to=Status.APPROVED)
    if not locked.consumer.active:
        raise ValidationError("The consumer organisation is not active.", errors={"consumer": "Inactive."})
    locked.valid_until = valid_until
    return _apply(locked, to=Status.APPROVED, reason="", actor=actor, decided=True)


@transaction.atomic
def habilitation_refuse(*, habilitation: Habilitation, reason: str, actor: Actor) -> Habilitation:
    return _transition(habilitation, to=Status.REFUSED, allowed_from={Status.SUBMITTED}, reason=reason, actor=actor)


@transaction.atomic
def habilitation_revoke(*, habilitation: Habilitation, reason: str, actor: Actor) -> Habilitation:
    return _transition(habilitation, to=Status.REVOKED, allowed_from={Status.APPROVED}, reason=reason, actor=actor)


def _transition(
    habilitation: Habilitation, *, to: Status, allowed_from: set[Status], reason: str, actor: Actor
) -> Habilitation:
    reason = _reason(reason)
    locked = _locked(habilitation)
    if to == Status.REVOKED:
        _require_actor(
            actor, REVOKERS, consumer_siret=locked.consumer.siret, provider_siret=locked.attestation_type.holder.siret
        )
    else:
        _require_actor(actor, DECIDERS, provider_siret=locked.attestation_type.holder.siret)
    _require_status(locked, allowed_from, to=to)
    return _apply(locked, to=to, reason=reason, actor=actor, decided=to != Status.CHANGES_REQUESTED)


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
    actor: Actor, kinds: set[ActorKind], *, consumer_siret: str | None = None, provider_siret: str | None = None
) -> None:
    if actor.kind not in kinds:
        raise PermissionDeniedError(f"A {actor.kind} may not perform this change.")
    # Organisations act under their SIRET: one may not decide for, or ask in the name of, another.
    if actor.kind == ActorKind.CONSUMER and actor.id != consumer_siret:
        raise PermissionDeniedError("Only the consumer organisation itself may do this.")
    if actor.kind == ActorKind.PROVIDER and actor.id != provider_siret:
        raise PermissionDeniedError("Only the provider holding this attestation type may do this.")


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
    _record(habilitation, actor=actor, previous=previous)
    return habilitation


def _record(habilitation: Habilitation, *, actor: Actor, previous: str) -> None:
    # The reason stays on the row: free text has no place in a published trail.
    event_record(
        type=EVENT_TYPES[Status(habilitation.status)],
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


def _validated_terms(
    *,
    consumer: Organisation,
    attestation_type: AttestationType,
    fields: Sequence[str],
    purpose_code: str,
    purpose_text: str,
    legal_basis: str,
    retention_days: int,
    dpo_email: str,
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if not consumer.active:
        errors["consumer"] = "The consumer organisation is not active."
    if consumer.pk == attestation_type.holder_id:
        errors["consumer"] = "An organisation does not need a habilitation for its own data."
    if not attestation_type.active:
        errors["attestation_type"] = "This attestation type is not offered."
    known = [field.name for field in attestation_type.fields.all()]
    if isinstance(fields, str) or not isinstance(fields, Sequence) or not all(isinstance(f, str) for f in fields):
        errors["fields"] = "A list of field names."
        chosen: list[str] = []
    else:
        chosen = list(dict.fromkeys(fields))
        unknown = sorted(set(chosen) - set(known))
        if not chosen:
            errors["fields"] = "Choose at least one field."
        elif unknown:
            errors["fields"] = f"Unknown field(s) for this attestation type: {', '.join(unknown)}."
    if not isinstance(purpose_code, str) or purpose_code not in attestation_type.purpose_codes:
        errors["purpose_code"] = "Not a purpose this attestation type accepts."
    for name, text in (("purpose_text", purpose_text), ("legal_basis", legal_basis)):
        if not isinstance(text, str) or not text.strip():
            errors[name] = "Required."
        elif len(text) > MAX_TEXT_LENGTH:
            errors[name] = f"At most {MAX_TEXT_LENGTH} characters."
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days <= 0:
        errors["retention_days"] = "A positive number of days."
    elif retention_days > MAX_RETENTION_DAYS:
        errors["retention_days"] = f"At most {MAX_RETENTION_DAYS} days."
    try:
        validate_email(dpo_email)
    except DjangoValidationError:
        errors["dpo_email"] = "A valid email address."
    if errors:
        raise ValidationError("The habilitation request is not valid.", errors=errors)
    # Stored in the catalogue's order, whatever order they were asked in.
    return {
        "fields": [name for name in known if name in chosen],
        "purpose_code": purpose_code,
        "purpose_text": purpose_text.strip(),
        "legal_basis": legal_basis.strip(),
        "retention_days": retention_days,
        "dpo_email": dpo_email,
    }


@transaction.atomic
def organisation_webhook_secret_rotate(*, organisation: Organisation) -> str:
    """Gives the organisation a new webhook secret and returns it as `whsec_…`, to hand over to the
    organisation. The previous secret keeps signing beside it for WEBHOOK_SECRET_OVERLAP, so a
    receiver switching to the new one misses no webhook (one earlier still is dropped at once)."""
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    secret = secrets.token_bytes(WEBHOOK_SECRET_BYTES)
    locked.webhook_secret_previous = bytes(locked.webhook_secret)
    locked.webhook_secret_rotated_at = timezone.now() if locked.webhook_secret else None
    locked.webhook_secret = encrypt(secret, purpose=WEBHOOK_SECRET_PURPOSE, associated_data=_secret_row(locked))
    locked.save(update_fields=["webhook_secret", "webhook_secret_previous", "webhook_secret_rotated_at"])
    organisation.webhook_secret = locked.webhook_secret
    organisation.webhook_secret_previous = locked.webhook_secret_previous
    organisation.webhook_secret_rotated_at = locked.webhook_secret_rotated_at
    return webhook_secret_text(secret)


def organisation_webhook_secrets(*, organisation: Organisation, now: dt.datetime) -> tuple[bytes, ...]:
    """The secrets that sign the organisation's webhooks at `now`, current first: none before
    the first rotation, two during an overlap."""
    sealed = [bytes(organisation.webhook_secret)] if organisation.webhook_secret else []
    rotated_at = organisation.webhook_secret_rotated_at
    if organisation.webhook_secret_previous and rotated_at and now < rotated_at + WEBHOOK_SECRET_OVERLAP:
        sealed.append(bytes(organisation.webhook_secret_previous))
    row = _secret_row(organisation)
    return tuple(decrypt(secret, purpose=WEBHOOK_SECRET_PURPOSE, associated_data=row) for secret in sealed)


def webhook_secret_text(secret: bytes) -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secret).decode("ascii")


def _secret_row(organisation: Organisation) -> bytes:
    # Binds the ciphertext to its organisation: copied onto another row, it does not decrypt.
    return f"organisation:{organisation.pk}".encode()
