"""The sealer: appends unsealed events to the Merkle log and signs a checkpoint per batch.

One sealer at a time (a PostgreSQL transaction-scoped advisory lock; SQLite's write lock on the
embedded default). Each batch reads the stored frontier of the tree (one query), hashes the new
leaves, writes the leaves, the interior nodes they complete and a signed checkpoint, all in one
transaction. Since the new tree is always computed from the stored frontier under the lock, and
`Checkpoint.tree_size` is unique, the log can never sign two different roots for one size, nor a
root that does not extend the previous one.

Which events: those without a leaf, by id. A transaction that took a lower id but committed after
a seal is still picked up by a later seal (at a later index): every seal rescans unsealed events
newer than AUDIT_SEAL_LOOKBACK_SECONDS as well as those above the highest sealed id, and the hourly
sweep (`sweep=True`) rescans everything.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from audit import merkle
from audit.models import AuditEvent, Checkpoint, LogLeaf, LogNode
from audit.verify import format_checkpoint, leaf_hash, public_key_bytes, sign_note, verifier_key
from gateway.keys import log_signing_key

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "audit seal" as a 64-bit integer, fixed forever.
SEAL_LOCK_KEY = 0x6175646974_5345
Key = tuple[int, int]

# The leaf's event is exactly these members of AuditEvent (documented in docs and the verifier).
PROJECTION_FIELDS = (
    "id",
    "type",
    "occurred_at",
    "actor_kind",
    "actor",
    "citizen_ref",
    "consumer",
    "provider",
    "attestation_type",
    "fields",
    "purpose",
    "consent_id",
    "exchange_id",
    "correlation_id",
    "detail",
)
_TEXT_FIELDS = (
    "type",
    "actor_kind",
    "actor",
    "citizen_ref",
    "consumer",
    "provider",
    "attestation_type",
    "purpose",
    "correlation_id",
)


def rfc3339(moment: dt.datetime) -> str:
    """UTC with microseconds and 'Z': one spelling per instant, so the hash is stable."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uuid_text(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(uuid.UUID(str(value)))


def projection_from_values(values: Sequence[Any]) -> dict[str, Any]:
    """The leaf's event from a row of PROJECTION_FIELDS values (see `event_projection`)."""
    event = dict(zip(PROJECTION_FIELDS, values, strict=True))
    for name in _TEXT_FIELDS:
        # A model instance may still hold the TextChoices member it was created with.
        if type(event[name]) is not str:
            event[name] = str(event[name])
    event["occurred_at"] = rfc3339(event["occurred_at"])
    event["consent_id"] = _uuid_text(event["consent_id"])
    event["exchange_id"] = _uuid_text(event["exchange_id"])
    event["fields"] = list(event["fields"] or [])
    event["detail"] = dict(event["detail"] or {})
    return event


def event_projection(event: AuditEvent) -> dict[str, Any]:
    """The stable JSON object whose RFC 8785 canonical form is the leaf of `event`.

    Members: id, type, occurred_at (RFC 3339 UTC, microseconds, 'Z'), actor_kind, actor,
    citizen_ref, consumer, provider, attestation_type, fields (list), purpose, consent_id and
    exchange_id (lower-case UUID text or null), correlation_id, detail (object). Empty strings
    stay empty strings. Changing this changes every leaf: it is part of the log's format.
    """
    return projection_from_values([getattr(event, name) for name in PROJECTION_FIELDS])


@cache
def log_verifier_key() -> str:
    """The log's public key as a C2SP verifier key, named after the log's origin."""
    return verifier_key(settings.AUDIT_LOG_ORIGIN, public_key_bytes(log_signing_key()))


class DbNodeReader:
    """merkle.NodeReader over LogLeaf (level 0) and LogNode (levels >= 1): one query per call."""

    def __init__(self) -> None:
        self.reads = 0

    def get_nodes(self, keys: Sequence[Key]) -> dict[Key, bytes]:
        if not keys:
            return {}
        self.reads += 1
        leaves = [index for level, index in keys if level == 0]
        inner = [(level, index) for level, index in keys if level > 0]
        parts: list[str] = []
        params: list[int] = []
        leaf_table, node_table = LogLeaf._meta.db_table, LogNode._meta.db_table
        if leaves:
            # Only table names from the models and placeholders are interpolated; values are params.
            placeholders = ", ".join(["%s"] * len(leaves))
            parts.append(f'SELECT 0, "index", "hash" FROM {leaf_table} WHERE "index" IN ({placeholders})')  # noqa: S608
            params.extend(leaves)
        if inner:
            condition = " OR ".join(['("level" = %s AND "index" = %s)'] * len(inner))
            parts.append(f'SELECT "level", "index", "hash" FROM {node_table} WHERE {condition}')  # noqa: S608
            params.extend(value for key in inner for value in key)
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            return {(int(level), int(index)): bytes(digest) for level, index, digest in cursor.fetchall()}


