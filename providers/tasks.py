from __future__ import annotations

import uuid

from celery import shared_task

from providers.services.emails import email_send as email_send_service
from providers.services.emails import emails_due, habilitation_expiry_notices


@shared_task(name="providers.tasks.email_send", acks_late=True, ignore_result=True)
def email_send(email_id: str) -> str | None:
    """One attempt at one email. Idempotent: a sent or claimed row is left alone."""
    email = email_send_service(email_id=uuid.UUID(email_id))
    return email.status if email else None


@shared_task(name="providers.tasks.emails_retry_due", acks_late=True, ignore_result=True)
def emails_retry_due() -> int:
    """Beat: re-enqueues the emails that are due (retries, and first sends whose message was lost)."""
    due = emails_due()
    for email_id in due:
        email_send.delay(str(email_id))
    return len(due)


@shared_task(name="providers.tasks.habilitation_expiry_notices", acks_late=True, ignore_result=True)
def expiry_notices() -> int:
    """Beat: the 30- and 7-day notices of habilitations nearing their end. Idempotent."""
    return habilitation_expiry_notices()
