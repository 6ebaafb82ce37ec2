"""SQL expressions that build JSON inside a query, on PostgreSQL and on SQLite alike.

They let one query carry a parent row and its children (an attestation type and its fields)
without a second round trip: the children are aggregated into one JSON array in a correlated
subquery, and the JSONField's converter turns it back into Python.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Aggregate, Func, JSONField
from django.db.models.sql.compiler import SQLCompiler


class JSONArrayAgg(Aggregate):
    """The aggregated values as one JSON array (NULL over no rows)."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra)


class JSONColumn(Func):
    """A JSONField's column as a JSON value inside JSON_OBJECT: SQLite stores JSON as text, which
    JSON_OBJECT would otherwise embed as one string; PostgreSQL's jsonb is JSON already."""

    template = "%(expressions)s"
    output_field = JSONField()

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, template="JSON(%(expressions)s)", **extra)
