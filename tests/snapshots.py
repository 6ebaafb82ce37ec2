"""Rows written once per test session, then copied into each test that asks for them.

Loading the demo catalogue through its services costs hundreds of queries (about half a second);
many tests need it. `RowSnapshot.capture` runs such a load once, in a transaction it rolls back,
and keeps what it wrote as JSON, table by table; `restore` writes the same rows back with one
INSERT per table. A test therefore sees exactly the rows the load would have written (same
identifiers, same values, the same audit events), with their timestamps moved forward as if the
load had just run. Tests that do not ask for the rows never see them.

The identifiers are safe to reuse: the load drew them from the sequences, which never hand them
out again (sequences ignore rollbacks, and Django's test flush does not reset them); should a test
reset the sequences, `restore` moves each past the identifiers it wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone


@dataclass(frozen=True)
class TableRows:
    table: str
    columns: tuple[str, ...]
    # Timestamp columns: moved by the time elapsed since the capture.
    moved: frozenset[str]
    # Columns filled by a sequence, with the sequence's name.
    sequences: tuple[tuple[str, str], ...]
    # The rows as a JSON array of objects (PostgreSQL's to_jsonb of each row), in physical order.
    rows: str


@dataclass(frozen=True)
class RowSnapshot:
    tables: tuple[TableRows, ...]
    taken_at: dt.datetime

    @classmethod
    def capture(cls, load: Callable[[], object]) -> RowSnapshot:
        """Runs `load` in a transaction that is rolled back and keeps the rows it wrote.

        The tables it writes to must be empty before (they are, right after the test database
        is created): then every row found there afterwards is the load's.
        """
        tables = sorted({model._meta.db_table for model in apps.get_models(include_auto_created=True)})
        with transaction.atomic(), connection.cursor() as cursor:
            before = _counts(cursor, tables)
            load()
            after = _counts(cursor, tables)
            written = [table for table in tables if after[table] != before[table]]
            not_empty = [table for table in written if before[table]]
            if not_empty:
                raise RuntimeError(f"RowSnapshot.capture needs empty tables; these were not: {not_empty}")
            taken_at = timezone.now()
            captured = []
            for table in written:
                cursor.execute(
                    "SELECT column_name, data_type, pg_get_serial_sequence(quote_ident(table_name), column_name)"
                    " FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
                    [table],
                )
                described = cursor.fetchall()
                cursor.execute(f'SELECT jsonb_agg(to_jsonb(t) ORDER BY t.ctid)::text FROM "{table}" AS t')  # noqa: S608
                captured.append(
                    TableRows(
                        table=table,
                        columns=tuple(name for name, _, _ in described),
                        moved=frozenset(name for name, kind, _ in described if kind == "timestamp with time zone"),
                        sequences=tuple((name, sequence) for name, _, sequence in described if sequence),
                        rows=cursor.fetchone()[0],
                    )
                )
            transaction.set_rollback(True)
        return cls(tables=tuple(captured), taken_at=taken_at)

    def restore(self) -> None:
        """Writes the captured rows into the current database, timestamps moved to now."""
        shift = timezone.now() - self.taken_at
        # One transaction: Django's foreign keys are deferred to its commit, so table order is free.
        with transaction.atomic(), connection.cursor() as cursor:
            for table in self.tables:
                names = ", ".join(f'"{column}"' for column in table.columns)
                values = ", ".join(
                    f'r."{column}" + %(shift)s' if column in table.moved else f'r."{column}"'
                    for column in table.columns
                )
                cursor.execute(
                    f'INSERT INTO "{table.table}" ({names}) SELECT {values}'  # noqa: S608
                    f' FROM jsonb_populate_recordset(NULL::"{table.table}", %(rows)s::jsonb) AS r',
                    {"shift": shift, "rows": table.rows},
                )
                for column, sequence in table.sequences:
                    top = f'SELECT max("{column}") AS top FROM "{table.table}"'  # noqa: S608
                    cursor.execute(
                        f"SELECT setval(%(sequence)s, top) FROM ({top}) AS t"  # noqa: S608
                        " WHERE top > coalesce(pg_sequence_last_value(%(sequence)s::regclass), 0)",
                        {"sequence": sequence},
                    )


def _counts(cursor: CursorWrapper, tables: list[str]) -> dict[str, int]:
    cursor.execute(" UNION ALL ".join(f"SELECT '{table}', count(*) FROM \"{table}\"" for table in tables))  # noqa: S608
    return dict(cursor.fetchall())
