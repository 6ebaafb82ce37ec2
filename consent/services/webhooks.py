"""Signed webhooks: a transactional outbox of consent changes, delivered at least once.

A transition writes its delivery rows in its own transaction (`webhooks_enqueue`) and hands their
ids to the worker once the transaction commits. A worker claims a row with one conditional UPDATE
(`pending`, due, attempts left), which also pushes `next_attempt_at` past the time an attempt can
take: two workers given the same id, or the retry sweep racing the first send, never both POST.
A worker that dies mid-attempt leaves the row due again when that lease runs out; the beat sweep
(`webhooks_due`) re-enqueues it, so a lost broker message delays a notification but never loses it.

Signature: a compact JWS with a detached payload (RFC 7515 appendix F) over the exact body bytes,
EdDSA with the gateway's current JWS key. The body carries the Webhook-Id (`id`) and the attempt's
Webhook-Timestamp (`timestamp`), so neither header can be replayed with another body; the JWS
header stays plain (alg, kid, typ) so stock JOSE libraries verify it. See docs/webhooks.md.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from consent.models import Consent, WebhookDelivery
from core.keys import b64url, canonical_payload, current_jws_key
from core.outbound import OutboundError, OutboundRefused, OutboundTimeout, OutboundTooLarge, post_json
from providers.models import Organisation

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
# Longer than an attempt can last (the task's hard time limit is 90 s): until then a claimed row
# belongs to the worker that claimed it.
LEASE = dt.timedelta(minutes=5)
JWS_TYP = "webhook+jws"

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
                payload=_payload(delivery_id=delivery_id, event=event, consent=consent),
                next_attempt_at=now,
                created_at=now,
            )
        )
    WebhookDelivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        # robust: the change has committed; a broker that is down must not turn it into an error
        # page. The retry sweep (webhooks_due) sends what was not enqueued.
        transaction.on_commit(partial(_send_later, delivery.pk), robust=True)
    return deliveries


def _payload(*, delivery_id: uuid.UUID, event: Event, consent: Consent) -> dict[str, Any]:
    # The consumer reads the rest with GET /api/v1/consents/{id}; nothing here names the citizen.
    return {
        "id": str(delivery_id),
        "type": event.value,
        # Every transition stamps updated_at with the moment it happened.
        "occurred_at": _rfc3339(consent.updated_at),
        "consent": {
            "id": str(consent.pk),
            "status": consent.status,
            "status_reason": consent.status_reason,
            "version": consent.version,
        },
        "consumer": consent.consumer.siret,
    }


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _send_later(delivery_id: uuid.UUID) -> None:
    # Imported here: consent.tasks imports the services package, which imports this module.
    from consent.tasks import webhook_deliver

    webhook_deliver.delay(str(delivery_id))


def webhook_message(payload: dict[str, Any], *, timestamp: int) -> dict[str, Any]:
    """What one attempt sends: the stored payload plus the attempt's time, under the signature."""
    return {**payload, "timestamp": timestamp}


def webhook_body(message: dict[str, Any]) -> bytes:
    """The bytes post_json sends for `message` (its own serialisation), hence the bytes signed."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_signature(body: bytes) -> str:
    """Compact JWS with a detached payload: `<b64url(header)>..<b64url(signature)>`."""
    key = current_jws_key()
    header_b64 = b64url(canonical_payload({"alg": "EdDSA", "kid": key.kid, "typ": JWS_TYP}))
    signature = key.private_key.sign(f"{header_b64}.{b64url(body)}".encode("ascii"))
    return f"{header_b64}..{b64url(signature)}"


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
    delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "last_status_code", "last_error_code"])
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
    timestamp = int(timezone.now().timestamp())
    message = webhook_message(delivery.payload, timestamp=timestamp)
    headers = {
        "Content-Type": "application/json",
        "Webhook-Id": str(delivery.pk),
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": webhook_signature(webhook_body(message)),
    }
    try:
        response = post_json(url, json=message, timeout=TIMEOUT_SECONDS, headers=headers, max_bytes=MAX_RESPONSE_BYTES)
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


def webhooks_due(*, limit: int = 500) -> list[uuid.UUID]:
    """The deliveries to (re)send now, oldest due first. Rows whose last attempt died with its
    worker after using the last try are closed here, since no claim will ever take them."""
    now = timezone.now()
    WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now, attempts__gte=MAX_ATTEMPTS).update(
        status=Status.FAILED, last_error_code="attempt_lost"
    )
    due = WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", flat=True)[:limit])
