"""A connector whose records the test sets: the planner's rules tested
without any vendor in the way."""

from __future__ import annotations

from collections.abc import Iterator

from django import forms

from connectors.base import Check, Connector, ConnectorError, RemoteEmployee, RemoteLocation


class StaticConnector(Connector):
    kind = "static"
    label = "Static test source"
    config_form = forms.Form
    streams = frozenset({"employees", "locations"})
    provides = frozenset({*RemoteEmployee.PERSON_FIELDS, "depot", "manager"})

    employees: list[RemoteEmployee] = []
    locations: list[RemoteLocation] = []
    error: ConnectorError | None = None

    def check(self) -> Check:
        return Check(ok=True, message="static")

    def fetch_locations(self) -> Iterator[RemoteLocation]:
        yield from type(self).locations

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        for record in type(self).employees:
            if type(self).error is not None:
                raise type(self).error
            yield record


def employee(remote_id: str, **fields) -> RemoteEmployee:
    defaults = {
        "email": f"{remote_id.lower()}@example.com",
        "first_name": f"First{remote_id}",
        "last_name": f"Last{remote_id}",
        "status": "Active",
    }
    return RemoteEmployee(remote_id=remote_id, **{**defaults, **fields})


def static_source_install(monkeypatch, cls: type[StaticConnector], **attributes) -> type[StaticConnector]:
    """Make ``cls`` the connector of kind "static" for one test, its class
    attributes set afresh: no records, no error, then ``attributes``. The
    fixture that calls it clears the registry's import cache once done."""
    from connectors import registry

    monkeypatch.setitem(registry.CONNECTORS, "static", ("Static", f"{cls.__module__}.{cls.__qualname__}"))
    registry._import_connector.cache_clear()
    for name, value in {"employees": [], "locations": [], "error": None, **attributes}.items():
        monkeypatch.setattr(cls, name, value)
    return cls
