"""Retention of the trail: leaf partitions archived once every record in them has served its time.

Each record type (an event type, or its family: the part before the dot) keeps its place in the
live trail for its legal duration, `AUDIT_RETENTION_DAYS` (docs/operations.md gives the grounds
of the defaults). A full leaf partition is due once, for every type it holds, its newest event
is older than that type's duration: a partition holding one consent decision waits for the
consent's duration, whatever else it holds. Partitions go oldest first, and the first one not due
stops the run (a later one is younger).

The beat task `audit.tasks.retention_apply` (daily) archives every due partition with the same
service as `manage.py audit_archive` (audit/archives.py): export, verify against the signed log,
store, `audit.archived` event, detach, one transaction under an advisory lock. Two nodes running
it at once: one archives, the other finds the lock taken and stops; a partition archived
meanwhile is skipped. A failure (the store refuses the file, say) leaves the partition attached,
and the next run tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.archives import AlreadyArchived, Archive, ArchiveBusy, archived_partitions, leaf_partition_archive
from audit.models import AuditEvent, LogLeaf
from audit.partitions import range_partition_name
from audit.sealer import log_size
from audit.services import Actor

logger = logging.getLogger(__name__)


def retention_of(event_type: str, durations: Mapping[str, int], default: int) -> dt.timedelta:
    """How long a record of `event_type` stays in the live trail: its own duration, else its
    family's, else the default (days)."""
    family = event_type.split(".", 1)[0]
    return dt.timedelta(days=durations.get(event_type, durations.get(family, default)))


def partition_due(newest: Mapping[str, dt.datetime], now: dt.datetime) -> bool:
    """Whether a partition whose newest event of each type is `newest` has served its time."""
    durations, default = settings.AUDIT_RETENTION_DAYS, settings.AUDIT_RETENTION_DEFAULT_DAYS
    return bool(newest) and all(
        occurred + retention_of(event_type, durations, default) <= now for event_type, occurred in newest.items()
    )


def _newest_by_type(partition: str) -> dict[str, dt.datetime]:
    """The newest event of each type among the events of the partition's range of ids.

    The range of ids (two probes of the leaves' event_id index) rather than a join of millions of
    leaves with every month of events: each month's primary key is scanned over that range only.
    The range may also hold a few events sealed into the next partition (late commits): they can
    only make the partition wait longer, never archive it early.
    """
    with connection.cursor() as cursor:
        # Only the partition's and the model's table names are interpolated.
        cursor.execute(
            f"SELECT e.type, max(e.occurred_at) FROM {AuditEvent._meta.db_table} e "  # noqa: S608
            f"WHERE e.id BETWEEN (SELECT min(event_id) FROM {partition}) AND (SELECT max(event_id) FROM {partition}) "
            "GROUP BY e.type"
        )
        return {str(event_type): occurred for event_type, occurred in cursor.fetchall()}


def partitions_due(*, now: dt.datetime) -> list[int]:
    """The numbers of the full, unarchived leaf partitions that are due, oldest first."""
    full = log_size() // settings.AUDIT_LEAF_PARTITION_SIZE
    archived = archived_partitions()
    due = []
    for number in range(full):
        partition = range_partition_name(LogLeaf._meta.db_table, number)
        if partition in archived:
            continue
        if not partition_due(_newest_by_type(partition), now):
            break
        due.append(number)
    return due


def retention_apply(*, now: dt.datetime | None = None) -> list[Archive]:
    """Archives every leaf partition whose time has come; returns what this run archived."""
    if connection.vendor != "postgresql":
        return []
    archives = []
    for number in partitions_due(now=now or timezone.now()):
        try:
            archives.append(leaf_partition_archive(number=number, actor=Actor.system()))
        except AlreadyArchived:
            continue
        except ArchiveBusy:
            logger.info("Retention: another archive of the trail is running; this run stops.")
            break
    return archives
