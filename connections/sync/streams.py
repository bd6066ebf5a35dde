"""The streams a run reads: which data of a connection, read through which hook.

A run is made of streams (``locations``, ``employees``, ``absences``,
``training``). Each stream
is read through its connector hook, planned by the planner's function of the
same name (``plan(records={name: records})`` takes each stream's records by
the stream's name), and applied with the rest of the plan in one transaction.

A run's scope (``SyncRun.Scope``) is a named preset of streams, so the CLI's
``--scope`` and the Sync buttons keep speaking of employees, locations or all
data while the runner only ever sees a tuple of streams.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.utils import timezone
from django.utils.formats import date_format

from connections.models import SyncRun
from connections.sync.absences import FROM_SOURCE, absence_direction
from connectors.base import Connector

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind of data a connector can offer a run."""

    #: The name a connector lists in ``streams`` and the planner takes.
    name: str
    #: What the progress bar says is being read ("Reading employees from …").
    label: str
    #: The connector method that yields the stream's records.
    hook: str
    #: Whether a read of the stream is the whole list, so that a record missing
    #: from it has left the source. A connector that only sends changes
    #: (``Connector.full_snapshot`` false) makes every read of it partial.
    full_snapshot: bool
    #: The hook that yields only the records changed since a time (a delta
    #: run's read, ``DeltaReadable``); "" for a stream always read whole.
    changed_hook: str = ""

    def read(self, *, connector: Connector, progress: ReadProgress, since: dt.datetime | None = None) -> StreamRead:
        """Every record, or with ``since`` (a delta run) only those changed
        since then, where the stream can: a partial read."""
        if since is not None and self.changed_hook:
            records = list(progress.count(getattr(connector, self.changed_hook)(since)))
            return StreamRead(stream=self, records=records, full_snapshot=False)
        records = list(progress.count(getattr(connector, self.hook)()))
        return StreamRead(stream=self, records=records, full_snapshot=self.full_snapshot and connector.full_snapshot)


@dataclass(frozen=True, slots=True)
class StreamRead:
    """What one stream's read returned in this run."""

    stream: Stream
    records: list[Any]
    #: A full snapshot says who has left; a partial feed (a delta, a
    #: webhook's records) never deactivates anyone by their absence.
    full_snapshot: bool
    #: Remote ids the source says it no longer has (a webhook's deletion,
    #: re-read and not found): gone as surely as from a full snapshot,
    #: however partial the read.
    gone: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _AbsencesStream(Stream):
    """Absences (``connections.sync.absences``): read from a connector that
    copies its absences here; from one that receives ours, nothing is read
    (the run plans the absences waiting to be sent instead)."""

    def read(self, *, connector: Connector, progress: ReadProgress, since: dt.datetime | None = None) -> StreamRead:
        if absence_direction(connector=connector) != FROM_SOURCE:
            return StreamRead(stream=self, records=[], full_snapshot=False)
        # Never by change: the window is read whole, so what it lacks was removed.
        return Stream.read(self, connector=connector, progress=progress)


class ReadProgress(Protocol):
    def stage(self, stage: str, *, total: int | None = None) -> None: ...

    def count(self, items: Iterable[T]) -> Iterator[T]: ...


LOCATIONS = Stream(name="locations", label="locations", hook="fetch_locations", full_snapshot=True)
EMPLOYEES = Stream(
    name="employees",
    label="employees",
    hook="fetch_employees",
    full_snapshot=True,
    changed_hook="fetch_employees_changed",
)
ABSENCES = _AbsencesStream(name="absences", label="absences", hook="fetch_absences", full_snapshot=True)
#: Training records (``TrainingReadable``): read by change in a delta run,
#: whole otherwise, so a full read removes what the source no longer has.
TRAINING = Stream(
    name="training",
    label="training records",
    hook="fetch_training",
    full_snapshot=True,
    changed_hook="fetch_training_changed",
)

#: Every stream, in the order a run plans them: employees planned in the same
#: run see the depots its locations add, and absences and training records
#: the people it adds.
STREAMS: tuple[Stream, ...] = (LOCATIONS, EMPLOYEES, ABSENCES, TRAINING)

#: Every connector reads employees; the other streams are the ones it lists.
_ALWAYS_OFFERED = frozenset({EMPLOYEES.name})

_SCOPE_STREAMS: Mapping[str, frozenset[str]] = {
    SyncRun.Scope.EMPLOYEES: frozenset({EMPLOYEES.name}),
    SyncRun.Scope.LOCATIONS: frozenset({LOCATIONS.name}),
    SyncRun.Scope.ABSENCES: frozenset({ABSENCES.name}),
    SyncRun.Scope.TRAINING: frozenset({TRAINING.name}),
    SyncRun.Scope.ALL: frozenset(stream.name for stream in STREAMS),
}


