"""Archiving a full leaf partition: verified export, stored file, audit event, detached partition,
and proofs of archived leaves that say where the archive is."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from audit.archives import export_verified, leaf_partition_archive
from audit.exports import export_lines
from audit.models import AuditEvent, EventType, LogLeaf
from audit.sealer import log_seal, log_size
from audit.services import Actor
from core.errors import ValidationError
from tests.audit.conftest import leaf_partitions

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_partitions(record: Callable[..., AuditEvent]) -> int:
    """Leaves enough to fill the first leaf partition and start the second."""
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    for i in range(size + 3):
        record(citizen_ref=f"ref-{i}")
    log_seal()
    assert log_size() == size + 3
    return size


def test_it_archives_a_full_partition_and_detaches_it(two_partitions: int, archive_dir: Path) -> None:
    size = two_partitions

    archive = leaf_partition_archive(number=0, actor=Actor.system())

    data = Path(archive.location).read_bytes()
    assert Path(archive.location).parent == archive_dir
    assert hashlib.sha256(data).hexdigest() == archive.sha256
    indexes = [json.loads(line)["index"] for line in data.splitlines() if json.loads(line)["kind"] == "event"]
    assert indexes == list(range(size))
    recorded = AuditEvent.objects.get(type=EventType.AUDIT_ARCHIVED)
    assert recorded.detail["sha256"] == archive.sha256
    assert recorded.detail["location"] == archive.location
    assert "audit_logleaf_p000000" not in leaf_partitions()
    assert sorted(LogLeaf.objects.values_list("index", flat=True)) == list(range(size, size + 3))


def test_proofs_of_archived_leaves_name_the_archive_and_others_still_work(
    two_partitions: int, archive_dir: Path
) -> None:
    size = two_partitions
    archive = leaf_partition_archive(number=0, actor=Actor.system())
    client = Client()

    archived = client.get("/api/v1/audit/proofs/inclusion", {"index": 2})
    live = client.get("/api/v1/audit/proofs/inclusion", {"index": size + 1})

    assert archived.status_code == 410
    assert archived.json()["code"] == "leaf_archived"
    assert archived.json()["archive"]["sha256"] == archive.sha256
    assert archived.json()["archive"]["location"] == archive.location
    assert live.status_code == 200
    assert live.json()["index"] == size + 1


def test_the_sweep_does_not_seal_archived_events_again(two_partitions: int, archive_dir: Path) -> None:
    size = two_partitions
    leaf_partition_archive(number=0, actor=Actor.system())

    log_seal(sweep=True)

    # Only the archive's own event was sealed, after the live leaves.
    assert log_size() == size + 4
    assert LogLeaf.objects.get(index=size + 3).event.type == EventType.AUDIT_ARCHIVED


def test_it_refuses_a_partition_not_full_yet_and_a_second_archive(two_partitions: int, archive_dir: Path) -> None:
    with pytest.raises(ValidationError, match="not full"):
        leaf_partition_archive(number=1, actor=Actor.system())
    leaf_partition_archive(number=0, actor=Actor.system())
    with pytest.raises(ValidationError, match="already archived"):
        leaf_partition_archive(number=0, actor=Actor.system())


def test_a_changed_export_fails_verification(two_partitions: int) -> None:
    size = two_partitions
    lines = list(export_lines(from_index=0, to_index=size, checkpoints="latest"))
    forged = [line.replace('"ref-5"', '"ref-X"') for line in lines]
    assert forged != lines

    export_verified(lines, 0, size, io.BytesIO())
    with pytest.raises(ValidationError, match="does not match"):
        export_verified(forged, 0, size, io.BytesIO())
    with pytest.raises(ValidationError, match="every leaf"):
        export_verified([line for line in lines if '"index":3,' not in line], 0, size, io.BytesIO())


def test_archiving_the_last_full_partition_seals_only_the_archive_event_next(
    record: Callable[..., AuditEvent], archive_dir: Path
) -> None:
    # No live leaf is left once the partition goes: the sealer must still know its events are sealed.
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    for i in range(size):
        record(citizen_ref=f"ref-{i}")
    log_seal()
    assert log_size() == size
    leaf_partition_archive(number=0, actor=Actor.system())

    log_seal()

    assert log_size() == size + 1
    assert LogLeaf.objects.get(index=size).event.type == EventType.AUDIT_ARCHIVED