def log_size() -> int:
    """The size of the latest signed tree (0 before the first seal)."""
    size = Checkpoint.objects.aggregate(size=Max("tree_size"))["size"]
    return int(size or 0)


def _lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the IMMEDIATE transaction already holds the database's write lock
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        row = cursor.fetchone()
    return bool(row and row[0])


def _candidates(max_batch: int, sweep: bool) -> list[tuple[Any, ...]]:
    unsealed = AuditEvent.objects.filter(~Exists(LogLeaf.objects.filter(event_id=OuterRef("pk"))))
    if not sweep:
        highest = LogLeaf.objects.aggregate(top=Max("event_id"))["top"] or 0
        cutoff = timezone.now() - dt.timedelta(seconds=settings.AUDIT_SEAL_LOOKBACK_SECONDS)
        unsealed = unsealed.filter(Q(pk__gt=highest) | Q(occurred_at__gte=cutoff))
    return list(unsealed.order_by("pk").values_list(*PROJECTION_FIELDS)[:max_batch])


def _copy_rows(table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    if connection.vendor == "postgresql":
        # COPY is several times faster than INSERT for the sealer's large batches.
        with connection.cursor() as cursor:
            quoted = ", ".join(f'"{c}"' for c in columns)
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    values = [dict(zip(columns, row, strict=True)) for row in rows]
    if table == LogLeaf._meta.db_table:
        LogLeaf.objects.bulk_create([LogLeaf(**value) for value in values], batch_size=500)
    else:
        LogNode.objects.bulk_create([LogNode(**value) for value in values], batch_size=500)


def log_seal(*, max_batch: int = 50_000, sweep: bool = False) -> Checkpoint | None:
    """Seals up to `max_batch` unsealed events and signs a checkpoint; None if nothing to do.

    Also None when another sealer holds the lock: the caller just tries again at the next beat.
    """
    if max_batch < 1:
        raise ValueError("max_batch must be positive")
    with transaction.atomic():
        if not _lock():
            return None
        rows = _candidates(max_batch, sweep)
        if not rows:
            return None
        size = log_size()
        hashes = [leaf_hash(projection_from_values(row)) for row in rows]
        result = merkle.append(size, DbNodeReader(), hashes)
        _copy_rows(
            LogLeaf._meta.db_table,
            ("index", "event_id", "hash"),
            ((size + i, row[0], digest) for i, (row, digest) in enumerate(zip(rows, hashes, strict=True))),
        )
        _copy_rows(
            LogNode._meta.db_table,
            ("level", "index", "hash"),
            ((level, index, digest) for (level, index), digest in result.new_nodes.items() if level > 0),
        )
        body = format_checkpoint(settings.AUDIT_LOG_ORIGIN, result.new_size, result.root)
        note = sign_note(body, settings.AUDIT_LOG_ORIGIN, log_signing_key())
        checkpoint = Checkpoint.objects.create(tree_size=result.new_size, root=result.root, note=note)
    logger.info("audit log sealed %d events, tree size %d", len(rows), result.new_size)
    return checkpoint


def log_seal_all(*, max_batch: int = 50_000, sweep: bool = False) -> list[Checkpoint]:
    """Seals until nothing is left (one checkpoint per batch); for commands and the embedded mode."""
    checkpoints = []
    while (checkpoint := log_seal(max_batch=max_batch, sweep=sweep)) is not None:
        checkpoints.append(checkpoint)
    return checkpoints


def seal_after_commit() -> None:
    """Embedded default only (eager Celery, no beat): seal once the recording transaction commits.

    A failure to seal must never fail the action that was recorded: the next commit (or
    `manage.py audit_seal`) seals what is left.
    """
    try:
        log_seal_all()
    except Exception:
        logger.exception("audit seal after commit failed; events stay queued for the next seal")
