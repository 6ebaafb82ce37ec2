from __future__ import annotations

from celery import shared_task

from consent.services import consents_expire_due


@shared_task(name="consent.tasks.consents_expire", acks_late=True, ignore_result=True)
def consents_expire() -> int:
    """Beat: every minute. Idempotent, so a redelivered or overlapping run does no harm."""
    return consents_expire_due()
