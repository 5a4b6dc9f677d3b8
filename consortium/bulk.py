"""Write many plain rows at the speed of the database's own bulk path.

Django's `bulk_create` costs several times the bare insert for 10^5 rows (model instances,
per-field preparation). Rows that need no model logic go through here instead: `executemany`
on SQLite, COPY on PostgreSQL, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def bulk_insert(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Insert `rows` (values in `columns` order) into `model`'s table and return how many were written."""
    if not rows:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The raw COPY bypasses Django's cursor wrapper: wrap its errors so callers can catch IntegrityError.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            # Table and column names come from the model, quoted; values travel as parameters.
            sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608
            cursor.executemany(sql, rows)
    return len(rows)


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys for `model`, to insert rows that others point to without reading them back.

    The caller must hold a write transaction: on SQLite (BEGIN IMMEDIATE) it holds the database's write
    lock, so nobody else takes these ids; PostgreSQL hands them out from the table's sequence.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        quoted = connection.ops.quote_name(table)
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {quoted}")  # noqa: S608 - a model's own table
        start = max(row[0] if row else 0, cursor.fetchone()[0]) + 1
        return list(range(start, start + count))
