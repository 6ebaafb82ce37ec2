"""Enqueueing Celery tasks from a service, by name, once its transaction has committed.

By name (the name each task is registered under, as the beat schedule uses): a service module
never imports the tasks module that imports it back. After the commit: a worker must never see
a row the transaction has not made visible yet, nor run work for a rolled-back action. And a
broker outage must not turn a committed action into an error: the failure is logged (its type
only) and the work stays where a sweep finds it (every enqueued task has one).
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(name: str, *args: str) -> bool:
    """Sends task `name` now; False (logged) when the broker cannot take it."""
    try:
        current_app.signature(name, args=args).delay()
    except Exception as exc:
        logger.warning("Task %s not enqueued (%s); its sweep will run it", name, type(exc).__name__)
        return False
    return True


def enqueue_on_commit(name: str, *args: str) -> None:
    """Sends task `name` when the current transaction commits (at once outside one)."""

    def send() -> None:
        enqueue(name, *args)

    transaction.on_commit(send)
