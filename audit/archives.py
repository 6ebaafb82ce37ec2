"""Archiving a full leaf partition of the trail (PostgreSQL): export, verify, store, record, detach.

A leaf partition holds AUDIT_LEAF_PARTITION_SIZE leaves, a power of two: one perfect subtree of
the log. Archiving it:

1. exports its leaves (the verifier's `gateway-audit-export/1` lines, with the latest checkpoint),
   streamed to the archive file (memory stays small: a partition holds millions of leaves);
2. verifies the export, as it is written, against the signed log: the leaves' hashes are recomputed from the
   exported events, folded into the subtree, and the inclusion of the range's first leaf is
   checked against the latest signed checkpoint, with the proof's part inside the subtree
   computed from the export and the part above it read from the stored nodes: every exported
   event takes part, and a single changed byte fails the check;
3. stores the file in AUDIT_ARCHIVE_DIR (a file path; an S3-compatible bucket is mounted there
   or the file copied to it by the operator) and records its SHA-256 and place as an
   `audit.archived` event (itself sealed into the log like any event);
4. detaches the partition from the leaves table (`ALTER TABLE … DETACH PARTITION`): the rows leave
   the live table but stay in the detached table until the operator drops it.

The nodes stay: the log's root, consistency proofs and the proofs of later leaves are unaffected.
An inclusion proof of an archived leaf answers 410 `leaf_archived`, naming the archive and its
digest: the archive's file holds the leaf, and the verifier checks it offline.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import connection, transaction

from audit import merkle
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


def export_verified(lines: Iterable[str], first: int, end: int, out: BinaryIO) -> str:
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


def leaf_partition_archive(*, number: int, actor: Actor) -> Archive:
    """Archives leaf partition `number` (leaves number·size to (number+1)·size − 1)."""
    if connection.vendor != "postgresql":
        raise ValidationError("Archiving needs the partitioned trail of PostgreSQL.")
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    first, end = number * size, (number + 1) * size
    partition = range_partition_name(LogLeaf._meta.db_table, number)
    if log_size() < end:
        raise ValidationError(f"Leaf partition {number} is not full yet.")
    if AuditEvent.objects.filter(type=EventType.AUDIT_ARCHIVED, detail__partition=partition).exists():
        raise ValidationError(f"Leaf partition {number} is already archived.")
    directory = Path(settings.AUDIT_ARCHIVE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{partition}.jsonl"
    lines = export_lines(from_index=first, to_index=end, checkpoints="latest")
    try:
        with path.open("wb") as file:
            sha256 = export_verified(lines, first, end, file)
            file.flush()
            # On disk before the rows leave the live table.
            os.fsync(file.fileno())
    except ValidationError:
        path.unlink(missing_ok=True)
        raise
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT max(e.occurred_at) FROM {partition} l JOIN {AuditEvent._meta.db_table} e ON e.id = l.event_id"  # noqa: S608
        )
        events_until = cursor.fetchone()[0]
    archive = Archive(number, first, end, sha256, str(path))
    with transaction.atomic():
        event_record(
            type=EventType.AUDIT_ARCHIVED,
            actor=actor,
            detail={
                "partition": partition,
                "first_index": first,
                "end_index": end,
                "sha256": archive.sha256,
                "location": archive.location,
                # The hourly sweep of unsealed events starts after this (audit/sealer.py).
                "events_until": events_until.isoformat(),
            },
        )
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {LogLeaf._meta.db_table} DETACH PARTITION {partition}")
    return archive
