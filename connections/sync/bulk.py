"""Insert and update many rows in a few statements, without model instances.

Django's ``bulk_update`` builds one ``CASE WHEN id = … THEN …`` per field
per row: its cost grows with the square of the batch on the Python side and
in the database. ``bulk_create`` instantiates and prepares a model object per
row. For a 100,000-person roster those two were most of a sync's time, so
the applier writes through these two functions instead:

* PostgreSQL: one ``INSERT … SELECT FROM unnest(arrays)`` or
  ``UPDATE … FROM unnest(arrays)`` per batch, every value sent as text and
  cast to its column's type in SQL. Ids for new rows are taken from the
  table's sequence first, so each row's id is known without relying on the
  order of ``RETURNING``.
* SQLite (the embedded default): ``executemany`` of one prepared statement.

Both only ever run inside the applier's transaction. Values are Python
values as a model field holds them (str, int, date, datetime, dict, bool,
None); ``KEEP`` in an update leaves that row's column as it is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, models

#: Rows per statement. The applier's statement count grows only with this.
BATCH_SIZE = 2000


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: In ``rows_update``: leave this row's column unchanged.
KEEP: Any = _Keep()


def _batches(rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Sequence[Any]]]:
    for start in range(0, len(rows), BATCH_SIZE):
        yield rows[start:start + BATCH_SIZE]


def _fields(model: type[models.Model], columns: Sequence[str]) -> list[models.Field]:
    # get_field() knows attnames too ("depot_id"), which is what callers pass.
    return [model._meta.get_field(name) for name in columns]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


# -- PostgreSQL ----------------------------------------------------------------------


def _pg_type(field: models.Field) -> str:
    if field.primary_key or field.is_relation:
        return "bigint"
    if isinstance(field, (models.CharField, models.TextField)):
        # Not varchar(n): an explicit cast would cut an over-long value
        # silently, where assigning text to the column refuses it.
        return "text"
    return field.cast_db_type(connection)


def _pg_text(field: models.Field, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=field.encoder)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):  # datetimes too: ISO with the offset
        return value.isoformat()
    return str(value)


def _pg_insert(model: type[models.Model], fields: list[models.Field], rows: Sequence[Sequence[Any]]) -> list[int]:
    table = model._meta.db_table
    pk = model._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [_quote(table), pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        all_fields = [pk, *fields]
        names = ", ".join(_quote(f.column) for f in all_fields)
        aliases = [f"c{n}" for n in range(len(all_fields))]
        casts = ", ".join(f"u.{alias}::{_pg_type(f)}" for alias, f in zip(aliases, all_fields, strict=True))
        arrays = ", ".join(["%s::text[]"] * len(all_fields))
        sql = (
            f"INSERT INTO {_quote(table)} ({names}) SELECT {casts} "
            f"FROM unnest({arrays}) AS u({', '.join(aliases)})"
        )
        params = [[str(i) for i in ids]]
        params += [[_pg_text(f, row[n]) for row in rows] for n, f in enumerate(fields)]
        cursor.execute(sql, params)
    return ids


def _pg_update(model: type[models.Model], fields: list[models.Field], rows: Sequence[Sequence[Any]]) -> None:
    table = model._meta.db_table
    pk = model._meta.pk
    assignments, params = [], [[str(row[0]) for row in rows]]
    aliases = ["id"]
    for n, field in enumerate(fields, start=1):
        alias = f"c{n}"
        aliases.append(alias)
        params.append([None if row[n] is KEEP else _pg_text(field, row[n]) for row in rows])
        value = f"u.{alias}::{_pg_type(field)}"
        if any(row[n] is KEEP for row in rows):
            aliases.append(f"k{n}")
            params.append([row[n] is KEEP for row in rows])
            value = f"CASE WHEN u.k{n} THEN t.{_quote(field.column)} ELSE {value} END"
        assignments.append(f"{_quote(field.column)} = {value}")
    arrays = ", ".join("%s::boolean[]" if a.startswith("k") else "%s::text[]" for a in aliases)
    sql = (
        f"UPDATE {_quote(table)} AS t SET {', '.join(assignments)} "
        f"FROM unnest({arrays}) AS u({', '.join(aliases)}) WHERE t.{_quote(pk.column)} = u.id::bigint"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# -- SQLite ----------------------------------------------------------------------------


def _sqlite_value(field: models.Field, value: Any) -> Any:
    return field.get_db_prep_save(value, connection)


def _sqlite_insert(model: type[models.Model], fields: list[models.Field], rows: Sequence[Sequence[Any]]) -> list[int]:
    table, pk = model._meta.db_table, model._meta.pk
    names = ", ".join(_quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks})",
            [[_sqlite_value(f, v) for f, v in zip(fields, row, strict=True)] for row in rows],
        )
        # The transaction holds SQLite's write lock since the first insert and
        # Django's ids are AUTOINCREMENT, so the newest len(rows) ids are these
        # rows', in order.
        cursor.execute(f"SELECT {_quote(pk.column)} FROM {_quote(table)} ORDER BY 1 DESC LIMIT %s", [len(rows)])
        return [row[0] for row in reversed(cursor.fetchall())]


def _sqlite_update(model: type[models.Model], fields: list[models.Field], rows: Sequence[Sequence[Any]]) -> None:
    table, pk = model._meta.db_table, model._meta.pk
    assignments = ", ".join(
        f"{_quote(f.column)} = CASE WHEN %s THEN {_quote(f.column)} ELSE %s END" for f in fields
    )
    params = []
    for row in rows:
        values: list[Any] = []
        for field, value in zip(fields, row[1:], strict=True):
            keep = value is KEEP
            values += [keep, None if keep else _sqlite_value(field, value)]
        params.append([*values, row[0]])
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {_quote(table)} SET {assignments} WHERE {_quote(pk.column)} = %s", params
        )


# -- the two functions -------------------------------------------------------------------


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Insert ``rows`` (values in ``columns`` order); return their new ids, in order."""
    if not connection.in_atomic_block:
        raise RuntimeError("rows_insert() runs inside the applier's transaction only.")
    fields = _fields(model, columns)
    insert = _pg_insert if connection.vendor == "postgresql" else _sqlite_insert
    ids: list[int] = []
    for batch in _batches(rows):
        ids += insert(model, fields, batch)
    return ids


def rows_update(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Update rows given as ``(id, value, …)`` with values in ``columns`` order."""
    if not connection.in_atomic_block:
        raise RuntimeError("rows_update() runs inside the applier's transaction only.")
    fields = _fields(model, columns)
    update = _pg_update if connection.vendor == "postgresql" else _sqlite_update
    for batch in _batches(rows):
        update(model, fields, batch)
