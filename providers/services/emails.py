"""Emails to agents, through an outbox: `email_queue` writes the row in the caller's transaction
(the action and its notice commit together or not at all) and enqueues its sending after the
commit; `email_send` sends one row through Django's email framework; `emails_due` is what the beat
sweep retries. Each email is written, when queued, in its recipient's language.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from core.languages import is_supported, language_remember
from core.tasks import enqueue_on_commit
from providers import rules
from providers.models import Agent, AgentEmail, AgentRole, Habilitation, Organisation
from providers.selectors import agents_with_roles

logger = logging.getLogger(__name__)

SEND_TASK = "providers.tasks.email_send"
MAX_ATTEMPTS = 8
# Waits between attempts: a mail server down for a few hours loses nothing.
BACKOFF = [dt.timedelta(minutes=m) for m in (1, 5, 15, 60, 180, 360, 720)]

# Who hears of each step of a habilitation request: the side that must act next, or learn of it.
PROVIDER_HEARS = {"submitted", "extension_requested"}
CONSUMER_HEARS = {"changes_requested", "approved", "refused", "revoked", "extended", "extension_refused"}


def email_queue(
    *, to: str, language: str, kind: str, template: str, context: Mapping[str, Any], dedup_key: str = ""
) -> AgentEmail | None:
    """Writes the email (`<template>_subject.txt` and `<template>.txt`, in `language`) and sends it
    after the commit; None when `dedup_key` was queued already."""
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", dict(context)).split())
        body = render_to_string(f"{template}.txt", dict(context))
    try:
        # A savepoint: a notice already sent must not undo the caller's action.
        with transaction.atomic():
            email = AgentEmail.objects.create(
                to=to, language=language, kind=kind, subject=subject[:300], body=body, dedup_key=dedup_key
            )
    except IntegrityError:
        if dedup_key:
            return None
        raise
    enqueue_on_commit(SEND_TASK, str(email.pk))
    return email


def absolute(path: str) -> str:
    return settings.GATEWAY_BASE_URL + path


def _language(agent: Agent) -> str:
    return agent.language if is_supported(agent.language) else settings.LANGUAGE_CODE


def habilitation_notify(*, habilitation: Habilitation, action: str, reason: str = "") -> int:
    """Tells the agents who manage habilitations on the side concerned by `action`; the number queued."""
    if action in PROVIDER_HEARS:
        organisation, template = habilitation.attestation_type.holder, "providers/emails/habilitation_review_needed"
    elif action in CONSUMER_HEARS:
        organisation, template = habilitation.consumer, "providers/emails/habilitation_decided"
    else:
        return 0
    queued = 0
    for agent in agents_with_roles(organisation=organisation, roles=rules.HABILITATION_ROLES):
        language = _language(agent)
        context = {
            "agent": agent,
            "habilitation": habilitation,
            "action": action,
            "reason": reason,
            "title": getattr(habilitation.attestation_type, f"title_{language}")
            or habilitation.attestation_type.title_fr,
            "url": absolute(reverse("portal-habilitation", args=[habilitation.pk])),
        }
        email_queue(
            to=agent.email, language=language, kind=f"habilitation.{action}", template=template, context=context
        )
        queued += 1
    return queued


# Days before a habilitation's last day when its consumer is told.
EXPIRY_NOTICES = (30, 7)


@transaction.atomic
def habilitation_expiry_notices(*, today: dt.date | None = None) -> int:
    """Tells the consumers' habilitation managers that a habilitation in force ends within 30,
    then within 7 days; each notice once per habilitation, end date and agent (the sweep may run
    as often as it likes). Returns the number queued."""
    today = today or timezone.localdate()
    ending = Habilitation.objects.filter(
        status=Habilitation.Status.APPROVED,
        attestation_type__active=True,
        valid_until__gte=today,
        valid_until__lte=today + dt.timedelta(days=max(EXPIRY_NOTICES)),
    ).select_related("consumer", "attestation_type")
    queued = 0
    for habilitation in ending:
        assert habilitation.valid_until is not None
        left = (habilitation.valid_until - today).days
        notice = min(days for days in EXPIRY_NOTICES if left <= days)
        for agent in agents_with_roles(organisation=habilitation.consumer, roles=rules.HABILITATION_ROLES):
            language = _language(agent)
            email = email_queue(
                to=agent.email,
                language=language,
                kind=f"habilitation.expiring_{notice}",
                template="providers/emails/habilitation_expiring",
                context={
                    "agent": agent,
                    "habilitation": habilitation,
                    "days": left,
                    "title": getattr(habilitation.attestation_type, f"title_{language}")
                    or habilitation.attestation_type.title_fr,
                    "url": absolute(reverse("portal-habilitation", args=[habilitation.pk])),
                },
                dedup_key=f"expiry:{notice}:{habilitation.pk}:{habilitation.valid_until.isoformat()}:{agent.pk}",
            )
            queued += email is not None
    return queued


def webhooks_failing_notify(*, organisation: Organisation, failed: int, today: dt.date | None = None) -> int:
    """Tells the organisation's administrators that webhook deliveries keep failing (at most once
    a day). Call it in the transaction that recorded the failure."""
    today = today or timezone.localdate()
    queued = 0
    for agent in agents_with_roles(organisation=organisation, roles=[AgentRole.Role.ADMINISTRATOR]):
        email = email_queue(
            to=agent.email,
            language=_language(agent),
            kind="webhook.failing",
            template="providers/emails/webhooks_failing",
            context={
                "agent": agent,
                "organisation": organisation,
                "failed": failed,
                "url": absolute(reverse("portal-webhooks")),
            },
            dedup_key=f"webhooks-failing:{organisation.pk}:{today.isoformat()}:{agent.pk}",
        )
        queued += email is not None
    return queued


def email_send(*, email_id: uuid.UUID) -> AgentEmail | None:
    """One attempt at one email. Idempotent: a sent, failed, not yet due or already claimed row is
    left alone, so a redelivered task sends nothing twice."""
    with transaction.atomic():
        email = (
            AgentEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=email_id, status=AgentEmail.Status.PENDING, next_attempt_at__lte=timezone.now())
            .first()
        )
        if email is None:
            return None
        email.attempts += 1
        try:
            EmailMessage(subject=email.subject, body=email.body, to=[email.to]).send()
        except Exception as exc:
            email.last_error = type(exc).__name__[:100]
            if email.attempts >= MAX_ATTEMPTS:
                email.status = AgentEmail.Status.FAILED
            else:
                email.next_attempt_at = timezone.now() + BACKOFF[min(email.attempts, len(BACKOFF)) - 1]
            logger.warning("Email %s not sent (attempt %s: %s)", email.pk, email.attempts, email.last_error)
        else:
            email.status, email.sent_at, email.last_error = AgentEmail.Status.SENT, timezone.now(), ""
        email.save(update_fields=["attempts", "status", "next_attempt_at", "sent_at", "last_error"])
        return email


def emails_due(*, limit: int = 500) -> list[uuid.UUID]:
    """Pending emails whose time has come: retries, and first sends whose task was lost."""
    return list(
        AgentEmail.objects.filter(status=AgentEmail.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def agent_language_remember(*, agent: Agent, language: str) -> None:
    """The language an agent reads the portal in, for the emails to come (a preference, not an
    action: no event)."""
    language_remember(agent, language)
