"""Which connectors exist: kind slug → (label, dotted path).

This dict is the one source of ``Connection.kind`` choices. Adding an
integration means adding its package under ``connectors/`` and one line here;
the package's own pages, when it has any (its ``urls.py``), are mounted under
each connection of that kind: ``/connections/<pk>/<kind>/…``, URL names
``connections:<kind>:<name>``. Their templates live in the package's
``templates/<kind>/`` folder (settings.TEMPLATES finds every connector's).
"""

from __future__ import annotations

import importlib.util
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import URLPattern, URLResolver, include, path
from django.utils.module_loading import import_string

from connectors.base import Connector

CONNECTORS: dict[str, tuple[str, str]] = {
    "accessplanit": ("accessplanit", "connectors.accessplanit.connector.AccessPlanItConnector"),
    "actionhrm": ("ActionHRM", "connectors.actionhrm.connector.ActionHRMConnector"),
    "csv_file": ("CSV file (SFTP/HTTPS)", "connectors.csv_file.connector.CsvFileConnector"),
    "personio": ("Personio", "connectors.personio.connector.PersonioConnector"),
    "xml_upload": ("XML upload (REST API)", "connectors.xml_upload.connector.XmlUploadConnector"),
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


def connector_urlpatterns() -> list[URLPattern | URLResolver]:
    """The connectors' own pages, for ``connections/urls.py`` to include:
    each connector package's ``urls.py``, under ``<pk>/<kind>/`` and in the
    namespace ``<kind>``."""
    patterns: list[URLPattern | URLResolver] = []
    for kind, (_label, dotted_path) in CONNECTORS.items():
        package = dotted_path.rsplit(".", 2)[0]  # "connectors.csv_file.connector.CsvFileConnector"
        if importlib.util.find_spec(f"{package}.urls") is not None:
            patterns.append(path(f"<int:pk>/{kind}/", include((f"{package}.urls", kind))))
    return patterns