def scope_streams(*, scope: str, connector: Connector) -> tuple[Stream, ...]:
    """The streams a run of ``scope`` reads from ``connector``, in planning order."""
    offered = _ALWAYS_OFFERED | connector.streams
    if ABSENCES.name in offered and not absence_direction(connector=connector):
        offered = offered - {ABSENCES.name}  # the connection has absences off
    return tuple(stream for stream in STREAMS if stream.name in _SCOPE_STREAMS[scope] and stream.name in offered)


def streams_read(
    *, connector: Connector, streams: Iterable[Stream], progress: ReadProgress, since: dt.datetime | None = None
) -> dict[str, StreamRead]:
    """Read each stream once, by its name; with ``since`` (a delta run, for
    a ``DeltaReadable`` connector), the streams that can be read by change
    only as changed since then.

    A connector whose locations are those its employee records name
    (``locations_in_records``: a file with a location column) has them taken
    from the employees read in the same run, so the source is read once.
    """
    streams = tuple(streams)
    locations_from_employees = connector.locations_in_records and {LOCATIONS, EMPLOYEES} <= set(streams)
    reads: dict[str, StreamRead] = {}
    for stream in streams:
        if stream is LOCATIONS and locations_from_employees:
            continue
        if since is not None and stream.changed_hook:
            when = date_format(timezone.localtime(since), "j M Y, H:i")
            progress.stage(f"Reading {stream.label} changed since {when} from {connector.label}")
        else:
            progress.stage(f"Reading {stream.label} from {connector.label}")
        reads[stream.name] = stream.read(connector=connector, progress=progress, since=since)
    if locations_from_employees:
        employees = reads[EMPLOYEES.name]
        reads[LOCATIONS.name] = StreamRead(
            stream=LOCATIONS, records=connector.locations_of(employees.records), full_snapshot=employees.full_snapshot
        )
    return reads


def streams_read_upload(
    *, connector: Connector, records: Iterable[Any], full_snapshot: bool, progress: ReadProgress
) -> dict[str, StreamRead]:
    """The streams of a run that processes an uploaded file
    (``connections.sync.inbound``): its employees are the file's
    ``records``, not a ``fetch_employees()`` read, and nothing else is read
    from the source. A full snapshot (an employee file) also gives the
    locations, for a connector whose locations are its records'."""
    progress.stage("Reading the uploaded file")
    employees = StreamRead(stream=EMPLOYEES, records=list(progress.count(records)), full_snapshot=full_snapshot)
    reads = {EMPLOYEES.name: employees}
    if full_snapshot and connector.locations_in_records and LOCATIONS.name in connector.streams:
        reads[LOCATIONS.name] = StreamRead(
            stream=LOCATIONS, records=connector.locations_of(employees.records), full_snapshot=True
        )
    return reads


def streams_records(*, reads: Mapping[str, StreamRead]) -> dict[str, list[Any] | None]:
    """Each stream's records as the planner takes them: None for a stream
    this run did not read, which the plan leaves as it is."""
    return {stream.name: reads[stream.name].records if stream.name in reads else None for stream in STREAMS}


def streams_report(*, reads: Mapping[str, StreamRead]) -> dict[str, dict[str, Any]]:
    """What each stream read, for the run's report (``streams_counted`` adds
    what the plan does with it)."""
    return {name: {"records": len(read.records), "full_snapshot": read.full_snapshot} for name, read in reads.items()}


def streams_counted(
    *,
    report: Mapping[str, Mapping[str, Any]],
    counts: Mapping[str, Any],
    pushes: Mapping[str, Mapping[str, int]],
) -> dict[str, dict[str, Any]]:
    """``report`` with each stream's share of the plan's counts
    (``SyncPlan.count()``: the employees' actions, locations' under their name).
    ``pushes``: each sending stream's push counts, by stream
    (``connections.sync.pushes.push_counts_by_stream``)."""
    by_stream = {LOCATIONS.name, ABSENCES.name, TRAINING.name, "pushes"}
    shares = {
        LOCATIONS.name: dict(counts.get(LOCATIONS.name, {})),
        EMPLOYEES.name: {key: value for key, value in counts.items() if key not in by_stream},
        # Pulled absences' counts, or (to_source) the pushes'.
        ABSENCES.name: dict(counts.get(ABSENCES.name, {})),
        TRAINING.name: dict(counts.get(TRAINING.name, {})),
    }
    for name, share in pushes.items():
        if name in shares:
            shares[name] = {**shares[name], "pushes": dict(share)}
    return {name: {**summary, "counts": shares.get(name, {})} for name, summary in report.items()}
