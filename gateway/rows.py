"""Model instances from one hand-written SQL row that joins several tables.

The hot read paths (bearer token validation, the exchange's checks) need a handful of related rows
on every request. The ORM would fetch them in several round trips, or compile a large
select_related query each time, which costs more than the database does. These helpers let a
selector write the join once, as SQL, and still hand back ordinary model instances (built with
`Model.from_db`, as the ORM does), so the code after it does not change. Nothing is cached: each
call reads the rows afresh.

Project infrastructure: imports no app.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

import psycopg
from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)
NEVER_AUTOMATICALLY = 2**31 - 1


@cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


@cache
def _converters(model: type[Model]) -> tuple[tuple[int, Any], ...]:
    # The fields whose database value needs converting (JSONField: Django reads jsonb as text).
    return tuple(
        (index, field.from_db_value)
        for index, field in enumerate(model._meta.concrete_fields)
        if hasattr(field, "from_db_value")
    )


@cache
def _columns(model: type[Model], alias: str) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(str(field.column))}" for field in model._meta.concrete_fields)


class _PreparedCursor(psycopg.Cursor[Any]):
    """Server-side binding, and the statement prepared once per connection: PostgreSQL then skips
    parsing and planning these wide joins on every request (the planning cost more than running
    them). Django turns psycopg's automatic preparation off (for transaction-mode poolers; PgBouncer
    1.21+ supports protocol-level prepared statements), so only the hot statements ask for it."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        if self.connection.prepare_threshold is None:
            # psycopg prepares nothing, even on request, without a threshold; one never reached
            # keeps automatic preparation off for every other statement.
            self.connection.prepare_threshold = NEVER_AUTOMATICALLY
        return super().execute(query, params, prepare=True, binary=binary)


def execute_prepared(sql: str, params: Any) -> Any:
    """Runs `sql` as a prepared statement; returns the cursor (already executed) for fetching.

    While Django logs queries (DEBUG, CaptureQueriesContext, assertNumQueries) the statement runs
    through Django's ordinary cursor instead, so that the log shows its SQL (psycopg does not keep
    the text of a prepared execution): the same statement, the same single round trip.
    """
    cursor = connection.cursor()  # Django's bookkeeping: health check, connection set-up, thread check
    if not connection.queries_logged:
        cursor.close()
        cursor = connection.make_cursor(_PreparedCursor(connection.connection))  # type: ignore[arg-type]
    cursor.execute(sql, params)
    return cursor


def fetch_one(sql: str, params: Any) -> Any:
    """The first row of a prepared statement's result, or None."""
    cursor = execute_prepared(sql, params)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def columns(model: type[Model], alias: str) -> str:
    """Every concrete column of `model`, qualified by `alias`, in the order `take` reads them."""
    return _columns(model, alias)


class RowReader:
    """Reads consecutive models out of one row, in the order their `columns` were selected."""

    def __init__(self, row: Sequence[Any]) -> None:
        self.row = row
        self.position = 0

    def take(self, model: type[M]) -> M | None:
        """The next model's instance, or None when its columns are all NULL (an unmatched LEFT JOIN)."""
        names = _attnames(model)
        values = list(self.row[self.position : self.position + len(names)])
        self.position += len(names)
        if values[names.index(model._meta.pk.attname)] is None:
            return None
        for index, convert in _converters(model):
            values[index] = convert(values[index], None, connection)
        return model.from_db(connection.alias, names, values)

    def skip(self, count: int) -> Any:
        value = self.row[self.position : self.position + count]
        self.position += count
        return value[0] if count == 1 else value


def related_set(instance: Model, name: str, value: Model | None) -> None:
    """Fills a forward or one-to-one relation cache, as select_related would."""
    instance._meta.get_field(name).set_cached_value(instance, value)  # type: ignore[union-attr]
