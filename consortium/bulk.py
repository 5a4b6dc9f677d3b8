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
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            # Table and column names come from the model, quoted; values travel as parameters.
            sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608
            cursor.executemany(sql, rows)
    return len(rows)
