"""Citizens are told of every access to their data: an e-mail per access, or one a day.

The exchange's path writes nothing for this: a beat sweep reads the committed `exchange.succeeded`
events of the trail, writes one AccessNotice per access (the outbox; unique per citizen and event,
so sweeps may overlap), and Celery sends them. An e-mail names who obtained what, from whom, when
and why, with a link to the history; never an attestation's values, which the gateway does not keep.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.models import AuditEvent, EventType
from consent.models import AccessNotice, Citizen, Consent
from core.tasks import enqueue_on_commit
from core.templatetags.localized_fields import localized, localized_key
from providers.models import AttestationType, Organisation

logger = logging.getLogger(__name__)

Status = AccessNotice.Status
Notify = Citizen.Notify

# How far back each sweep reads the trail: well beyond the sweep's period, so that an event whose
# transaction committed late is still found; the unique constraint makes rereading harmless.
LOOKBACK = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 6
BACKOFF = [dt.timedelta(minutes=m) for m in (1, 5, 15, 60, 240)]
# How long a claimed notice is left to its sender before another may try.
LEASE = dt.timedelta(minutes=2)


def access_notices_collect(*, now: dt.datetime | None = None) -> int:
    """Beat: an AccessNotice for each recent access to the data of a citizen who wants to be told.
    Returns how many were new; those to send one by one are queued after the commit."""
    now = now or timezone.now()
    events = list(
        AuditEvent.objects.filter(
            type=EventType.EXCHANGE_SUCCEEDED, occurred_at__gte=now - LOOKBACK, consent_id__isnull=False
        ).values_list("id", "consent_id")
    )
    if not events:
        return 0
    owners = dict(
        Consent.objects.filter(pk__in={consent_id for _, consent_id in events}, citizen__isnull=False)
        .exclude(citizen__notify=Notify.NEVER)
        .values_list("pk", "citizen_id")
    )
    wanted = [(event_id, owners[consent_id]) for event_id, consent_id in events if consent_id in owners]
    known = set(
        AccessNotice.objects.filter(event_id__in=[event_id for event_id, _ in wanted]).values_list(
            "citizen_id", "event_id"
        )
    )
    with transaction.atomic():
        created = AccessNotice.objects.bulk_create(
            [
                AccessNotice(citizen_id=citizen_id, event_id=event_id, next_attempt_at=now)
                for event_id, citizen_id in wanted
                if (citizen_id, event_id) not in known
            ],
            ignore_conflicts=True,
        )
        each = set(
            Citizen.objects.filter(pk__in={n.citizen_id for n in created}, notify=Notify.EACH).values_list(
                "pk", flat=True
            )
        )
        for notice in created:
            if notice.citizen_id in each:
                enqueue_on_commit("consent.tasks.access_notice_send", str(notice.pk))
    return len(created)


def access_notices_due(*, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """The notices to send one by one whose time has come (retries, and sends whose message was lost)."""
    now = now or timezone.now()
    return list(
        AccessNotice.objects.filter(
            status=Status.PENDING,
            next_attempt_at__lte=now,
            attempts__lt=MAX_ATTEMPTS,
            citizen__notify=Notify.EACH,
        ).values_list("pk", flat=True)[:500]
    )


def access_notice_send(*, notice_id: uuid.UUID) -> AccessNotice | None:
    """Sends one notice's e-mail once. None when there was nothing to do (sent, failed, not due,
    or being sent by another worker)."""
    sent = _send_claimed(_claim(AccessNotice.objects.filter(pk=notice_id)), digest=False)
    return sent[0] if sent else None


def access_digests_send(*, now: dt.datetime | None = None) -> int:
    """Beat, once a day: one e-mail per citizen who chose the digest, listing the accesses not told
    yet. Returns how many e-mails went out."""
    citizens = (
        AccessNotice.objects.filter(status=Status.PENDING, citizen__notify=Notify.DAILY, attempts__lt=MAX_ATTEMPTS)
        .values_list("citizen_id", flat=True)
        .distinct()
    )
    sent = 0
    for citizen_id in list(citizens):
        notices = _send_claimed(_claim(AccessNotice.objects.filter(citizen_id=citizen_id), now=now), digest=True)
        sent += bool(notices) and notices[0].status == Status.SENT
    return sent


def _claim(queryset: QuerySet[AccessNotice], *, now: dt.datetime | None = None) -> list[AccessNotice]:
    """Takes the due pending notices of `queryset` for this sender (a lease), atomically."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            queryset.filter(status=Status.PENDING, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS)
            .select_for_update(skip_locked=True)
            .order_by("event_id")
        )
        AccessNotice.objects.filter(pk__in=[n.pk for n in due]).update(
            attempts=F("attempts") + 1, next_attempt_at=now + LEASE
        )
    for notice in due:
        notice.attempts += 1
    return due


def _send_claimed(notices: list[AccessNotice], *, digest: bool) -> list[AccessNotice]:
    if not notices:
        return []
    citizen = Citizen.objects.get(pk=notices[0].citizen_id)
    error = ""
    if not citizen.email:
        error = "no_address"
    else:
        try:
            access_email(citizen=citizen, events=_events(notices), digest=digest).send()
        except (smtplib.SMTPException, OSError) as exc:
            error = "smtp"
            logger.warning("access notice e-mail not sent (%s); retried later", type(exc).__name__)
    finished = timezone.now()
    for notice in notices:
        notice.last_error_code = error
        if not error:
            notice.status, notice.sent_at = Status.SENT, finished
        elif error == "no_address" or notice.attempts >= MAX_ATTEMPTS:
            notice.status = Status.FAILED
        else:
            notice.next_attempt_at = finished + BACKOFF[min(notice.attempts, len(BACKOFF)) - 1]
    AccessNotice.objects.bulk_update(notices, ["status", "sent_at", "next_attempt_at", "last_error_code"])
    return notices


