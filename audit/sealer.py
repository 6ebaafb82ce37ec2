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

Speed (the 20,000 events/s target): on PostgreSQL the batch is read with one raw query whose two
halves each use an index (ids above the highest sealed one need no anti-join: none of them can
be sealed), and each event's canonical JSON is assembled from the row's text as it comes off the
wire (`projection_json_rows`), byte for byte what `canonical_json(event_projection(event))` gives,
without building model instances; leaves and nodes go in with one COPY each.
"""

from __future__ import annotations

import datetime as dt
import json
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
from audit.models import AuditEvent, Checkpoint, EventType, LogLeaf, LogNode
from audit.partitions import index_partitions_ensure
from audit.tlog.canonical import MAX_SAFE_INTEGER, canonical_json, canonical_string, member_order
from audit.tlog.merkle import leaf_hashes
from audit.tlog.note import format_checkpoint, public_key_bytes, sign_note, verifier_key
from core.keys import log_signing_key
from core.replicas import reading_connection

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "audit seal" as a 64-bit integer, fixed forever.
SEAL_LOCK_KEY = 0x6175646974_5345
Key = tuple[int, int]

# The leaf's event is exactly these members of AuditEvent (specified in docs/trail.md, section 1).
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


_CANONICAL_ORDER = member_order(PROJECTION_FIELDS)
_JSON_NULL = "null"
# Canonical JSON of one event from PROJECTION_SQL's columns, in _CANONICAL_ORDER.
_EVENT_TEMPLATE = "{" + ",".join(f'"{name}":%s' for name in _CANONICAL_ORDER) + "}"


def _projection_sql(alias: str) -> str:
    """The SELECT list `projection_json_rows` reads: id, then the members in canonical order.

    Text as PostgreSQL prints it: uuid::text is the lower-case hyphenated form str(UUID) gives,
    jsonb::text is parsed and re-canonicalized in Python. occurred_at is formatted by the server
    only in years 1000-9999, where to_char and strftime spell it alike; any other year comes back
    NULL and that event takes `event_projection` itself.
    """
    moment = f"{alias}.occurred_at AT TIME ZONE 'UTC'"
    columns = {name: f"{alias}.{name}" for name in PROJECTION_FIELDS}
    columns["consent_id"] = f"{alias}.consent_id::text"
    columns["exchange_id"] = f"{alias}.exchange_id::text"
    columns["fields"] = f"{alias}.fields::text"
    columns["detail"] = f"{alias}.detail::text"
    columns["occurred_at"] = (
        f"CASE WHEN EXTRACT(YEAR FROM {moment}) BETWEEN 1000 AND 9999 "
        f'THEN to_char({moment}, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') END'
    )
    return ", ".join([f"{alias}.id", *(columns[name] for name in _CANONICAL_ORDER)])


PROJECTION_SQL = _projection_sql("e")


def _json_member(text: str, normalize: type[list[Any]] | type[dict[str, Any]], cache: dict[str, str]) -> str:
    """Canonical JSON of a jsonb column as `projection_from_values` normalizes it, memoized.

    Details and field lists repeat (a status, the fields of one attestation type), so most rows
    cost a dict lookup. Same parse (json.loads, as Django's JSONField) and same normalization.
    """
    member = cache.get(text)
    if member is None:
        if len(cache) > 4096:
            cache.clear()
        member = canonical_json(normalize(json.loads(text) or normalize())).decode()
        cache[text] = member
    return member


def projection_json_rows(rows: Iterable[Sequence[Any]]) -> list[str]:
    """Canonical JSON text of each event row read with PROJECTION_SQL (PostgreSQL).

    Identical, byte for byte, to `canonical_json(event_projection(event)).decode()`: RFC 8785 is
    compositional, so the fixed members are joined in canonical order around each value's own
    canonical form. A row outside what that covers (unrepresentable id or year) is projected from
    its model instance instead.
    """
    string = canonical_string
    lists: dict[str, str] = {}
    dicts: dict[str, str] = {}
    template = _EVENT_TEMPLATE
    out = []
    for row in rows:
        (event_id, actor, actor_kind, attestation_type, citizen_ref, consent_id, consumer, correlation_id,
         detail, exchange_id, fields, _, occurred_at, provider, purpose, type_) = row  # fmt: skip
        if occurred_at is None or not -MAX_SAFE_INTEGER <= event_id <= MAX_SAFE_INTEGER:
            event = AuditEvent.objects.get(pk=event_id)
            out.append(canonical_json(event_projection(event)).decode())
            continue
        out.append(
            template
            % (
                string(actor),
                string(actor_kind),
                string(attestation_type),
                string(citizen_ref),
                _JSON_NULL if consent_id is None else string(consent_id),
                string(consumer),
                string(correlation_id),
                _json_member(detail, dict, dicts),
                _JSON_NULL if exchange_id is None else string(exchange_id),
                _json_member(fields, list, lists),
                event_id,
                string(occurred_at),
                string(provider),
                string(purpose),
                string(type_),
            )
        )
    return out


@cache
def log_verifier_key() -> str:
    """The log's public key as a C2SP verifier key, named after the log's origin."""
    return verifier_key(settings.AUDIT_LOG_ORIGIN, public_key_bytes(log_signing_key()))


class DbNodeReader:
    """merkle.NodeReader over LogLeaf (level 0) and LogNode (levels >= 1): one query per call.

    On PostgreSQL the keys go in as arrays, so the statement's text is the same whatever the keys:
    leaves through LogLeaf's primary key, nodes by a nested loop of probes into the unique
    (level, index) index. Elsewhere (SQLite), IN and OR over the same indexes.
    """

    def __init__(self) -> None:
        self.reads = 0

    def get_nodes(self, keys: Sequence[Key]) -> dict[Key, bytes]:
        if not keys:
            return {}
        self.reads += 1
        leaves = [index for level, index in keys if level == 0]
        inner = [(level, index) for level, index in keys if level > 0]
        # Proofs read a replica when their view allows it; the seal's own reads are in its
        # transaction, hence on the primary.
        reading = reading_connection(LogNode)
        sql, params = (self._postgresql if reading.vendor == "postgresql" else self._portable)(leaves, inner)
        with reading.cursor() as cursor:
            cursor.execute(sql, params)
            return {(int(level), int(index)): bytes(digest) for level, index, digest in cursor.fetchall()}

    @staticmethod
    def _postgresql(leaves: list[int], inner: list[Key]) -> tuple[str, list[Any]]:
        leaf_table, node_table = LogLeaf._meta.db_table, LogNode._meta.db_table
        # Only table names from the models are interpolated; values are parameters.
        sql = (
            f'SELECT 0, l."index", l."hash" FROM {leaf_table} l WHERE l."index" = ANY(%s::bigint[])'  # noqa: S608
            f' UNION ALL SELECT n."level", n."index", n."hash" FROM {node_table} n'
            " JOIN unnest(%s::integer[], %s::bigint[]) AS k(level, index)"
            ' ON n."level" = k.level AND n."index" = k.index'
        )
        return sql, [leaves, [level for level, _ in inner], [index for _, index in inner]]

    @staticmethod
    def _portable(leaves: list[int], inner: list[Key]) -> tuple[str, list[Any]]:
        leaf_table, node_table = LogLeaf._meta.db_table, LogNode._meta.db_table
        parts: list[str] = []
        params: list[Any] = []
        # Only table names from the models and placeholders are interpolated; values are params.
        if leaves:
            placeholders = ", ".join(["%s"] * len(leaves))
            parts.append(f'SELECT 0, "index", "hash" FROM {leaf_table} WHERE "index" IN ({placeholders})')  # noqa: S608
            params.extend(leaves)
        if inner:
            condition = " OR ".join(['("level" = %s AND "index" = %s)'] * len(inner))
            parts.append(f'SELECT "level", "index", "hash" FROM {node_table} WHERE {condition}')  # noqa: S608
            params.extend(value for key in inner for value in key)
        return " UNION ALL ".join(parts), params


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
    """Unsealed events as PROJECTION_FIELDS rows (the portable path, SQLite)."""
    unsealed = AuditEvent.objects.filter(~Exists(LogLeaf.objects.filter(event_id=OuterRef("pk"))))
    if not sweep:
        highest = LogLeaf.objects.aggregate(top=Max("event_id"))["top"] or 0
        cutoff = timezone.now() - dt.timedelta(seconds=settings.AUDIT_SEAL_LOOKBACK_SECONDS)
        unsealed = unsealed.filter(Q(pk__gt=highest) | Q(occurred_at__gte=cutoff))
    return list(unsealed.order_by("pk").values_list(*PROJECTION_FIELDS)[:max_batch])


def _candidates_postgresql(max_batch: int, sweep: bool) -> list[tuple[int, str]]:
    """Unsealed events as (id, canonical JSON), in id order, with one query.

    The same events as `_candidates`, but as two index scans instead of an anti-join over the
    whole table: ids above the highest sealed id (none of which can have a leaf), and late
    commits at or below it found through the occurred_at index. The hourly sweep keeps the full
    anti-join.
    """
    events, leaves = AuditEvent._meta.db_table, LogLeaf._meta.db_table
    # Only model table names and constant SQL are interpolated; values are parameters.
    unsealed = f"NOT EXISTS (SELECT 1 FROM {leaves} l WHERE l.event_id = e.id)"  # noqa: S608
    if sweep:
        # Events of archived leaf partitions have no live leaf any more (audit/archives.py): the
        # sweep starts after the newest of them.
        sql = (
            f"SELECT {PROJECTION_SQL} FROM {events} e WHERE {unsealed} AND e.occurred_at > %s"  # noqa: S608
            " ORDER BY e.id LIMIT %s"
        )
        params: list[Any] = [archived_until(), max_batch]
    else:
        # The events of archived partitions have no live leaf either: above the highest of them,
        # and (for late commits) newer than the newest of them.
        until, archived_highest = _archived_bounds()
        highest = max(LogLeaf.objects.aggregate(top=Max("event_id"))["top"] or 0, archived_highest)
        cutoff = timezone.now() - dt.timedelta(seconds=settings.AUDIT_SEAL_LOOKBACK_SECONDS)
        sql = (
            f"(SELECT {PROJECTION_SQL} FROM {events} e WHERE e.id > %s ORDER BY e.id LIMIT %s)"  # noqa: S608
            f" UNION ALL (SELECT {PROJECTION_SQL} FROM {events} e"
            f" WHERE e.occurred_at >= %s AND e.occurred_at > %s AND e.id <= %s AND {unsealed} ORDER BY e.id LIMIT %s)"
            " ORDER BY 1 LIMIT %s"
        )
        params = [highest, max_batch, cutoff, until, highest, max_batch, max_batch]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return list(zip((row[0] for row in rows), projection_json_rows(rows), strict=True))


def _archived_bounds() -> tuple[dt.datetime, int]:
    """When the newest event of the archived leaf partitions happened (the distant past if none),
    and the highest id among their events (0 if none)."""
    details = list(AuditEvent.objects.filter(type=EventType.AUDIT_ARCHIVED).values_list("detail", flat=True))
    until = max(
        (dt.datetime.fromisoformat(detail["events_until"]) for detail in details),
        default=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    )
    return until, max((int(detail.get("events_max_id", 0)) for detail in details), default=0)


def archived_until() -> dt.datetime:
    """When the newest event of an archived leaf partition happened (the distant past if none)."""
    return _archived_bounds()[0]


def _pending(max_batch: int, sweep: bool) -> list[tuple[int, bytes]]:
    """(event id, canonical JSON bytes) of the next batch to seal."""
    if connection.vendor == "postgresql":
        return [(event_id, text.encode()) for event_id, text in _candidates_postgresql(max_batch, sweep)]
    return [(row[0], canonical_json(projection_from_values(row))) for row in _candidates(max_batch, sweep)]


def _copy_rows(table: str, columns: Sequence[str], rows: Iterable[tuple[int, int, bytes]]) -> None:
    """Inserts (integer, integer, hash) rows: LogLeaf's (index, event_id, hash), LogNode's (level, index, hash)."""
    if connection.vendor == "postgresql":
        # One COPY of preformatted text (bytea as hex, its backslash escaped for COPY): several
        # times faster than INSERT, or than COPY's per-row adaptation.
        data = "".join([f"{a}\t{b}\t\\\\x{digest.hex()}\n" for a, b, digest in rows])
        if not data:
            return
        with connection.cursor() as cursor:
            quoted = ", ".join(f'"{c}"' for c in columns)
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                copy.write(data)
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
        rows = _pending(max_batch, sweep)
        if not rows:
            return None
        size = log_size()
        hashes = leaf_hashes(canonical for _, canonical in rows)
        result = merkle.append(size, DbNodeReader(), hashes)
        if connection.vendor == "postgresql":
            # The beat task creates them ahead; a seal never waits for it.
            index_partitions_ensure(size, result.new_size - 1)
        _copy_rows(
            LogLeaf._meta.db_table,
            ("index", "event_id", "hash"),
            ((size + i, event_id, digest) for i, ((event_id, _), digest) in enumerate(zip(rows, hashes, strict=True))),
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
