"""Model instances from one hand-written SQL row that joins several tables, and the hot INSERTs.

The hot read paths (bearer token validation, the exchange's checks) need a handful of related rows
on every request. The ORM would fetch them in several round trips, or compile a large
select_related query each time, which costs more than the database does. These helpers let a
selector write the join once, as SQL, and still hand back ordinary model instances (the ones
`Model.from_db` would build), so the code after it does not change. Nothing is cached: each call
reads the rows afresh. `row_insert` does the same for the hot writes: `Model.objects.create`'s
INSERT, with the same defaults and database conversions, without compiling it on every call.

Project infrastructure: imports no app.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.base import ModelState
from django.db.models.fields import AutoFieldMixin, DateField, DateTimeField
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, post_save, pre_init, pre_save
from django.utils.asyncio import async_unsafe

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


@cache
def _plain_model(model: type[Model]) -> bool:
    """Whether `Model.from_db` on this model only stores each value in the instance's __dict__:
    Django's own __init__ and from_db, and attribute descriptors that store plainly on a fresh
    instance (a foreign key's id descriptor only drops a cached object, which a fresh one lacks)."""
    if model.__init__ is not Model.__init__ or model.from_db.__func__ is not Model.from_db.__func__:  # type: ignore[attr-defined]
        return False
    plain = (DeferredAttribute, ForeignKeyDeferredAttribute)
    return all(
        type(inspect.getattr_static(model, name, None)) in plain or inspect.getattr_static(model, name, None) is None
        for name in _attnames(model)
    )


def _database() -> BaseDatabaseWrapper:
    # The thread's connection itself: every attribute read through `django.db.connection` (a proxy
    # to a thread/task-local lookup) costs a lookup, and the hot paths read dozens.
    return connections[DEFAULT_DB_ALIAS]


def instance_from_db(model: type[M], values: Sequence[Any]) -> M:
    """`model.from_db(alias, every concrete attname, values)`, without running Model.__init__'s
    generic machinery when it would only store the values (no pre/post_init receiver)."""
    if not _plain_model(model) or pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(DEFAULT_DB_ALIAS, _attnames(model), list(values))
    instance = model.__new__(model)
    state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    instance.__dict__["_state"] = state
    instance.__dict__.update(zip(_attnames(model), values, strict=True))
    return instance


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


@async_unsafe
def _prepared_cursor(database: BaseDatabaseWrapper) -> _PreparedCursor:
    """Django's bookkeeping of `connection.cursor()` (health check, connection set-up, thread
    check), then this connection's one prepared cursor: a cursor is cheap to reuse and costly to
    build (psycopg copies the connection's adapters into each one)."""
    database.close_if_health_check_failed()
    database.ensure_connection()
    database.validate_thread_sharing()
    raw = database.connection
    kept: _PreparedCursor | None = getattr(database, "_gateway_prepared_cursor", None)
    if kept is None or kept.connection is not raw or kept.closed:
        kept = _PreparedCursor(raw)
        database._gateway_prepared_cursor = kept  # type: ignore[attr-defined]
    return kept


def _run(sql: str, params: Any, *, fetch: bool) -> tuple[Any, int]:
    """Runs `sql` as a prepared statement; returns its first row (when `fetch`) and its rowcount.

    While Django logs queries (DEBUG, CaptureQueriesContext, assertNumQueries) the statement runs
    through Django's ordinary cursor instead, so that the log shows its SQL (psycopg does not keep
    the text of a prepared execution): the same statement, the same single round trip.
    """
    database = _database()
    if database.queries_logged:
        with database.cursor() as logged:
            logged.execute(sql, params)
            return (logged.fetchone() if fetch else None), logged.rowcount
    cursor = _prepared_cursor(database)
    # What Django's CursorWrapper.execute does around the driver's call.
    database.validate_no_broken_transaction()
    with database.wrap_database_errors:
        cursor.execute(sql, params)
        return (cursor.fetchone() if fetch else None), cursor.rowcount


def fetch_one(sql: str, params: Any) -> Any:
    """The first row of a prepared statement's result, or None."""
    return _run(sql, params, fetch=True)[0]


def execute_rowcount(sql: str, params: Any) -> int:
    """Runs a prepared UPDATE or DELETE; returns how many rows it changed."""
    return int(_run(sql, params, fetch=False)[1])


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
        converters = _converters(model)
        if converters:
            database = _database()
            for index, convert in converters:
                values[index] = convert(values[index], None, database)
        return instance_from_db(model, values)

    def skip(self, count: int) -> Any:
        value = self.row[self.position : self.position + count]
        self.position += count
        return value[0] if count == 1 else value


def related_set(instance: Model, name: str, value: Model | None) -> None:
    """Fills a forward or one-to-one relation cache, as select_related would."""
    instance._meta.get_field(name).set_cached_value(instance, value)  # type: ignore[union-attr]


# --- Inserts ---------------------------------------------------------------------------------


def _needs_pre_save(field: Field[Any, Any]) -> bool:
    """Whether the field's `pre_save` computes the value (auto_now…) rather than reading it."""
    pre_save = type(field).pre_save
    if pre_save is Field.pre_save:
        return False
    if pre_save in (DateField.pre_save, DateTimeField.pre_save):
        return bool(field.auto_now or field.auto_now_add)  # type: ignore[attr-defined]
    return True


@cache
def _insert_plan(model: type[Model]) -> tuple[str, tuple[Field[Any, Any], ...], tuple[Field[Any, Any], ...]]:
    """The INSERT statement for `model` (its automatic primary key, if any, RETURNING), the
    fields it writes, and those whose `pre_save` does more than read the attribute."""
    quote = connection.ops.quote_name
    written = tuple(field for field in model._meta.concrete_fields if not isinstance(field, AutoFieldMixin))
    if model._meta.parents or any(field.generated for field in written):
        raise TypeError(f"row_insert does not handle inherited models or generated fields ({model.__name__}).")
    pre_saved = tuple(field for field in written if _needs_pre_save(field))
    returning = " RETURNING " + quote(str(model._meta.pk.column)) if len(written) < len(_attnames(model)) else ""
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - model metadata only
        f"({', '.join(quote(str(field.column)) for field in written)}) "
        f"VALUES ({', '.join(['%s'] * len(written))}){returning}"
    )
    return sql, written, pre_saved