def _events(notices: Sequence[AccessNotice]) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__in=[n.event_id for n in notices]).order_by("occurred_at"))


@dataclass(frozen=True)
class Access:
    """One access, in words."""

    when: str
    consumer: str
    what: str
    provider: str
    why: str
    link: str


def accesses_described(events: Iterable[AuditEvent]) -> list[Access]:
    """Names for the trail's identifiers, in the active language (three queries)."""
    events = list(events)
    sirets = {e.consumer for e in events} | {e.provider for e in events}
    names = dict(Organisation.objects.filter(siret__in=sirets).values_list("siret", "name"))
    types = {t.slug: t for t in AttestationType.objects.filter(slug__in={e.attestation_type for e in events})}
    history = settings.GATEWAY_BASE_URL + reverse("consent:history")
    described = []
    for event in events:
        attestation_type = types.get(event.attestation_type)
        purpose = next(
            (p for p in (attestation_type.purposes if attestation_type else []) if p.get("code") == event.purpose),
            None,
        )
        described.append(
            Access(
                when=date_format(timezone.localtime(event.occurred_at), "DATETIME_FORMAT"),
                consumer=names.get(event.consumer, event.consumer),
                what=str(localized(attestation_type, "title")) if attestation_type else _("your data"),
                provider=names.get(event.provider, event.provider),
                why=str(localized_key(purpose, "label")) if purpose else "",
                link=f"{history}#event-{event.pk}",
            )
        )
    return described


def access_email(*, citizen: Citizen, events: Sequence[AuditEvent], digest: bool) -> EmailMessage:
    """The e-mail (plain text) telling of these accesses, in the citizen's language."""
    with translation.override(citizen.language or settings.LANGUAGE_CODE):
        accesses = accesses_described(events)
        if digest:
            subject = ngettext(
                "Your data was obtained once today", "Your data was obtained %(count)s times today", len(accesses)
            ) % {"count": len(accesses)}
        else:
            subject = _("%(consumer)s obtained your data") % {"consumer": accesses[0].consumer}
        paragraphs = [_("Hello,"), _("Through the data exchange gateway, with your consent:")]
        for access in accesses:
            lines = [
                _("On %(when)s, %(consumer)s obtained: %(what)s, from %(provider)s.")
                % {"when": access.when, "consumer": access.consumer, "what": access.what, "provider": access.provider}
            ]
            if access.why:
                lines.append(_("Purpose: %(why)s") % {"why": access.why})
            lines.append(_("Details and proof: %(link)s") % {"link": access.link})
            paragraphs.append("\n".join(lines))
        paragraphs += [
            _(
                "If you do not recognise an access, say so from your history. To change how you are told, "
                "or to withdraw a consent, go to your consents: %(url)s"
            )
            % {"url": settings.GATEWAY_BASE_URL + reverse("consent:dashboard")},
            _("This e-mail contains none of your data's values. Please do not reply to it."),
        ]
    return EmailMessage(subject=subject, body="\n\n".join(paragraphs), to=[str(citizen.email)])


def renewal_tell(*, consent_id: uuid.UUID) -> bool:
    """E-mails the person a renewal request waits for them (unless they want no e-mail); for a
    company's consent, the person who decided the consent it renews (whether they may still act
    for the company is checked when they act). True when sent; a failure is logged and the
    dashboard or the company's page still shows the request."""
    renewal = (
        Consent.objects.select_related("citizen", "company", "consumer", "renews__actor")
        .filter(pk=consent_id, status=Consent.Status.PENDING, renews__isnull=False)
        .first()
    )
    if renewal is None or renewal.renews is None:
        return False
    citizen = renewal.citizen if renewal.company is None else renewal.renews.actor
    if citizen is None or citizen.notify == Notify.NEVER or not citizen.email:
        return False
    with translation.override(citizen.language or settings.LANGUAGE_CODE):
        ends = date_format(timezone.localtime(renewal.renews.valid_until)) if renewal.renews.valid_until else ""
        names = {"consumer": renewal.consumer.name, "ends": ends}
        if renewal.company is not None:
            names["company"] = renewal.company.name
            asks = _("%(consumer)s asks %(company)s to renew the consent given on its behalf, which ends on %(ends)s.")
            subject = _("%(consumer)s asks %(company)s to renew a consent") % names
        else:
            asks = _("%(consumer)s asks you to renew the consent you gave it, which ends on %(ends)s.")
            subject = _("%(consumer)s asks you to renew your consent") % names
        body = "\n\n".join(
            [
                _("Hello,"),
                asks % names,
                _("Read the request and decide: %(url)s")
                % {"url": settings.GATEWAY_BASE_URL + reverse("consent:approval", args=[renewal.pk])},
                _("If you do nothing, the consent ends on that date. Please do not reply to this e-mail."),
            ]
        )
    try:
        EmailMessage(subject=subject, body=body, to=[str(citizen.email)]).send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("renewal e-mail not sent (%s)", type(exc).__name__)
        return False
    return True
