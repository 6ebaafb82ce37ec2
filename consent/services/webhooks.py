"""Signed webhooks: a transactional outbox of consent changes, delivered at least once.

A transition writes its delivery rows in its own transaction (`webhooks_enqueue`) and hands their
ids to the worker once the transaction commits. A worker claims a row with one conditional UPDATE
(`pending`, due, attempts left), which also pushes `next_attempt_at` past the time an attempt can
take: two workers given the same id, or the retry sweep racing the first send, never both POST.
A worker that dies mid-attempt leaves the row due again when that lease runs out; the beat sweep
(`webhooks_due`) re-enqueues it, so a lost broker message delays a notification but never loses it.

Format: Standard Webhooks 1.0 (https://www.standardwebhooks.com). Every attempt POSTs the stored
payload with `webhook-id` (the delivery's id, the same on every retry), `webhook-timestamp` (this
attempt's time) and `webhook-signature`, a space-separated list of signatures over
`{webhook-id}.{webhook-timestamp}.{body}`:
- `v1a,` Ed25519, one per gateway webhook key (core.keys; published as `whpk_` keys at
  /.well-known/webhook-keys): the scheme receivers should prefer, since no receiver can forge it;
- `v1,` HMAC-SHA256 with the organisation's secret (two during a rotation's overlap), computed by
  the `standardwebhooks` library: its receiver side (1.1.0), like the other reference libraries
  so far, checks only `v1`. See docs/webhooks.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from audit.models import EventType
from audit.services import Actor, event_record
from consent.models import Consent, WebhookDelivery
from core.errors import ValidationError
from core.keys import webhook_signing_keys
from core.outbound import OutboundError, OutboundRefused, OutboundTimeout, OutboundTooLarge, post
from core.tasks import enqueue_on_commit
from providers.models import Organisation, validate_webhook_url
from providers.services import organisation_webhook_secret_rotate, organisation_webhook_secrets
from providers.services.emails import webhooks_failing_notify

logger = logging.getLogger(__name__)

Event = WebhookDelivery.Event
Status = WebhookDelivery.Status

TIMEOUT_SECONDS = 5.0
# Receivers answer with an acknowledgement, not a document: anything bigger is not read.
MAX_RESPONSE_BYTES = 64 * 1024
# Waits after the 1st, 2nd… failed attempt; after the last one the delivery is failed.
BACKOFF = (
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(hours=1),
    dt.timedelta(hours=6),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# After this many failed attempts of one delivery, its organisation's administrators are emailed.
FAILING_AFTER = 3
# Longer than an attempt can last (the task's hard time limit is 90 s): until then a claimed row
# belongs to the worker that claimed it.
LEASE = dt.timedelta(minutes=5)
PUBLIC_KEY_PREFIX = "whpk_"

# The provider holding the data is told when a consent that let a consumer fetch it ends.
PROVIDER_EVENTS = frozenset({Event.REVOKED, Event.EXPIRED})


def webhooks_enqueue(*, consent: Consent, event_type: str) -> list[WebhookDelivery]:
    """Writes one delivery per organisation to notify that has a webhook URL, and has them sent
    after the caller's transaction commits. Call it inside the transition's transaction."""
    event = Event(event_type)
    recipients: dict[int, Organisation] = {}
    if consent.consumer.webhook_url:
        recipients[consent.consumer.pk] = consent.consumer
    if event in PROVIDER_EVENTS:
        holders = consent.items.values_list("attestation_type__holder_id", flat=True)
        for organisation in Organisation.objects.filter(pk__in=holders).exclude(webhook_url=""):
            recipients.setdefault(organisation.pk, organisation)
    if not recipients:
        return []
    now = timezone.now()
    deliveries = []
    for organisation in recipients.values():
        delivery_id = uuid.uuid4()
        deliveries.append(
            WebhookDelivery(
                id=delivery_id,
                organisation=organisation,
                event_type=event,
                consent=consent,
                payload=_payload(event=event, consent=consent, recipient=organisation),
                next_attempt_at=now,
                created_at=now,
            )
        )
    WebhookDelivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        # The rows are the outbox: a broker that is down loses only the nudge (logged, never an
        # error for the committed change), and the retry sweep (webhooks_due) sends them.
        enqueue_on_commit("consent.tasks.webhook_deliver", str(delivery.pk))
    return deliveries


def _payload(*, event: Event, consent: Consent, recipient: Organisation) -> dict[str, Any]:
    # The shape Standard Webhooks recommends. Thin: the consumer reads the rest with
    # GET /api/v1/consents/{id}; nothing here names the citizen. `recipient` lets a receiver refuse
    # a webhook replayed to it by another organisation: the v1a keys are the same for everyone.
    return {
        "type": event.value,
        # When the change happened (every transition stamps updated_at), not when this is sent.
        "timestamp": _rfc3339(consent.updated_at),
        "data": {
            "consent": {
                "id": str(consent.pk),
                "status": consent.status,
                "status_reason": consent.status_reason,
                "version": consent.version,
            },
            "consumer": consent.consumer.siret,
            "recipient": recipient.siret,
        },
    }


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The bytes sent, and signed, for a stored payload: the same on every attempt."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def webhook_signature(*, msg_id: str, timestamp: int, body: bytes, secrets: Sequence[bytes] = ()) -> str:
    """The `webhook-signature` header: `v1a,<base64>` per webhook key, then `v1,<base64>` per
    organisation secret, over `{msg_id}.{timestamp}.{body}`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    signatures = [f"v1a,{base64.b64encode(key.sign(content)).decode()}" for key in webhook_signing_keys()]
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    for secret in secrets:
        # The library signs the same content; it takes the body as text (ours is UTF-8 JSON).
        signatures.append(StandardWebhook(secret).sign(msg_id=msg_id, timestamp=moment, data=body.decode()))
    return " ".join(signatures)


