"""A static source that can also list only the records changed since a
time (``DeltaReadable``): delta runs tested without any vendor in the way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from connectors.base import DeltaReadable, RemoteEmployee
from tests.connections.static_connector import StaticConnector


class DeltaConnector(DeltaReadable, StaticConnector):
    kind = "static_delta"
    label = "Static delta source"

    #: What ``fetch_employees_changed`` returns, and each ``since`` it was asked for.
    changed: list[RemoteEmployee] = []
    asked_since: list[dt.datetime] = []
    daily_full_at: dt.time | None = dt.time(6, 30)

    def fetch_employees_changed(self, since: dt.datetime) -> Iterator[RemoteEmployee]:
        type(self).asked_since.append(since)
        self.progress_wait("Waiting 2 s: the source asked to slow down")
        yield from type(self).changed

    @property
    def full_sync_time(self) -> dt.time | None:
        return type(self).daily_full_at
