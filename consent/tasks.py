from __future__ import annotations

import uuid

from celery import shared_task

from consent.services import consents_expire_due, notices, objections
from consent.services.citizens import citizens_identity_erase_due
from consent.services.webhooks import webhook_delivery_attempt, webhooks_due


@shared_task(name="consent.tasks.consents_expire", acks_late=True, ignore_result=True)
def consents_expire() -> int:
    """Beat: every minute. Idempotent, so a redelivered or overlapping run does no harm."""
    return consents_expire_due()


@shared_task(name="consent.tasks.citizens_identity_erase", acks_late=True, ignore_result=True)
def citizens_identity_erase() -> int:
    """Beat: erases the pivot identities no session or consent needs any longer. Idempotent: an
    identity already erased, or needed again meanwhile, is left alone."""
    return citizens_identity_erase_due()


@shared_task(name="consent.tasks.webhook_deliver", acks_late=True, ignore_result=True)
def webhook_deliver(delivery_id: str) -> str | None:
    """One attempt at one delivery. Idempotent: a delivered, failed, not yet due or already claimed
    row is left alone, so a redelivered message sends nothing twice."""
    delivery = webhook_delivery_attempt(delivery_id=uuid.UUID(delivery_id))
    return delivery.status if delivery else None


@shared_task(name="consent.tasks.webhooks_retry_due", acks_late=True, ignore_result=True)
def webhooks_retry_due() -> int:
    """Beat: re-enqueues the deliveries that are due (retries, and first sends whose message was
    lost). Overlapping runs only enqueue duplicates, which the delivery's claim turns into no-ops."""
    due = webhooks_due()
    for delivery_id in due:
        webhook_deliver.delay(str(delivery_id))
    return len(due)


@shared_task(name="consent.tasks.access_notices_collect", acks_late=True, ignore_result=True)
def access_notices_collect() -> int:
    """Beat: the outbox rows of the recent accesses to citizens' data. Idempotent (one row per
    citizen and event), so overlapping runs do no harm."""
    return notices.access_notices_collect()


@shared_task(name="consent.tasks.access_notice_send", acks_late=True, ignore_result=True)
def access_notice_send(notice_id: str) -> str | None:
    """One attempt at one access e-mail. Idempotent: a sent, failed, not yet due or claimed row is
    left alone."""
    notice = notices.access_notice_send(notice_id=uuid.UUID(notice_id))
    return notice.status if notice else None


@shared_task(name="consent.tasks.access_notices_retry_due", acks_late=True, ignore_result=True)
def access_notices_retry_due() -> int:
    """Beat: re-enqueues the access e-mails that are due (retries, and sends whose message was lost)."""
    due = notices.access_notices_due()
    for notice_id in due:
        access_notice_send.delay(str(notice_id))
    return len(due)


@shared_task(name="consent.tasks.access_digests_send", acks_late=True, ignore_result=True)
def access_digests_send() -> int:
    """Beat, daily: the digests of the citizens who chose one."""
    return notices.access_digests_send()


@shared_task(name="consent.tasks.objection_dpo_tell", acks_late=True, ignore_result=True)
def objection_dpo_tell(objection_id: str) -> bool:
    """Tells the DPO of a citizen's objection. Idempotent: a DPO already told is not told again."""
    return objections.objection_dpo_tell(objection_id=uuid.UUID(objection_id))


@shared_task(name="consent.tasks.objections_dpo_tell_due", acks_late=True, ignore_result=True)
def objections_dpo_tell_due() -> int:
    """Beat: the objections whose DPO could not be told yet."""
    due = objections.objections_dpo_due()
    for objection_id in due:
        objection_dpo_tell.delay(str(objection_id))
    return len(due)


@shared_task(name="consent.tasks.renewal_tell", acks_late=True, ignore_result=True)
def renewal_tell(consent_id: str) -> bool:
    """Tells the person a renewal request waits for them."""
    return notices.renewal_tell(consent_id=uuid.UUID(consent_id))
