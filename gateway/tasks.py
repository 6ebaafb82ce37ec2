"""Celery tasks of the gateway. Each takes ids, calls one service and may run twice harmlessly
(acks late: a worker lost mid-task leaves the message to another)."""

from __future__ import annotations

import uuid

from celery import shared_task

from core.correlation import reset_correlation_id, set_correlation_id
from gateway.services.async_exchanges import exchange_results_purge as results_purge
from gateway.services.async_exchanges import exchange_run_pending


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
