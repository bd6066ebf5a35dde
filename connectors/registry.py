"""Which connectors exist: kind slug → (label, dotted path).

This dict is the one source of ``Connection.kind`` choices. Adding an
integration means adding its package under ``connectors/`` and one line here.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string

from connectors.base import Connector

CONNECTORS: dict[str, tuple[str, str]] = {
    "actionhrm": ("ActionHRM", "connectors.actionhrm.connector.ActionHRMConnector"),
    "csv_file": ("CSV file (SFTP/HTTPS)", "connectors.csv_file.connector.CsvFileConnector"),
    "sample": ("Sample HR data (demo)", "connectors.sample.connector.SampleConnector"),
}


def enabled_kinds() -> dict[str, tuple[str, str]]:
    kinds = dict(CONNECTORS)
    if not settings.HRSYNC_SAMPLE_CONNECTOR:
        kinds.pop("sample", None)
    return kinds


def kind_choices() -> list[tuple[str, str]]:
    """Choices for Connection.kind (a callable, so settings are honoured)."""
    return [(kind, label) for kind, (label, _path) in CONNECTORS.items()]


def validate_kind(kind: str) -> None:
    if kind not in enabled_kinds():
        known = ", ".join(sorted(enabled_kinds()))
        raise ValidationError(f"Unknown integration {kind!r}. Known integrations: {known}.")


def connector_class(kind: str) -> type[Connector]:
    validate_kind(kind)
    return _import_connector(CONNECTORS[kind][1])


@cache
def _import_connector(dotted_path: str) -> type[Connector]:
    return import_string(dotted_path)
