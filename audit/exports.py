"""Exports of the trail: the verifier's JSONL format, CSV for auditors, and verification of the
stored log (cached per tree size so the auditor console stays fast)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from audit.models import AuditEvent, Checkpoint, LogLeaf
from audit.sealer import (
    PROJECTION_FIELDS,
    PROJECTION_SQL,
    event_projection,
    log_size,
    log_verifier_key,
    projection_from_values,
    projection_json_rows,
)
from audit.tlog.canonical import canonical_json
from audit.tlog.errors import VerificationError
from audit.tlog.export import (
    export_checkpoint_line,
    export_event_line,
    export_event_line_json,
    export_header_line,
    verify_export,
)
from core.replicas import reading_connection

CHUNK = 10_000

logger = logging.getLogger(__name__)


def export_lines(
    *,
    from_index: int = 0,
    to_index: int | None = None,
    checkpoints: str = "all",
    leaf_hashes: bool = True,
) -> Iterator[str]:
    """The `gateway-audit-export/1` lines of leaves [from_index, to_index) and their checkpoints.

    `to_index` defaults to the latest signed size. `checkpoints` is "all" (every checkpoint up to
    to_index: the verifier then locates a bad event to the batch) or "latest" (the last one only).
    Only a range starting at 0 verifies on its own; others are for inspection.
    """
    size = log_size() if to_index is None else min(to_index, log_size())
    yield export_header_line(settings.AUDIT_LOG_ORIGIN, log_verifier_key())
    start = max(0, from_index)
    while start < size:
        end = min(start + CHUNK, size)
        yield from _event_lines(start, end, leaf_hashes)
        start = end
    notes = Checkpoint.objects.filter(tree_size__lte=size).order_by("tree_size")
    if checkpoints == "latest":
        latest = notes.last()
        selected: Iterable[str] = [latest.note] if latest else []
    else:
        selected = notes.values_list("note", flat=True).iterator(chunk_size=2000)
    for note in selected:
        yield export_checkpoint_line(note)


def _event_lines(start: int, end: int, leaf_hashes: bool) -> Iterator[str]:
    """Event lines of leaves [start, end), in one query.

    On PostgreSQL, raw rows and the sealer's canonical assembly (the same bytes as the ORM path,
    several times faster); elsewhere, the ORM.
    """
    connection = reading_connection(LogLeaf)
    if connection.vendor == "postgresql":
        leaves, events = LogLeaf._meta.db_table, AuditEvent._meta.db_table
        # Only model table names and constant SQL are interpolated; values are parameters.
        sql = (
            f'SELECT l."index", l."hash", {PROJECTION_SQL} FROM {leaves} l'  # noqa: S608
            f' JOIN {events} e ON e.id = l.event_id WHERE l."index" >= %s AND l."index" < %s ORDER BY l."index"'
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [start, end])
            rows = cursor.fetchall()
        texts = projection_json_rows(row[2:] for row in rows)
        for row, text in zip(rows, texts, strict=True):
            yield export_event_line_json(row[0], text, bytes(row[1]) if leaf_hashes else None)
        return
    columns = ["index", "hash", *(f"event__{name}" for name in PROJECTION_FIELDS)]
    rows = LogLeaf.objects.filter(index__gte=start, index__lt=end).order_by("index").values_list(*columns)
    for row in rows:
        yield export_event_line(row[0], projection_from_values(row[2:]), bytes(row[1]) if leaf_hashes else None)


def log_verification_status(*, compute: bool = True) -> dict[str, Any] | None:
    """Verification of the whole stored log against its signed checkpoints, cached per tree size.

    Recomputes every leaf from the stored events, so an event changed behind the triggers' back
    shows here. With compute=False, returns the newest cached result, possibly for a smaller size.
    With the cache unreachable (Redis down), computes without it when allowed, else says the status
    is unknown (`{"unknown": True}`): the console degrades, it does not fail.
    """
    size = log_size()
    key = f"audit:verification:{size}"
    try:
        result: dict[str, Any] | None = cache.get(key)
        last: dict[str, Any] | None = None if compute or result is not None else cache.get("audit:verification:last")
    except (RedisError, OSError) as exc:
        logger.warning("Verification cache unreachable (%s)", type(exc).__name__)
        return _verify(size) if compute else {"unknown": True}
    if result is not None:
        return result
    if not compute:
        return last
    result = _verify(size)
    try:
        cache.set(key, result, timeout=24 * 3600)
        cache.set("audit:verification:last", result, timeout=24 * 3600)
    except (RedisError, OSError) as exc:
        logger.warning("Verification cache unreachable (%s)", type(exc).__name__)
    return result


def _verify(size: int) -> dict[str, Any]:
    try:
        report = verify_export(export_lines(to_index=size, checkpoints="all"), log_verifier_key())
    except VerificationError as exc:
        return {"ok": False, "tree_size": size, "index": exc.index, "error": exc.summary()}
    return {"ok": True, "tree_size": report.tree_size, "checkpoints": report.checkpoints_checked, "error": ""}


def _cell(value: object) -> object:
    if value is None:
        return ""
    # A spreadsheet would run a cell starting like a formula (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


CSV_COLUMNS = ["leaf_index", *PROJECTION_FIELDS]


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """CSV of events (one header row), streamed; lists and objects as compact JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        projection = event_projection(event)
        row = [getattr(event, "leaf_index", None)]
        for name in PROJECTION_FIELDS:
            value = projection[name]
            row.append(canonical_json(value).decode() if isinstance(value, list | dict) else value)
        writer.writerow([_cell(value) for value in row])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
