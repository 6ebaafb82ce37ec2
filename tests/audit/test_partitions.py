"""The trail's partitions (PostgreSQL): events by month, leaves and nodes by leaf index range,
made ahead by the beat task, each partition append-only like its table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import ActorKind, AuditEvent, EventType, LogLeaf
from audit.partitions import event_partition_name, partitions_ensure, range_partition_name
from audit.sealer import log_seal

PARTITIONED = ["audit_auditevent", "audit_logleaf", "audit_lognode"]


def partitions_of(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def partition_holding(table: str, where: str, params: list[object]) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE {where}", params)  # noqa: S608
        return str(cursor.fetchone()[0])


def exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return bool(cursor.fetchone()[0])


def test_it_files_events_by_month_and_leaves_by_index_range(record: Callable[..., AuditEvent]) -> None:
    events = [record(citizen_ref=f"ref-{i}") for i in range(3)]
    log_seal()

    month = timezone.now().astimezone(dt.UTC).date().replace(day=1)
    assert partition_holding("audit_auditevent", "id = %s", [events[0].pk]) == event_partition_name(month)
    leaf = LogLeaf.objects.get(event_id=events[0].pk)
    assert partition_holding("audit_logleaf", '"index" = %s', [leaf.index]) == range_partition_name("audit_logleaf", 0)
    assert partition_holding("audit_lognode", 'level = 1 AND "index" = 0', []) == range_partition_name(
        "audit_lognode", 0
    )


def test_it_files_an_event_of_a_month_not_created_yet_in_the_default_partition(db: None) -> None:
    event = AuditEvent.objects.create(
        type=EventType.CONSENT_EXPIRED,
        actor_kind=ActorKind.SYSTEM,
        actor="system",
        occurred_at=dt.datetime(2040, 1, 1, tzinfo=dt.UTC),
    )

    assert partition_holding("audit_auditevent", "id = %s", [event.pk]) == "audit_auditevent_default"


def test_it_creates_the_next_months_and_the_next_leaf_range_ahead(db: None) -> None:
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    today = timezone.now().astimezone(dt.UTC).date()
    far = (today.replace(day=1) + dt.timedelta(days=32 * (settings.AUDIT_PARTITION_MONTHS_AHEAD + 2))).replace(day=1)

    created = partitions_ensure(tree_size=2 * size + 5)

    assert range_partition_name("audit_logleaf", 3) in created
    assert range_partition_name("audit_lognode", 3) in created
    assert exists(range_partition_name("audit_logleaf", 2)) and exists(range_partition_name("audit_lognode", 2))
    assert not exists(event_partition_name(far))
    assert partitions_ensure(tree_size=2 * size + 5) == []


def _refused(sql: str) -> str:
    # The suite's escape hatch for Django's flush is off here, as it always is in production.
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL gateway.audit_maintenance = 'off'")
        cursor.execute(sql)
    return str(caught.value)


def _triggers_of(partition: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass", [partition])
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", PARTITIONED)
def test_each_partition_refuses_update_delete_and_truncate(table: str, record: Callable[..., AuditEvent]) -> None:
    for i in range(3):
        record(citizen_ref=f"ref-{i}")
    log_seal()
    partitions_ensure(tree_size=0)
    column = "actor = 'mallory'" if table == "audit_auditevent" else "hash = hash"
    partitions = partitions_of(table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT tableoid::regclass::text FROM {table}")  # noqa: S608 - fixed names
        holding = {name for (name,) in cursor.fetchall()}

    assert len(partitions) > len(holding) > 0
    for partition in partitions:
        assert f"{partition}_no_truncate" in _triggers_of(partition)
        assert f"{table}_append_only" in _triggers_of(partition)
        assert f"TRUNCATE on {table} refused" in _refused(f"TRUNCATE {partition}")
    for partition in holding:
        assert f"UPDATE on {table} refused" in _refused(f"UPDATE {partition} SET {column}")  # noqa: S608 - catalogue names
        assert f"DELETE on {table} refused" in _refused(f"DELETE FROM {partition}")  # noqa: S608 - catalogue names
    assert AuditEvent.objects.count() == 3
