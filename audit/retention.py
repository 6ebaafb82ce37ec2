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

Then the months of events: a month partition of `audit_auditevent` is detached (recorded as
`audit.events_detached`) once every event in it is in an archived leaf partition — it ended
before the newest archived event, and its highest id is below every live leaf's event — and it
holds no `audit.archived` event (the 410 answers of archived leaves read those). Its events
passed their retention with their partitions. The detached tables are the operator's to drop.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.archives import (
    ARCHIVE_LOCK_KEY,
    AlreadyArchived,
    Archive,
    ArchiveBusy,
    archived_partitions,
    leaf_partition_archive,
)
from audit.models import AuditEvent, EventType, LogLeaf
from audit.partitions import range_partition_name
from audit.sealer import archived_until, log_size
from audit.services import Actor, event_record

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


_MONTH = re.compile(r"_p(\d{4})_(\d{2})$")


def _attached_months() -> list[tuple[str, dt.datetime]]:
    """The attached month partitions of the events, oldest first, with the start of each."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [table],
        )
        names = [name for (name,) in cursor.fetchall()]
    months = []
    for name in names:
        found = _MONTH.search(name)
        if found and name == f"{table}_p{found[1]}_{found[2]}":
            months.append((name, dt.datetime(int(found[1]), int(found[2]), 1, tzinfo=dt.UTC)))
    return sorted(months, key=lambda month: month[1])


def _month_end(start: dt.datetime) -> dt.datetime:
    return (start + dt.timedelta(days=32)).replace(day=1)


def _month_detachable(name: str, *, ended: bool, until: dt.datetime, lowest_live: int | None) -> bool:
    """Whether month partition `name` is wholly archived: over (no event is recorded in a past
    month), its newest event no newer than the newest archived one, its highest id below every
    live leaf's event, and no `audit.archived` event in it."""
    if not ended:
        return False
    with connection.cursor() as cursor:
        # Only partition names read from the catalogue are interpolated.
        cursor.execute(f"SELECT max(id), max(occurred_at) FROM {name}")  # noqa: S608
        highest, newest = cursor.fetchone()
        if highest is None or newest > until or (lowest_live is not None and highest >= lowest_live):
            return False
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE type = %s)", [EventType.AUDIT_ARCHIVED])  # noqa: S608
        (holds_archives,) = cursor.fetchone()
    return not holds_archives


def event_months_detach(*, now: dt.datetime | None = None) -> list[str]:
    """Detaches every month of events wholly in archives (oldest first); returns their names."""
    if connection.vendor != "postgresql":
        return []
    now = now or timezone.now()
    detached = []
    for name, start in _attached_months():
        end = _month_end(start)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ARCHIVE_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    break
                cursor.execute(f"SELECT min(event_id) FROM {LogLeaf._meta.db_table}")  # noqa: S608
                (lowest_live,) = cursor.fetchone()
            if not _month_detachable(name, ended=end <= now, until=archived_until(), lowest_live=lowest_live):
                break
            event_record(
                type=EventType.AUDIT_EVENTS_DETACHED,
                actor=Actor.system(),
                detail={"partition": name, "from": start.isoformat(), "to": end.isoformat()},
            )
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE {AuditEvent._meta.db_table} DETACH PARTITION {name}")
        detached.append(name)
    return detached
