"""Retention: the beat task archives and detaches the leaf partitions whose records have served
their legal time, with real partitions (AUDIT_LEAF_PARTITION_SIZE is 8 in the tests)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import tasks
from audit.archives import ARCHIVE_LOCK_KEY
from audit.models import ActorKind, AuditEvent, EventType, LogLeaf
from audit.partitions import event_partitions_ensure
from audit.retention import event_months_detach, retention_apply, retention_of
from audit.sealer import log_seal, log_size
from tests.audit.conftest import leaf_partitions

pytestmark = pytest.mark.django_db(transaction=True)

DAY = dt.timedelta(days=1)


@pytest.fixture
def durations(settings: object) -> None:
    """Exchanges 10 days, consent decisions 100 days, anything else 30."""
    settings.AUDIT_RETENTION_DAYS = {"exchange": 10, "consent": 100}  # type: ignore[attr-defined]
    settings.AUDIT_RETENTION_DEFAULT_DAYS = 30  # type: ignore[attr-defined]


@pytest.fixture
def fill(record: Callable[..., AuditEvent]) -> Callable[..., int]:
    """Records `count` exchange events (or of `types` in turn) and seals them; returns the size."""

    def make(count: int, types: tuple[EventType, ...] = (EventType.EXCHANGE_SUCCEEDED,)) -> int:
        for i in range(count):
            record(type=types[i % len(types)], citizen_ref=f"ref-{i}")
        log_seal()
        return log_size()

    return make


def archived_events() -> list[dict[str, object]]:
    return [e.detail for e in AuditEvent.objects.filter(type=EventType.AUDIT_ARCHIVED).order_by("id")]


def test_a_type_takes_its_own_duration_else_its_family_else_the_default() -> None:
    durations = {"consent": 100, "citizen.login_failed": 7}

    assert retention_of("consent.approved", durations, 30) == 100 * DAY
    assert retention_of("citizen.login_failed", durations, 30) == 7 * DAY
    assert retention_of("citizen.previewed", durations, 30) == 30 * DAY


def test_the_defaults_keep_consents_longer_than_exchanges_and_access_logs_a_year() -> None:
    durations, default = settings.AUDIT_RETENTION_DAYS, settings.AUDIT_RETENTION_DEFAULT_DAYS

    assert retention_of("consent.approved", durations, default) > retention_of("exchange.succeeded", durations, default)
    assert retention_of("auditor.searched", durations, default) == 365 * DAY
    assert "audit-retention" in settings.CELERY_BEAT_SCHEDULE
    assert settings.CELERY_BEAT_SCHEDULE["audit-retention"]["task"] == "audit.tasks.retention_apply"


def test_it_archives_full_partitions_past_their_retention_and_nothing_else(
    durations: None, fill: Callable[..., int], archive_dir: Path
) -> None:
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    fill(2 * size + 3)
    now = timezone.now()

    assert retention_apply(now=now + 9 * DAY) == []
    archives = retention_apply(now=now + 11 * DAY)

    assert [a.number for a in archives] == [0, 1]
    assert [d["partition"] for d in archived_events()] == ["audit_logleaf_p000000", "audit_logleaf_p000001"]
    assert leaf_partitions()[0] == "audit_logleaf_p000002"
    assert sorted(LogLeaf.objects.values_list("index", flat=True)) == list(range(2 * size, 2 * size + 3))
    for archive in archives:
        lines = [json.loads(line) for line in Path(archive.location).read_text().splitlines()]
        indexes = [line["index"] for line in lines if line["kind"] == "event"]
        assert indexes == list(range(archive.first_index, archive.end_index))
    # Idempotent: a second run (a redelivered message, the next day's beat) finds nothing due.
    assert retention_apply(now=now + 11 * DAY) == []
    assert len(archived_events()) == 2


def test_a_partition_waits_for_the_longest_retention_of_its_records(
    durations: None, fill: Callable[..., int], archive_dir: Path
) -> None:
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    # One consent decision among exchanges in the first partition; the second holds exchanges only.
    fill(size, types=(EventType.CONSENT_APPROVED,) + (EventType.EXCHANGE_SUCCEEDED,) * (size - 1))
    fill(size + 1)
    now = timezone.now()

    # The second partition is due, but partitions go oldest first: the first holds it back.
    assert retention_apply(now=now + 50 * DAY) == []
    assert "audit_logleaf_p000000" in leaf_partitions()

    assert [a.number for a in retention_apply(now=now + 101 * DAY)] == [0, 1]


def test_a_failing_store_leaves_the_partition_attached_and_the_next_run_archives_it(
    durations: None, fill: Callable[..., int], archive_dir: Path
) -> None:
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    fill(size + 1)
    # The store's step fails: the archive's name is taken by a directory, which no file replaces.
    (archive_dir / "audit_logleaf_p000000.jsonl" / "in-the-way").mkdir(parents=True)
    later = timezone.now() + 11 * DAY

    with pytest.raises(OSError):
        retention_apply(now=later)

    assert "audit_logleaf_p000000" in leaf_partitions()
    assert archived_events() == []
    assert LogLeaf.objects.count() == size + 1
    assert [p.name for p in archive_dir.iterdir()] == ["audit_logleaf_p000000.jsonl"]  # no staging file left

    (archive_dir / "audit_logleaf_p000000.jsonl" / "in-the-way").rmdir()
    (archive_dir / "audit_logleaf_p000000.jsonl").rmdir()
    assert [a.number for a in retention_apply(now=later)] == [0]
    assert "audit_logleaf_p000000" not in leaf_partitions()


@pytest.fixture
def other_node() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A second database session, as another node's worker would hold."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params) as other:
        yield other


def test_a_second_node_does_nothing_while_one_archives(
    durations: None,
    fill: Callable[..., int],
    archive_dir: Path,
    other_node: psycopg.Connection[tuple[object, ...]],
) -> None:
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    fill(size + 1)
    later = timezone.now() + 11 * DAY

    # The other node is archiving: it holds the archive lock in its transaction.
    with other_node.transaction():
        other_node.execute("SELECT pg_advisory_xact_lock(%s)", [ARCHIVE_LOCK_KEY])
        assert retention_apply(now=later) == []
        assert "audit_logleaf_p000000" in leaf_partitions()
        assert archived_events() == []

    assert [a.number for a in retention_apply(now=later)] == [0]


def test_the_beat_task_archives_what_is_due_now(fill: Callable[..., int], archive_dir: Path, settings: object) -> None:
    settings.AUDIT_RETENTION_DAYS = {}  # type: ignore[attr-defined]
    settings.AUDIT_RETENTION_DEFAULT_DAYS = 0  # type: ignore[attr-defined]
    size = settings.AUDIT_LEAF_PARTITION_SIZE  # type: ignore[attr-defined]
    fill(size + 1)

    locations = tasks.retention_apply()

    assert locations == [str(archive_dir / "audit_logleaf_p000000.jsonl")]
    assert archived_events()[0]["location"] == locations[0]


@pytest.fixture
def old_month() -> Iterator[dt.datetime]:
    """A month of events two months back, its partition made as the beat task would have."""
    start = (timezone.now().astimezone(dt.UTC).replace(day=1) - dt.timedelta(days=40)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    event_partitions_ensure(since=start.date(), until=start.date())
    yield start
    # Detached months are committed DDL: drop them, as an operator would once the archives are safe.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relname LIKE 'audit\\_auditevent\\_p%%' AND c.relkind = 'r' "
            "AND NOT c.relispartition"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE {name}")


def event_months() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'audit_auditevent'::regclass ORDER BY 1"
        )
        return [name for (name,) in cursor.fetchall()]


def test_a_month_of_events_wholly_archived_is_detached_after_its_leaves(
    durations: None, fill: Callable[..., int], archive_dir: Path, old_month: dt.datetime
) -> None:
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    month = f"audit_auditevent_p{old_month.year:04d}_{old_month.month:02d}"
    with transaction.atomic():
        for i in range(size):
            AuditEvent.objects.create(
                type=EventType.EXCHANGE_SUCCEEDED,
                occurred_at=old_month + dt.timedelta(hours=i),
                actor_kind=ActorKind.CONSUMER,
                actor="21690123100011",
                citizen_ref=f"old-{i}",
            )
    fill(3)  # this month's, in the next leaf partition
    assert log_size() == size + 3

    # Its leaves are not archived yet: the month stays.
    assert event_months_detach() == []
    assert month in event_months()

    archives = retention_apply(now=timezone.now() + 11 * DAY)
    assert [a.number for a in archives] == [0]

    assert event_months_detach() == [month]
    assert month not in event_months()
    detached = AuditEvent.objects.get(type=EventType.AUDIT_EVENTS_DETACHED)
    assert detached.detail["partition"] == month
    # The current month (it holds the archive's own event and live leaves' events) stays.
    assert any(name.endswith(f"{timezone.now():_p%Y_%m}") for name in event_months())
    assert AuditEvent.objects.filter(citizen_ref__startswith="old-").count() == 0
    assert AuditEvent.objects.filter(citizen_ref__startswith="ref-").count() == 3
    # Idempotent.
    assert event_months_detach() == []