def webhook_public_keys() -> list[str]:
    """The webhook keys as receivers configure them (`whpk_` + base64 of the raw Ed25519 key),
    current first."""
    return [
        PUBLIC_KEY_PREFIX + base64.b64encode(key.public_key().public_bytes_raw()).decode()
        for key in webhook_signing_keys()
    ]


@dataclass(frozen=True)
class _Outcome:
    delivered: bool
    status_code: int | None = None
    error_code: str = ""


def webhook_delivery_attempt(*, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    """Sends one due delivery once. Returns the updated row, or None when there was nothing to do
    (already delivered or failed, not due yet, or being sent by another worker)."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("organisation").get(pk=delivery_id)
    outcome = _post(delivery)
    finished = timezone.now()
    delivery.last_status_code = outcome.status_code
    delivery.last_error_code = outcome.error_code
    if outcome.delivered:
        delivery.status = Status.DELIVERED
        delivery.delivered_at = finished
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = Status.FAILED
    else:
        delivery.next_attempt_at = finished + BACKOFF[delivery.attempts - 1]
    with transaction.atomic():
        delivery.save(
            update_fields=["status", "delivered_at", "next_attempt_at", "last_status_code", "last_error_code"]
        )
        if not outcome.delivered and delivery.attempts in (FAILING_AFTER, MAX_ATTEMPTS):
            # Keeps failing: the organisation's administrators hear of it (at most once a day).
            failing = WebhookDelivery.objects.filter(
                organisation=delivery.organisation, attempts__gte=FAILING_AFTER
            ).exclude(status=Status.DELIVERED)
            webhooks_failing_notify(organisation=delivery.organisation, failed=failing.count())
    logger.info(
        "webhook %s %s to organisation %s: attempt %s, %s %s",
        delivery.pk,
        delivery.event_type,
        delivery.organisation.code,
        delivery.attempts,
        delivery.status,
        outcome.error_code or outcome.status_code,
    )
    return delivery


def _post(delivery: WebhookDelivery) -> _Outcome:
    url = delivery.organisation.webhook_url
    if not url:
        # The organisation removed its URL after the change: nobody is listening any more.
        return _Outcome(delivered=False, error_code="no_webhook_url")
    # Fresh on every attempt, as the spec asks: receivers refuse old timestamps (replays).
    now = timezone.now()
    timestamp = int(now.timestamp())
    body = webhook_body(delivery.payload)
    signature = webhook_signature(
        msg_id=str(delivery.pk), timestamp=timestamp, body=body, secrets=_secrets(delivery.organisation, now=now)
    )
    headers = {"webhook-id": str(delivery.pk), "webhook-timestamp": str(timestamp), "webhook-signature": signature}
    try:
        response = post(url, body=body, timeout=TIMEOUT_SECONDS, headers=headers, max_bytes=MAX_RESPONSE_BYTES)
    except OutboundRefused:
        return _Outcome(delivered=False, error_code="refused")
    except OutboundTimeout:
        return _Outcome(delivered=False, error_code="timeout")
    except OutboundTooLarge:
        return _Outcome(delivered=False, error_code="response_too_large")
    except OutboundError:
        logger.warning("webhook %s: no answer from %s", delivery.pk, urlsplit(url).hostname)
        return _Outcome(delivered=False, error_code="connection_failed")
    if 200 <= response.status < 300:
        return _Outcome(delivered=True, status_code=response.status)
    # Redirects count as failures: they are not followed, and the receiver should fix its URL.
    return _Outcome(delivered=False, status_code=response.status, error_code="http_status")


def _secrets(organisation: Organisation, *, now: dt.datetime) -> tuple[bytes, ...]:
    try:
        return organisation_webhook_secrets(organisation=organisation, now=now)
    except InvalidTag:
        # SECRET_KEY changed since the secret was stored: the v1a signatures still go out, and a
        # new secret (admin action) restores v1.
        logger.error("webhook secret of organisation %s does not decrypt: sent without v1", organisation.code)
        return ()


def webhooks_due(*, limit: int = 500) -> list[uuid.UUID]:
    """The deliveries to (re)send now, oldest due first. Rows whose last attempt died with its
    worker after using the last try are closed here, since no claim will ever take them."""
    now = timezone.now()
    WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now, attempts__gte=MAX_ATTEMPTS).update(
        status=Status.FAILED, last_error_code="attempt_lost"
    )
    due = WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", flat=True)[:limit])


def _organisation_record(type: EventType, organisation: Organisation, *, actor: Actor, **detail: str | bool) -> None:
    event_record(type=type, actor=actor, detail={"organisation": organisation.siret, **detail})


@transaction.atomic
def organisation_webhook_set(*, organisation: Organisation, url: str, actor: Actor) -> str:
    """Sets (or, empty, removes) where the organisation's webhooks go. Returns the signing secret
    when this first endpoint needed one (shown once), else an empty string."""
    url = (url or "").strip()
    if url:
        try:
            validate_webhook_url(url)
        except DjangoValidationError:
            raise ValidationError(
                "The webhook URL is not valid.", errors={"webhook_url": "https only, a host, no credentials."}
            ) from None
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    locked.webhook_url = url
    locked.save(update_fields=["webhook_url"])
    secret = organisation_webhook_secret_rotate(organisation=locked) if url and not locked.webhook_secret else ""
    _organisation_record(EventType.WEBHOOK_ENDPOINT_SET, locked, actor=actor, set=bool(url))
    return secret


@transaction.atomic
def organisation_webhook_key_rotate(*, organisation: Organisation, actor: Actor) -> str:
    """A new signing secret (returned, shown once); the previous one signs too for the overlap."""
    secret = organisation_webhook_secret_rotate(organisation=organisation)
    _organisation_record(EventType.WEBHOOK_KEY_ROTATED, organisation, actor=actor)
    return secret


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Sends a delivery again from its first attempt (the receiver deduplicates on its id)."""
    locked = WebhookDelivery.objects.select_for_update().select_related("organisation").get(pk=delivery.pk)
    if locked.status == Status.PENDING and locked.attempts == 0:
        return locked
    locked.status, locked.attempts, locked.next_attempt_at = Status.PENDING, 0, timezone.now()
    locked.delivered_at = None
    locked.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
    _organisation_record(EventType.WEBHOOK_REDELIVERED, locked.organisation, actor=actor, delivery=str(locked.pk))
    enqueue_on_commit("consent.tasks.webhook_deliver", str(locked.pk))
    return locked
