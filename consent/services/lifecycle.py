"""Consent transitions. Each one locks the row, checks the move is allowed, saves, and writes its
audit event in the same transaction; a refused move raises and changes nothing.

    pending --approve--> active --pause--> paused --resume--> active
    pending --reject--> rejected
    pending | active | paused --revoke--> revoked      (pending: the consumer withdraws its request)
    pending | active | paused --(time)--> expired

A consent that ends (revoked or expired) takes its pending renewal request with it: that request
is revoked in the same transaction, reason `renewed_consent_ended`. A renewal approved replaces
the consent it renews: that one is revoked in the same transaction, reason `renewed`.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import RefreshToken

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from consent import rules
from consent.models import Citizen, Consent, Ground, HeldResult, WebhookDelivery
from consent.rules import ActingGround, ActingRefused
from consent.services.artefacts import consent_artefact_sign
from consent.services.representation import acting_still_holds
from consent.services.trail import acting_detail, citizen_actor, consent_event_record, consent_items
from consent.services.webhooks import webhooks_enqueue
from core.errors import (
    AuthenticationRequired,
    HabilitationMissing,
    InvalidTransition,
    LoaInsufficient,
    NotFound,
    ValidationError,
)
from providers.models import EidasLevel
from providers.rules import eidas_highest, eidas_satisfies, habilitation_in_force

Status = Consent.Status
Event = WebhookDelivery.Event


def _lock(consent: Consent) -> Consent:
    # Every transition reads the status under this lock: two concurrent decisions serialise here.
    return (
        Consent.objects.select_for_update(of=("self",))
        .select_related("consumer", "citizen", "company", "renews")
        .get(pk=consent.pk)
    )


def expiry_due(consent: Consent, now: dt.datetime | None = None) -> bool:
    return rules.expiry_due(
        status=consent.status,
        request_expires_at=consent.request_expires_at,
        valid_until=consent.valid_until,
        now=now or timezone.now(),
    )


def _refuse(consent: Consent, action: str) -> InvalidTransition:
    state = "expired" if expiry_due(consent) else consent.status
    return InvalidTransition(
        f"A consent that is {state} cannot be {action}.", extra={"consent_status": state, "consent_id": str(consent.pk)}
    )


def _require(consent: Consent, action: str, *allowed: str) -> None:
    if consent.status not in allowed or expiry_due(consent):
        raise _refuse(consent, action)


def _require_owner(consent: Consent, citizen: Citizen) -> None:
    # Selectors already keep other people's consents away; this is the last line.
    if consent.citizen_id != citizen.pk:
        raise NotFound("No such consent.")


def _require_decider(consent: Consent, citizen: Citizen) -> None:
    # The pages open a request through consent_request_open first; this is the last line.
    allowed = rules.may_decide(
        bound_to=consent.citizen_id,
        addressee=consent.addressee,
        citizen=citizen.pk,
        citizen_addressee=rules.citizen_addressee(citizen),
        code_ref=consent.code_ref,
    )
    if not allowed:
        raise NotFound("No such consent.")


def _acting(
    consent: Consent, citizen: Citizen, acting: ActingGround | None, principal: Citizen | None
) -> tuple[ActingGround, Citizen | None]:
    """The ground a decision rests on, and the person it is about (None: a company). A company's
    consent needs the ground the page established (acting_for_company); a person decides for
    themselves, or someone decides for them under a legal mandate (acting_for_person) they hold for
    `principal`; either still holding under this transaction."""
    refused = ActingRefused("Your mandate has ended or been withdrawn.", extra={"reason": "mandate_ended"})
    if consent.company_id is None:
        if acting is None or acting.ground == Ground.SUBJECT:
            _require_decider(consent, citizen)
            return ActingGround(Ground.SUBJECT), citizen
        if acting.ground != Ground.LEGAL_MANDATE or principal is None:
            raise NotFound("No such consent.")
        _require_decider(consent, principal)
        if not acting_still_holds(acting=acting, agent=citizen, principal=principal):
            raise refused
        return acting, principal
    if acting is None or acting.ground == Ground.SUBJECT:
        raise NotFound("No such consent.")
    assert consent.company is not None
    if not acting_still_holds(acting=acting, agent=citizen, company=consent.company):
        raise refused
    return acting, None


def _record_actor(consent: Consent, citizen: Citizen, acting: ActingGround) -> None:
    consent.actor = citizen
    consent.ground = acting.ground
    consent.mandate_id = acting.mandate_id
    consent.register_check_id = acting.register_check_id


_ACTOR_FIELDS = ("actor", "ground", "mandate", "register_check")


def _drop_held_results(consent: Consent) -> None:
    # Results of asynchronous exchanges not collected yet: a consent that stops serving stops
    # handing them over, in the transition's own transaction.
    HeldResult.objects.filter(consent=consent).delete()


def _save(consent: Consent, now: dt.datetime, *fields: str) -> None:
    consent.version += 1
    consent.updated_at = now
    consent.save(update_fields=[*fields, "version", "updated_at"])


def _renewal_cancel(consent: Consent, now: dt.datetime) -> None:
    # Nothing is left to renew once a consent ends: its pending renewal request ends with it, with
    # its own audit event and webhook, as when the consumer withdraws a request.
    renewals = Consent.objects.select_for_update(of=("self",)).select_related("consumer", "citizen")
    for renewal in renewals.filter(renews=consent, status=Status.PENDING):
        _system_revoke(renewal, now, reason="renewed_consent_ended")


def _system_revoke(consent: Consent, now: dt.datetime, *, reason: str, **detail: str) -> None:
    """The gateway itself ends a consent (locked by the caller), with its event and webhook, and
    with whatever its tokens and held results gave."""
    consent.status = Status.REVOKED
    consent.status_reason = reason
    _save(consent, now, "status", "status_reason")
    consent_event_record(
        type=EventType.CONSENT_REVOKED,
        actor=Actor.system(),
        consent=consent,
        items=consent_items(consent),
        detail={"reason": reason, **detail},
    )
    _tokens_revoke(consent=consent, actor=Actor.system())
    _drop_held_results(consent)
    webhooks_enqueue(consent=consent, event_type=Event.REVOKED)


def _require_renewed_in_force(consent: Consent) -> None:
    # A renewal request whose consent has ended renews nothing: the sweep may not have marked it yet.
    renewed = consent.renews
    if renewed is not None and (renewed.status not in (Status.ACTIVE, Status.PAUSED) or expiry_due(renewed)):
        raise InvalidTransition(
            "The consent this request would renew has ended.",
            extra={"consent_status": consent.status, "consent_id": str(consent.pk)},
        )


@transaction.atomic
def consent_approve(
    *,
    consent: Consent,
    citizen: Citizen,
    eidas_level: str,
    acting: ActingGround | None = None,
    principal: Citizen | None = None,
) -> Consent:
    """`citizen` approves, for themselves, or on the ground `acting` for a company or for
    `principal` (a legal mandate)."""
    consent = _lock(consent)
    _require(consent, "approved", Status.PENDING)
    acting, subject = _acting(consent, citizen, acting, principal)
    _require_renewed_in_force(consent)
    if eidas_level not in EidasLevel.values:
        raise ValidationError(
            "Unknown eIDAS level.", errors={"eidas_level": [{"code": "invalid", "message": eidas_level}]}
        )
    items = consent_items(consent)
    required = eidas_highest([item.attestation_type.eidas_min for item in items])
    if not eidas_satisfies(eidas_level, required):
        raise LoaInsufficient(
            f"These attestations need a login at level {required} or above.",
            extra={"required_level": required, "current_level": eidas_level},
        )
    # Locked like the erasure sweep locks it: either the identity is erased first and this approval
    # is refused, or the approval commits first and the sweep then sees a consent that needs it.
    if subject is not None:
        subject = Citizen.objects.select_for_update().get(pk=subject.pk)
        if not subject.has_identity:
            raise AuthenticationRequired("Log in again: your identity is no longer held by the gateway.")
    today = timezone.localdate()
    if not all(
        habilitation_in_force(
            status=item.habilitation.status,
            valid_until=item.habilitation.valid_until,
            type_active=item.attestation_type.active,
            today=today,
        )
        for item in items
    ):
        raise HabilitationMissing("The requesting organisation's habilitation is no longer in force.")
    now = timezone.now()
    consent.citizen = subject
    _record_actor(consent, citizen, acting)
    consent.status = Status.ACTIVE
    consent.status_reason = ""
    consent.eidas_level = eidas_level
    consent.decided_at = now
    consent.valid_from = now
    consent.valid_until = now + dt.timedelta(days=consent.duration_days)
    consent.artefact = consent_artefact_sign(consent=consent, items=items, issued_at=now)
    _save(
        consent,
        now,
        "citizen",
        "status",
        "status_reason",
        "eidas_level",
        "decided_at",
        "valid_from",
        "valid_until",
        "artefact",
        *_ACTOR_FIELDS,
    )
    consent_event_record(
        type=EventType.CONSENT_APPROVED,
        actor=citizen_actor(citizen),
        consent=consent,
        items=items,
        detail={"eidas_level": eidas_level, **acting_detail(consent)},
    )
    webhooks_enqueue(consent=consent, event_type=Event.APPROVED)
    _renewed_replace(consent, now)
    return consent


def _renewed_replace(renewal: Consent, now: dt.datetime) -> None:
    """An approved renewal replaces the consent it renews, in the same transaction: one consent in
    force for these terms, the new one (reason `renewed`, with its event and webhook)."""
    if renewal.renews_id is None:
        return
    renewed = _lock(Consent(pk=renewal.renews_id))
    if renewed.status in (Status.ACTIVE, Status.PAUSED):
        _system_revoke(renewed, now, reason="renewed", renewal=str(renewal.pk))


@transaction.atomic
def consent_reject(
    *, consent: Consent, citizen: Citizen, acting: ActingGround | None = None, principal: Citizen | None = None
) -> Consent:
    consent = _lock(consent)
    _require(consent, "rejected", Status.PENDING)
    acting, subject = _acting(consent, citizen, acting, principal)
    now = timezone.now()
    # Recorded so the citizen finds the refusal in their list; it grants nothing.
    consent.citizen = subject
    _record_actor(consent, citizen, acting)
    consent.status = Status.REJECTED
    consent.status_reason = "citizen"
    consent.decided_at = now
    _save(consent, now, "citizen", "status", "status_reason", "decided_at", *_ACTOR_FIELDS)
    consent_event_record(
        type=EventType.CONSENT_REJECTED,
        actor=citizen_actor(citizen),
        consent=consent,
        items=consent_items(consent),
        detail=acting_detail(consent),
    )
    webhooks_enqueue(consent=consent, event_type=Event.REJECTED)
    return consent


@transaction.atomic
def consent_pause(*, consent: Consent, citizen: Citizen) -> Consent:
    consent = _lock(consent)
    _require_owner(consent, citizen)
    _require(consent, "paused", Status.ACTIVE)
    now = timezone.now()
    consent.status = Status.PAUSED
    consent.status_reason = "citizen"
    _save(consent, now, "status", "status_reason")
    consent_event_record(
        type=EventType.CONSENT_PAUSED, actor=citizen_actor(citizen), consent=consent, items=consent_items(consent)
    )
    _drop_held_results(consent)
    webhooks_enqueue(consent=consent, event_type=Event.PAUSED)
    return consent


@transaction.atomic
def consent_resume(*, consent: Consent, citizen: Citizen) -> Consent:
    consent = _lock(consent)
    _require_owner(consent, citizen)
    _require(consent, "resumed", Status.PAUSED)
    now = timezone.now()
    consent.status = Status.ACTIVE
    consent.status_reason = ""
    _save(consent, now, "status", "status_reason")
    consent_event_record(
        type=EventType.CONSENT_RESUMED, actor=citizen_actor(citizen), consent=consent, items=consent_items(consent)
    )
    webhooks_enqueue(consent=consent, event_type=Event.RESUMED)
    return consent


@transaction.atomic
def consent_revoke(
    *, consent: Consent, actor: Actor, reason: str, acting: ActingGround | None = None, by: Citizen | None = None
) -> Consent:
    """The citizen (or `by`, acting for the company or the person that is its subject on the ground
    in `acting`) or the consumer ends the consent; tokens bound to it die in the same commit."""
    consent = _lock(consent)
    extra: dict[str, str] = {}
    if actor.kind == ActorKind.CITIZEN and acting is not None and acting.ground != Ground.SUBJECT:
        # Someone acting for the subject: a company's representative or delegate, or the holder of
        # a legal mandate for the person; their ground must still hold, for this very subject.
        holds = False
        if by is not None and by.ref == actor.id:
            if consent.company is not None:
                holds = acting_still_holds(acting=acting, agent=by, company=consent.company)
            elif consent.citizen is not None and acting.ground == Ground.LEGAL_MANDATE:
                holds = acting_still_holds(acting=acting, agent=by, principal=consent.citizen)
        if not holds:
            raise NotFound("No such consent.")
        _require(consent, "revoked", Status.ACTIVE, Status.PAUSED)
        extra = {"ground": acting.ground, "actor_ref": actor.id}
        if acting.mandate_id is not None:
            extra["mandate"] = str(acting.mandate_id)
        if acting.register_check_id is not None:
            extra["register_check"] = str(acting.register_check_id)
    elif actor.kind == ActorKind.CITIZEN:
        if consent.company_id is not None or consent.citizen is None or consent.citizen.ref != actor.id:
            raise NotFound("No such consent.")
        _require(consent, "revoked", Status.ACTIVE, Status.PAUSED)
    else:
        _require(consent, "revoked", Status.PENDING, Status.ACTIVE, Status.PAUSED)
    items = consent_items(consent)
    now = timezone.now()
    consent.status = Status.REVOKED
    consent.status_reason = reason[:200]
    _save(consent, now, "status", "status_reason")
    consent_event_record(
        type=EventType.CONSENT_REVOKED,
        actor=actor,
        consent=consent,
        items=items,
        detail={"reason": reason[:200], **extra},
    )
    _tokens_revoke(consent=consent, actor=actor)
    _drop_held_results(consent)
    _renewal_cancel(consent, now)
    webhooks_enqueue(consent=consent, event_type=Event.REVOKED)
    return consent


def _tokens_revoke(*, consent: Consent, actor: Actor) -> None:
    bindings = consent.token_bindings.select_related("access_token__application")
    for binding in list(bindings):
        access_token = binding.access_token
        event_record(
            type=EventType.TOKEN_REVOKED,
            actor=actor,
            citizen_ref=consent.subject_ref,
            consumer=consent.consumer.siret,
            purpose=consent.purpose_code,
            consent_id=consent.pk,
            detail={
                "token_id": access_token.pk,
                "client_id": access_token.application.client_id,
                "reason": "consent_revoked",
            },
        )
        # A refresh token would mint a fresh, unbound access token: it goes too. Deleting the
        # access token also deletes the binding (CASCADE).
        refresh = RefreshToken.objects.filter(access_token=access_token).first()
        if refresh is not None:
            refresh.revoke()
        else:
            access_token.revoke()


@transaction.atomic
def consent_expire_if_due(*, consent: Consent) -> Consent:
    """Idempotent: a consent that is not due, or already ended, comes back unchanged."""
    consent = _lock(consent)
    if not expiry_due(consent):
        return consent
    reason = "request_expired" if consent.status == Status.PENDING else "validity_ended"
    now = timezone.now()
    consent.status = Status.EXPIRED
    consent.status_reason = reason
    _save(consent, now, "status", "status_reason")
    consent_event_record(
        type=EventType.CONSENT_EXPIRED,
        actor=Actor.system(),
        consent=consent,
        items=consent_items(consent),
        detail={"reason": reason},
    )
    _drop_held_results(consent)
    _renewal_cancel(consent, now)
    webhooks_enqueue(consent=consent, event_type=Event.EXPIRED)
    return consent


def due_for_expiry(now: dt.datetime) -> Q:
    """The candidates of `rules.expiry_due`, narrowed down in the database (indexed columns); each
    one is decided by the rule itself, under its row lock, in `consent_expire_if_due`."""
    return Q(status=Status.PENDING, request_expires_at__lte=now) | Q(
        status__in=[Status.ACTIVE, Status.PAUSED], valid_until__lte=now
    )


def consents_expire_due(*, limit: int = 1000) -> int:
    """Marks the consents whose time is up, each in its own short transaction so one failure does
    not roll back the others. Idempotent: a second run finds nothing. Returns how many expired."""
    ids = list(Consent.objects.filter(due_for_expiry(timezone.now())).values_list("pk", flat=True)[:limit])
    expired = 0
    for consent in Consent.objects.filter(pk__in=ids):
        # Another worker may have got there first: only a version bump means this run expired it.
        if consent_expire_if_due(consent=consent).version != consent.version:
            expired += 1
    return expired
