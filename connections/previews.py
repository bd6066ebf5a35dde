"""The rows a connection check read, as the connection page and
``connections test`` show them: the person fields they will map to."""

from __future__ import annotations

from typing import Any

from connections.models import Connection
from connectors.base import Check
from connectors.registry import connector_class
from hrsync.people.labels import field_label

#: Labels of the preview's columns that are not person fields.
_COLUMN_LABELS = {
    "line": "Line",
    "key": "Unique key",
    "depot": "Location (depot)",
    "manager": "Manager",
    "status": "Status",
    "problems": "Problems",
}


def check_preview_rows(*, connection: Connection, check: Check) -> list[dict[str, Any]]:
    """The check's sample when its connector reads it as a preview (see
    ``Connector.check_preview``); other connectors' samples are not for showing."""
    if not connector_class(connection.kind).check_preview:
        return []
    return list(check.sample)


def check_preview_label(name: str) -> str:
    if name.startswith("custom."):
        return f"{name.removeprefix('custom.')} (custom field)"
    return _COLUMN_LABELS.get(name) or field_label(name)


def check_preview_table(*, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"headers": [(name, label)], "rows": [[(name, value)]]}``: a column
    for each field any row has, in the order they first appear."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {
        "headers": [(name, check_preview_label(name)) for name in names],
        "rows": [[(name, row.get(name)) for name in names] for row in rows],
    }
