"""The trail's partitions on PostgreSQL (migration 0008 made the tables partitioned).

- Events by month of `occurred_at` (`audit_auditevent_p2026_11`), plus a default partition that
  catches an event whose month was not created in time: recording an action never fails for want
  of a partition. The beat task keeps AUDIT_PARTITION_MONTHS_AHEAD months ready, so the default
  partition stays empty (a month cannot be created while the default holds rows of it).
- Leaves by index range and nodes by the first leaf they cover (`index << level`), in ranges of
  AUDIT_LEAF_PARTITION_SIZE leaves (`audit_logleaf_p000003` holds leaves 3·size to 4·size − 1). The
  size is a power of two, so a partition's leaves form one perfect subtree whose root is a single
  stored node: what proofs use once the partition is archived. No default partition: the sealer
  creates the partitions it is about to write into, and the beat task creates the next one ahead.

Each partition is created by the database function `audit_partition_create` (migration 0008),
which also puts the TRUNCATE-refusing trigger on it; the UPDATE and DELETE triggers of the parent
table are cloned onto every partition by PostgreSQL itself.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent, LogLeaf, LogNode


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def event_partition_name(month: dt.date) -> str:
    return f"{AuditEvent._meta.db_table}_p{month.year:04d}_{month.month:02d}"


def range_partition_name(table: str, number: int) -> str:
    return f"{table}_p{number:06d}"


def _create(parent: str, child: str, bounds: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_partition_create(%s::regclass, %s, %s)", [parent, child, bounds])
        row = cursor.fetchone()
    return bool(row and row[0])


def event_partitions_ensure(*, until: dt.date, since: dt.date | None = None) -> list[str]:
    """Monthly event partitions from `since`'s month (default: this month) to `until`'s."""
    created = []
    month = _month_start(since or timezone.now().astimezone(dt.UTC).date())
    while month <= until:
        following = _next_month(month)
        name = event_partition_name(month)
        bounds = f"FOR VALUES FROM ('{month.isoformat()} 00:00+00') TO ('{following.isoformat()} 00:00+00')"
        if _create(AuditEvent._meta.db_table, name, bounds):
            created.append(name)
        month = following
    return created


def index_partitions_ensure(first: int, last: int) -> list[str]:
    """The leaf and node partitions holding leaf indexes `first` to `last` (inclusive)."""
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    created = []
    for number in range(first // size, last // size + 1):
        bounds = f"FOR VALUES FROM ({number * size}) TO ({(number + 1) * size})"
        for table in (LogLeaf._meta.db_table, LogNode._meta.db_table):
            name = range_partition_name(table, number)
            if _create(table, name, bounds):
                created.append(name)
    return created


def partitions_ensure(*, tree_size: int) -> list[str]:
    """Everything the next months and the next leaves need; returns the partitions created."""
    if connection.vendor != "postgresql":
        return []
    today = timezone.now().astimezone(dt.UTC).date()
    until = today
    for _ in range(settings.AUDIT_PARTITION_MONTHS_AHEAD):
        until = _next_month(until)
    created = event_partitions_ensure(until=until)
    # The partition of the next leaf, and the one after it.
    created += index_partitions_ensure(tree_size, tree_size + settings.AUDIT_LEAF_PARTITION_SIZE)
    return created
