"""Archiving a full leaf partition of the trail (PostgreSQL): export, verify, store, record, detach.

A leaf partition holds AUDIT_LEAF_PARTITION_SIZE leaves, a power of two: one perfect subtree of
the log. Archiving it:

1. exports its leaves (the verifier's `gateway-audit-export/1` lines, with the latest checkpoint),
   streamed to a staging file (memory stays small: a partition holds millions of leaves);
2. verifies the export, as it is written, against the signed log: the leaves' hashes are recomputed from the
   exported events, folded into the subtree, and the inclusion of the range's first leaf is
   checked against the latest signed checkpoint, with the proof's part inside the subtree
   computed from the export and the part above it read from the stored nodes: every exported
   event takes part, and a single changed byte fails the check;
3. stores the file where AUDIT_ARCHIVE_URL says (a directory, or an S3-compatible bucket:
   audit/archive_stores.py) and records its SHA-256 and place as an `audit.archived` event
   (itself sealed into the log like any event);
4. detaches the partition from the leaves table (`ALTER TABLE … DETACH PARTITION`): the rows leave
   the live table but stay in the detached table until the operator drops it.

All of it runs in one transaction under an advisory lock (one archive at a time, whichever node
runs it), so a failure at any step leaves the partition attached and unrecorded. The beat task of
retention (audit/retention.py) calls the same function for each partition whose time has come.

The nodes stay: the log's root, consistency proofs and the proofs of later leaves are unaffected.
An inclusion proof of an archived leaf answers 410 `leaf_archived`, naming the archive and its
digest: the archive's file holds the leaf, and the verifier checks it offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection, transaction

from audit import merkle
from audit.archive_stores import ArchiveStore, configured_store
from audit.exports import export_lines
from audit.models import AuditEvent, Checkpoint, EventType, LogLeaf
from audit.partitions import range_partition_name
from audit.sealer import DbNodeReader, log_size
from audit.services import Actor, event_record
from audit.tlog.merkle import leaf_hash, node_hash, verify_inclusion
from core.errors import ValidationError


@dataclass(frozen=True)
class Archive:
    number: int
    first_index: int
    end_index: int
    sha256: str
    location: str


class _SubtreeFolder:
    """Folds the leaf hashes of a perfect subtree as they stream by, keeping only O(log n) hashes,
    and collects the inclusion proof of its first leaf: the roots of [1, 2), [2, 4), [4, 8)…"""

    def __init__(self) -> None:
        self.stack: list[tuple[int, int, bytes]] = []  # (start, size, hash), relative to the subtree
        self.siblings: list[bytes] = []
        self.count = 0

    def add(self, digest: bytes) -> None:
        self.stack.append((self.count, 1, digest))
        self.count += 1
        while len(self.stack) >= 2 and self.stack[-1][1] == self.stack[-2][1]:
            (start, size, left), (_, _, right) = self.stack[-2], self.stack[-1]
            if start == 0:
                self.siblings.append(right)
            self.stack[-2:] = [(start, 2 * size, node_hash(left, right))]


def _verify(folder: _SubtreeFolder, first_leaf: bytes | None, first: int, end: int) -> None:
    if folder.count != end - first or first_leaf is None:
        raise ValidationError("The export does not hold every leaf of the partition.")
    size = log_size()
    # Above the subtree, the proof comes from the stored nodes; inside it, from the export.
    above = merkle.inclusion_proof(first, size, DbNodeReader())[(end - first).bit_length() - 1 :]
    root = Checkpoint.objects.filter(tree_size=size).values_list("root", flat=True).first()
    if root is None or not verify_inclusion(first_leaf, first, size, folder.siblings + above, bytes(root)):
        raise ValidationError("The export does not match the signed log.")


def export_verified(lines: Iterable[str], first: int, end: int, out: IO[bytes]) -> str:
    """Writes `lines` (an export of leaves [first, end)) to `out` while checking them against the
    signed log; returns the SHA-256 of what was written. Memory stays small whatever the size."""
    folder = _SubtreeFolder()
    first_leaf: bytes | None = None
    digest = hashlib.sha256()
    for line in lines:
        data = (line if line.endswith("\n") else line + "\n").encode()
        out.write(data)
        digest.update(data)
        document = json.loads(data)
        if document.get("kind") != "event":
            continue
        if document["index"] != first + folder.count:
            raise ValidationError("The export does not hold every leaf of the partition, in order.")
        hashed = leaf_hash(document["event"])
        first_leaf = hashed if first_leaf is None else first_leaf
        folder.add(hashed)
    _verify(folder, first_leaf, first, end)
    return digest.hexdigest()


# pg_try_advisory_xact_lock key: "archive" as a 64-bit integer, fixed forever. One archive of the
# trail at a time, whichever node or command runs it: taken in the archive's transaction, it is
# released at its commit or rollback, also behind PgBouncer in transaction mode.
ARCHIVE_LOCK_KEY = 0x61726368697665


class ArchiveBusy(ValidationError):
    """Another archive of the trail is running (another node's beat, or an operator)."""


class AlreadyArchived(ValidationError):
    """The partition was archived already."""


def archived_partitions() -> set[str]:
    """The names of the leaf partitions archived so far (from their `audit.archived` events)."""
    details = AuditEvent.objects.filter(type=EventType.AUDIT_ARCHIVED).values_list("detail", flat=True)
    return {str(detail["partition"]) for detail in details}


def leaf_partition_archive(*, number: int, actor: Actor, store: ArchiveStore | None = None) -> Archive:
    """Archives leaf partition `number` (leaves number·size to (number+1)·size − 1) to `store`
    (default: AUDIT_ARCHIVE_URL, else AUDIT_ARCHIVE_DIR).

    One transaction from the checks to the detachment, under the archive lock: if anything fails
    (the export does not verify, the store refuses the file, the database), nothing is recorded,
    the partition stays attached, and running it again starts afresh (a file already stored is
    removed, or, if the commit itself failed, replaced by the next run's under the same name).
    """
    if connection.vendor != "postgresql":
        raise ValidationError("Archiving needs the partitioned trail of PostgreSQL.")
    store = store or configured_store()
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    first, end = number * size, (number + 1) * size
    partition = range_partition_name(LogLeaf._meta.db_table, number)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ARCHIVE_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise ArchiveBusy("Another archive of the trail is running; try again later.")
        if log_size() < end:
            raise ValidationError(f"Leaf partition {number} is not full yet.")
        if partition in archived_partitions():
            raise AlreadyArchived(f"Leaf partition {number} is already archived.")
        sha256, staged = _export_staged(store, first, end, partition)
        location = store.put(f"{partition}.jsonl", staged, sha256)
        try:
            archive = _record_and_detach(Archive(number, first, end, sha256, location), partition, actor)
        except BaseException:
            store.remove(location)
            raise
    return archive


def _export_staged(store: ArchiveStore, first: int, end: int, partition: str) -> tuple[str, Path]:
    """Exports leaves [first, end) to a staging file while verifying them; (SHA-256, file)."""
    lines = export_lines(from_index=first, to_index=end, checkpoints="latest")
    with tempfile.NamedTemporaryFile(
        "wb", dir=store.staging_dir(), prefix=f".{partition}.", suffix=".partial", delete=False
    ) as file:
        staged = Path(file.name)
        try:
            sha256 = export_verified(lines, first, end, file)
            file.flush()
            # On disk before the rows leave the live table.
            os.fsync(file.fileno())
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
    return sha256, staged


def _record_and_detach(archive: Archive, partition: str, actor: Actor) -> Archive:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT max(e.occurred_at), max(e.id) FROM {partition} l "  # noqa: S608
            f"JOIN {AuditEvent._meta.db_table} e ON e.id = l.event_id"
        )
        events_until, events_max_id = cursor.fetchone()
    event_record(
        type=EventType.AUDIT_ARCHIVED,
        actor=actor,
        detail={
            "partition": partition,
            "first_index": archive.first_index,
            "end_index": archive.end_index,
            "sha256": archive.sha256,
            "location": archive.location,
            # The sealer looks for unsealed events after these (audit/sealer.py): the archived
            # events have no live leaf any more.
            "events_until": events_until.isoformat(),
            "events_max_id": events_max_id,
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {LogLeaf._meta.db_table} DETACH PARTITION {partition}")
    return archive
