"""A connector that exchanges absences, as the test sets: the absences
stream tested without any vendor in the way. Use the ``absence_source``
fixture (import it into the test module) and set its class attributes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pytest

from connectors import registry
from connectors.base import AbsenceExchange, Pushable, PushChange, PushResult, RemoteAbsence
from tests.connections.static_connector import StaticConnector

#: The day the tests plan for, so windows and dates are fixed.
TODAY = dt.date(2026, 3, 2)


class AbsenceConnector(StaticConnector, AbsenceExchange, Pushable):
    kind = "static"
    label = "Static test source"
    streams = frozenset({"employees", "locations", "absences"})

    direction = "from_source"
    only_approved = False
    absences: list[RemoteAbsence] = []
    #: Key → the PushResult outcome and message to answer with ("sent" by default).
    outcomes: dict[str, tuple[str, str]] = {}
    #: Every change pushed, in order.
    pushed: list[PushChange] = []

    @property
    def absence_direction(self) -> str:
        return type(self).direction

    def absence_window(self, today: dt.date) -> tuple[dt.date, dt.date]:
        return today - dt.timedelta(days=30), today + dt.timedelta(days=180)

    @property
    def absences_only_approved(self) -> bool:
        return type(self).only_approved

    def fetch_absences(self) -> Iterator[RemoteAbsence]:
        yield from type(self).absences

    def push(self, changes: Sequence[PushChange]) -> Iterator[PushResult]:
        for change in changes:
            type(self).pushed.append(change)
            outcome, message = type(self).outcomes.get(change.key, ("sent", ""))
            remote_id = f"T{len(type(self).pushed)}" if outcome == "sent" and change.operation == "create" else ""
            yield PushResult(key=change.key, outcome=outcome, remote_id=remote_id, message=message)


def absence(remote_id: str, employee: str, start: str, end: str | None = None, **fields) -> RemoteAbsence:
    return RemoteAbsence(
        remote_id=remote_id,
        employee_remote_id=employee,
        type_name=fields.pop("type_name", "Holiday"),
        start_date=dt.date.fromisoformat(start),
        end_date=dt.date.fromisoformat(end or start),
        **fields,
    )


@pytest.fixture
def absence_source(monkeypatch):
    """The source's absences; ``absence_source.absences = [...]``. Dates
    are planned as of ``TODAY``."""
    monkeypatch.setitem(
        registry.CONNECTORS, "static", ("Static", "tests.connections.absence_source.AbsenceConnector")
    )
    for name, value in (
        ("employees", []), ("locations", []), ("error", None), ("absences", []),
        ("outcomes", {}), ("pushed", []), ("direction", "from_source"), ("only_approved", False),
    ):
        monkeypatch.setattr(AbsenceConnector, name, value)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)
    return AbsenceConnector
