"""A connector that keeps training records, as the test sets: the training
stream, course requests and their decisions tested without any vendor in
the way. Use the ``training_source`` fixture (import it into the test
module) and set its class attributes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from connectors import registry
from connectors.base import ConnectorError, DeltaReadable, RemoteEmployee, RemoteTrainingRecord, TrainingReadable
from tests.connections.static_connector import StaticConnector, static_source_install

#: The day the tests plan for: a provisional booking after it is a request.
TODAY = dt.date(2026, 3, 2)


class TrainingConnector(DeltaReadable, StaticConnector, TrainingReadable):
    kind = "static"
    label = "Static training source"
    streams = frozenset({"employees", "locations", "training"})

    training: list[RemoteTrainingRecord] = []
    #: What ``fetch_training_changed`` (a delta run) returns, and each ``since`` asked for.
    training_changed: list[RemoteTrainingRecord] = []
    changed: list[RemoteEmployee] = []
    asked_since: list[dt.datetime] = []
    #: Each decision sent, as (remote id, approve).
    decided: list[tuple[str, bool]] = []
    #: What ``course_request_decide`` raises instead of answering, if set.
    decide_error: ConnectorError | None = None

    def fetch_employees_changed(self, since: dt.datetime) -> Iterator[RemoteEmployee]:
        yield from type(self).changed

    def fetch_training(self) -> Iterator[RemoteTrainingRecord]:
        yield from type(self).training

    def fetch_training_changed(self, since: dt.datetime) -> Iterator[RemoteTrainingRecord]:
        type(self).asked_since.append(since)
        yield from type(self).training_changed

    def course_request_pending(self, record: RemoteTrainingRecord) -> bool:
        return (
            record.kind == "booking"
            and record.status == "Provisional"
            and record.start_date is not None
            and record.start_date > TODAY
        )

    def course_request_decide(self, remote_id: str, *, approve: bool) -> str:
        if type(self).decide_error is not None:
            raise type(self).decide_error
        type(self).decided.append((remote_id, approve))
        return "Booked" if approve else "Cancelled"


def booking(remote_id: str, employee: str, start: str = "2026-04-10", **fields) -> RemoteTrainingRecord:
    return RemoteTrainingRecord(
        remote_id=remote_id,
        employee_remote_id=employee,
        kind="booking",
        label=fields.pop("label", "First Aid"),
        start_date=dt.date.fromisoformat(start),
        end_date=dt.date.fromisoformat(fields.pop("end", start)),
        status=fields.pop("status", "Booked"),
        **fields,
    )


def award(remote_id: str, employee: str, **fields) -> RemoteTrainingRecord:
    return RemoteTrainingRecord(
        remote_id=remote_id,
        employee_remote_id=employee,
        kind="award",
        label=fields.pop("label", "Forklift licence"),
        status=fields.pop("status", "Achieved"),
        **fields,
    )


@pytest.fixture
def training_source(monkeypatch):
    """The source's training records; ``training_source.training = [...]``."""
    yield static_source_install(
        monkeypatch, TrainingConnector, training=[], training_changed=[], changed=[], asked_since=[], decided=[],
        decide_error=None,
    )
    registry._import_connector.cache_clear()
