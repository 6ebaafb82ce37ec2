"""Archiving a full leaf partition of the trail (PostgreSQL): export, verify, store, record, detach.

A leaf partition holds AUDIT_LEAF_PARTITION_SIZE leaves, a power of two: one perfect subtree of
the log. Archiving it:

1. exports its leaves (the verifier's `gateway-audit-export/1` lines, with the latest checkpoint);
2. verifies the export against the signed log: the leaves' hashes are recomputed from the
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
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from audit import merkle
from audit.exports import export_lines
from audit.models import AuditEvent, Checkpoint, EventType, LogLeaf
from audit.partitions import range_partition_name
from audit.sealer import DbNodeReader, log_size
from audit.services import Actor, event_record
from audit.tlog.merkle import leaf_hash, root_from_leaves, verify_inclusion
from core.errors import ValidationError


@dataclass(frozen=True)
class Archive:
    number: int
    first_index: int
    end_index: int
    sha256: str
    location: str


def _subtree_siblings(hashes: list[bytes]) -> list[bytes]:
    """The inclusion proof of the first leaf inside its perfect subtree: the roots of the
    right halves, from the bottom up."""
    proof = []
    width = 1
    while width < len(hashes):
        proof.append(root_from_leaves(hashes[width : 2 * width]))
        width *= 2
    return proof


def _verified(lines: list[str], first: int, end: int) -> None:
    documents = [json.loads(line) for line in lines]
    events = [document for document in documents if document.get("kind") == "event"]
    if [event["index"] for event in events] != list(range(first, end)):
        raise ValidationError("The export does not hold every leaf of the partition.")
    hashes = [leaf_hash(event["event"]) for event in events]
    size = log_size()
    # Above the subtree, the proof comes from the stored nodes; inside it, from the export.
    above = merkle.inclusion_proof(first, size, DbNodeReader())[(end - first).bit_length() - 1 :]
    root = Checkpoint.objects.filter(tree_size=size).values_list("root", flat=True).first()
    if root is None or not verify_inclusion(hashes[0], first, size, _subtree_siblings(hashes) + above, bytes(root)):
        raise ValidationError("The export does not match the signed log.")


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
    lines = list(export_lines(from_index=first, to_index=end, checkpoints="latest"))
    _verified(lines, first, end)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT max(e.occurred_at) FROM {partition} l JOIN {AuditEvent._meta.db_table} e ON e.id = l.event_id"  # noqa: S608
        )
        events_until = cursor.fetchone()[0]

    directory = Path(settings.AUDIT_ARCHIVE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{partition}.jsonl"
    data = "".join(line if line.endswith("\n") else line + "\n" for line in lines).encode()
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        # On disk before the rows leave the live table.
        os.fsync(file.fileno())
    archive = Archive(number, first, end, hashlib.sha256(data).hexdigest(), str(path))
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
