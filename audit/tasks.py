"""Celery tasks of the trail. The sealer runs from beat every second (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from audit.exports import log_verification_status
from audit.partitions import partitions_ensure as partitions_create_ahead
from audit.retention import event_months_detach
from audit.retention import retention_apply as retention_archive_due
from audit.sealer import log_seal, log_size


@shared_task(name="audit.tasks.seal", acks_late=True, ignore_result=True)
def seal() -> int:
    """Seals what is pending, one batch per call; idempotent and safe to run concurrently.

    A concurrent run finds the advisory lock taken and returns at once; a redelivered message
    (acks late) finds nothing left to seal. Returns the tree size after the seal (0 if none).
    """
    checkpoint = log_seal()
    return checkpoint.tree_size if checkpoint else 0


@shared_task(name="audit.tasks.sweep", acks_late=True, ignore_result=True)
def sweep() -> int:
    """Seals events older than the look-back window, if any ever slipped past it."""
    checkpoint = log_seal(sweep=True)
    return checkpoint.tree_size if checkpoint else 0


@shared_task(name="audit.tasks.verify", acks_late=True, ignore_result=True)
def verify() -> bool:
    """Verifies the whole stored log and caches the result for the auditor console."""
    status = log_verification_status()
    return bool(status and status["ok"])


@shared_task(name="audit.tasks.partitions_ensure", acks_late=True, ignore_result=True)
def partitions_ensure() -> list[str]:
    """Creates the trail's partitions for the next months and the next leaves; idempotent."""
    return partitions_create_ahead(tree_size=log_size())


@shared_task(
    name="audit.tasks.retention_apply",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=settings.AUDIT_ARCHIVE_TIME_LIMIT,
    time_limit=settings.AUDIT_ARCHIVE_TIME_LIMIT + 60,
)
def retention_apply() -> list[str]:
    """Archives and detaches the leaf partitions whose records have served their retention, then
    the months of events wholly archived; returns the archives' locations and the months' names.

    Idempotent and safe on several nodes: one archive at a time (advisory lock), a redelivered
    message (a run longer than the broker's visibility timeout) finds the lock taken or nothing due.
    """
    return [archive.location for archive in retention_archive_due()] + event_months_detach()
