"""The people directory's operations (keyword-only, typed; DESIGN §8)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from hrsync.people.models import Person

#: Related fields exported by a readable key instead of an id.
_RELATED_EXPORT = {
    "depot": "depot__name",
    "manager": "manager__email",
    "user": "user__username",
    "managed_by": "managed_by__name",
}


def people_export_fields() -> list[str]:
    """Every Person field by its model name, ``id`` first, in model order."""
    return [field.name for field in Person._meta.concrete_fields]


def people_export_rows(*, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
    """Every person as plain JSON-ready data, streamed from one query.

    Related rows appear by a readable key: depot by name, manager by email,
    user by username, managed_by by connection name. Dates and datetimes are
    ISO 8601 strings; ``custom_fields`` stays an object. ``values()`` joins
    the related tables in the same query without building model instances
    (a Connection instance would decrypt its secrets for every row).
    """
    fields = people_export_fields()
    columns = [_RELATED_EXPORT.get(name, name) for name in fields]
    rows = Person.objects.order_by("pk").values_list(*columns)
    for row in rows.iterator(chunk_size=chunk_size):
        yield {name: _plain(value) for name, value in zip(fields, row, strict=True)}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
