"""Celery tasks of the gateway. Each takes ids, calls one service and may run twice harmlessly
(acks late: a worker lost mid-task leaves the message to another)."""

from __future__ import annotations

import uuid

from celery import shared_task

from core.correlation import reset_correlation_id, set_correlation_id
from core.tasks import enqueue
from gateway.services.async_exchanges import exchange_results_purge as results_purge
from gateway.services.async_exchanges import exchange_run_pending, exchanges_resume_due


@shared_task(acks_late=True, name="gateway.tasks.exchange_run")
def exchange_run(exchange_id: str, correlation_id: str = "") -> None:
    token = set_correlation_id(correlation_id or uuid.uuid4().hex)
    try:
        exchange_run_pending(exchange_id=uuid.UUID(exchange_id))
    finally:
        reset_correlation_id(token)


@shared_task(acks_late=True, name="gateway.tasks.exchange_results_purge")
def exchange_results_purge() -> int:
    return results_purge()


@shared_task(acks_late=True, name="gateway.tasks.exchanges_resume")
def exchanges_resume() -> int:
    """Beat: enqueues the pending exchanges nobody runs. A duplicate message is harmless: the run
    that does not win the claim does nothing."""
    due = exchanges_resume_due()
    for exchange_id in due:
        enqueue("gateway.tasks.exchange_run", str(exchange_id))
    return len(due)
