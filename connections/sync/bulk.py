"""Insert and update many rows in a few statements, without model instances.

Django's ``bulk_update`` builds one ``CASE WHEN id = … THEN …`` per field
per row: its cost grows with the square of the batch on the Python side and
in the database. ``bulk_create`` instantiates and prepares a model object per
row. For a 100,000-person roster those two were most of a sync's time, so
the applier writes through these two functions instead:

* PostgreSQL: ``COPY``, the fastest way in. An insert takes the new ids from
  the table's sequence first (so each row's id is known without relying on
  the order of ``RETURNING``) and copies the rows in; an update copies the
  new values into a temporary table and runs one ``UPDATE … FROM`` it. A
  fixed number of statements, however many rows.
* SQLite (the embedded default): ``executemany`` of one prepared statement
  per batch of ``BATCH_SIZE`` rows.

Both only ever run inside the applier's transaction, so a failure leaves
nothing behind. Values are Python values as a model field holds them (str,
int, date, datetime, dict, bool, None); ``KEEP`` in an update leaves that
row's column as it is.

``rows_append`` inserts rows streamed from an iterator, ids unreturned;
``blob_save`` writes one large binary value (a run's compressed report head)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from itertools import islice
from typing import Any

import psycopg
from django.db import connection, models
from psycopg.types.json import Jsonb

#: SQLite: rows per statement, so its statement count grows only with this.
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


def _pg_values(fields: list[models.Field], row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        Jsonb(value, dumps=partial(json.dumps, cls=field.encoder))
        if value is not None and value is not KEEP and isinstance(field, models.JSONField)
        else value
        for field, value in zip(fields, row, strict=True)
    )


def _pg_copy(cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY ``rows`` into ``table``: one statement, however many rows.

    Run through Django's execute wrappers so that query logging and counting
    (the benchmark's, a debug toolbar's) see it like any other statement.
    """
    sql = f"COPY {_quote(table)} ({', '.join(_quote(c) for c in columns)}) FROM STDIN"

    def copy(sql: str, params: Any, many: bool, context: Any) -> None:
        # As Django's own execute does: psycopg errors become django.db ones.
        with connection.wrap_database_errors, cursor.cursor.copy(sql) as stream:
            for row in rows:
                stream.write_row(row)

    cursor._execute_with_wrappers(sql, None, False, executor=copy)


def _pg_insert(model: type[models.Model], fields: list[models.Field], rows: Sequence[Sequence[Any]]) -> list[int]:
    table, pk = model._meta.db_table, model._meta.pk
    with connection.cursor() as cursor:
        # Ids first, from the table's own sequence: each row's id is then
        # known without relying on the order rows come back in.
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [_quote(table), pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        _pg_copy(
            cursor,
            table,
            [pk.column, *(f.column for f in fields)],
            ((pk_value, *_pg_values(fields, row)) for pk_value, row in zip(ids, rows, strict=True)),
        )
    return ids


def _pg_update(model: type[models.Model], fields: list[models.Field], rows: Sequence[Sequence[Any]]) -> None:
    """COPY the new values into a temporary table, then one UPDATE … FROM it."""
    table, pk = model._meta.db_table, model._meta.pk
    staging = f"hrsync_update_{table}"
    keeps = [n for n in range(len(fields)) if any(row[n + 1] is KEEP for row in rows)]
    definitions = ["id bigint PRIMARY KEY"]
    definitions += [f"c{n} {field.db_type(connection)}" for n, field in enumerate(fields)]
    definitions += [f"k{n} boolean" for n in keeps]
    assignments = []
    for n, field in enumerate(fields):
        column = _quote(field.column)
        value = f"CASE WHEN u.k{n} THEN t.{column} ELSE u.c{n} END" if n in keeps else f"u.c{n}"
        assignments.append(f"{column} = {value}")

    def staged():
        for row in rows:
            values = _pg_values(fields, row[1:])
            yield (
                row[0],
                *(None if value is KEEP else value for value in values),
                *(row[n + 1] is KEEP for n in keeps),
            )

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {_quote(staging)} ({', '.join(definitions)}) ON COMMIT DROP")
        _pg_copy(cursor, staging, ["id", *(f"c{n}" for n in range(len(fields))), *(f"k{n}" for n in keeps)], staged())
        cursor.execute(
            f"UPDATE {_quote(table)} AS t SET {', '.join(assignments)} "
            f"FROM {_quote(staging)} AS u WHERE t.{_quote(pk.column)} = u.id"
        )
        cursor.execute(f"DROP TABLE {_quote(staging)}")


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
    if not rows:
        return []
    fields = _fields(model, columns)
    if connection.vendor == "postgresql":
        return _pg_insert(model, fields, rows)
    ids: list[int] = []
    for batch in _batches(rows):
        ids += _sqlite_insert(model, fields, batch)
    return ids


def rows_update(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Update rows given as ``(id, value, …)`` with values in ``columns`` order."""
    if not connection.in_atomic_block:
        raise RuntimeError("rows_update() runs inside the applier's transaction only.")
    if not rows:
        return
    fields = _fields(model, columns)
    if connection.vendor == "postgresql":
        _pg_update(model, fields, rows)
        return
    for batch in _batches(rows):
        _sqlite_update(model, fields, batch)


def rows_append(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert ``rows`` as they come (an iterator is read once, never held
    whole) when nothing needs their ids: a run's report (``connections.reports``)."""
    if not connection.in_atomic_block:
        raise RuntimeError("rows_append() runs inside the caller's transaction only.")
    fields = _fields(model, columns)
    if connection.vendor == "postgresql":
        # Only JSON needs adapting; for 100,000 rows of plain values, looking took seconds.
        if any(isinstance(field, models.JSONField) for field in fields):
            rows = (_pg_values(fields, row) for row in rows)
        with connection.cursor() as cursor:
            _pg_copy(cursor, model._meta.db_table, [f.column for f in fields], rows)
        return
    sql = (
        f"INSERT INTO {_quote(model._meta.db_table)} ({', '.join(_quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    rows = iter(rows)
    with connection.cursor() as cursor:
        while batch := list(islice(rows, BATCH_SIZE)):
            cursor.executemany(sql, [[_sqlite_value(f, v) for f, v in zip(fields, row, strict=True)] for row in batch])


def blob_save(model: type[models.Model], pk: int, column: str, value: bytes) -> None:
    """Set one binary column of one row to ``value``, which may be large: the
    bytes as they are, past the field's own conversion."""
    postgres = connection.vendor == "postgresql"
    sql = (
        f"UPDATE {_quote(model._meta.db_table)} SET {_quote(model._meta.get_field(column).column)} = "
        f"{'%b' if postgres else '%s'} WHERE {_quote(model._meta.pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        if not postgres:
            cursor.execute(sql, [value, pk])
            return

        def execute(sql: str, params: Any, many: bool, context: Any) -> None:
            # Bound on the server, as binary: Django's client-side binding would
            # inline the bytes as a hex literal, several copies of twice their size.
            with connection.wrap_database_errors, psycopg.Cursor(cursor.cursor.connection) as raw:
                raw.execute(sql, params)

        cursor._execute_with_wrappers(sql, [value, pk], False, executor=execute)