def row_insert(model: type[M], **values: Any) -> M:
    """`model.objects.create(**values)` in one prepared statement, for the hot paths: values by
    attname (`consumer_id`, not `consumer`), the fields' defaults for the others, each value
    converted by its field as the ORM converts it. Sends no pre_save/post_save signal: only for
    models that have no receiver (asserted)."""
    sql, written, pre_saved = _insert_plan(model)
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        raise TypeError(f"{model.__name__} has save signal receivers: use the ORM.")
    names = _attnames(model)
    unknown = values.keys() - set(names)
    if unknown or (len(written) < len(names) and model._meta.pk.attname in values):
        raise TypeError(f"{model.__name__}: no such field, or a database-generated one: {sorted(unknown or values)}.")
    python = {name: values.get(name) for name in names}
    for field in written:
        if field.attname not in values:
            python[field.attname] = field.get_default()
    if pre_saved:
        # DateTimeField(auto_now…) and the like: let the field compute its value, as save() does.
        instance = instance_from_db(model, [python[name] for name in names])
        instance._state.adding = True
        for field in pre_saved:
            python[field.attname] = field.pre_save(instance, True)
    database = _database()
    params = [field.get_db_prep_save(python[field.attname], database) for field in written]
    row, _ = _run(sql, params, fetch=len(written) < len(names))
    if row is not None:
        python[model._meta.pk.attname] = row[0]
    return instance_from_db(model, [python[name] for name in names])
