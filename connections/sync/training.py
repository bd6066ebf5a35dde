"""The training stream: people's course bookings and awards (``TrainingRecord``).

A connector with the ``TrainingReadable`` ability lists its training records;
the run plans, against this connection's TrainingRecord rows, one
``TrainingChange`` per record (create, update, unchanged, skip, error), and
a removal for each row the source no longer has: every row missing from a
full read, and in any read those the source said were deleted
(``StreamRead.gone``). A partial read (a delta, a webhook) removes nothing
else.

Planning is pure (``training_state_for_run`` reads the rows first, in one
query, and asks the connector which records are course requests); applying
is bulk, inside the run's transaction. A decision made in hrsync
(``hrsync.people.training``) is never overwritten by a run: the row's
status follows the source, its decision stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from connections.sync.bulk import rows_insert
from connections.sync.stream_changes import (
    CHANGE_COUNT_KEYS,
    NOT_LINKED_WHY,
    StreamChange,
    change_counts,
    change_person_set,
    changed_rows_write,
    changes_digest_update,
    create_values,
    display_diff,
    json_value,
    people_of_run,
    person_name,
    text_problem,
)
from connectors.base import Connector, RemoteTrainingRecord, TrainingReadable
from hrsync.people.models import TrainingRecord

if TYPE_CHECKING:
    from connections.models import Connection
    from connections.sync.state import DirectoryState
    from connections.sync.streams import StreamRead

#: The stream's name, as connectors list it and the planner takes it.
STREAM = "training"

Kind = TrainingRecord.Kind

#: TrainingChange actions → the key each is counted under.
TRAINING_COUNT_KEYS = CHANGE_COUNT_KEYS

#: The TrainingRecord columns a record sets, as the applier writes them.
_PULLED_COLUMNS = (
    "person_id",
    "kind",
    "label",
    "start_date",
    "end_date",
    "status",
    "is_request",
    "remote_updated_at",
)
_DATE_COLUMNS = frozenset({"start_date", "end_date"})
#: Columns a report's diff shows by their choice's label.
_CHOICES = {"kind": Kind}
#: Columns whose change alone is no change worth writing or reporting.
_QUIET_COLUMNS = frozenset({"remote_updated_at"})
#: How a column reads in a report's diff.
COLUMN_LABELS = {
    "person_id": "Person",
    "kind": "Kind",
    "label": "Course or award",
    "start_date": "Start",
    "end_date": "End",
    "status": "Status",
    "is_request": "Waiting for a decision",
    "remote_updated_at": "Changed there",
    "decision_error": "Last decision's failure",
}
_LENGTHS = {
    name: TrainingRecord._meta.get_field(name).max_length for name in ("remote_id", "label", "status")
}


# -- state ------------------------------------------------------------------------------


#: One of this connection's TrainingRecord rows, as the planner compares it.
TrainingRow = namedtuple("TrainingRow", ("id", "remote_id", *_PULLED_COLUMNS, "decision", "decision_error"))


@dataclass(slots=True)
class TrainingState:
    """The connection's training records as the planner reads them."""

    connection_name: str
    #: Whether the read was the whole list (what it lacks was removed).
    full_snapshot: bool = False
    #: Remote ids the source said it no longer has.
    gone: frozenset[str] = frozenset()
    #: remote id → this connection's row.
    rows: dict[str, TrainingRow] = field(default_factory=dict)
    #: remote id → whether the connector says the record waits for a decision.
    pending: dict[str, bool] = field(default_factory=dict)


def training_readable(*, connector: Connector) -> bool:
    """Whether the connector offers the training stream."""
    return isinstance(connector, TrainingReadable) and STREAM in connector.streams


def connection_reads_training(*, connection: Connection) -> bool:
    """``training_readable`` of the connection's connector; False when the
    connector cannot be built (its settings no longer load): a page that
    asks must still open."""
    from connections.services import connection_connector

    try:
        return training_readable(connector=connection_connector(connection=connection))
    except Exception:  # noqa: BLE001 - any connector's failure: then it reads no training
        return False


def training_state_for_run(
    *, connection: Connection, connector: Connector, read: StreamRead | None, today: dt.date
) -> TrainingState | None:
    """The training state of a run that read the stream (``read``: its
    ``StreamRead``); None when it did not, or the connector keeps no
    training. One query: the connection's rows. The connector is asked here
    which records are course requests, so that planning stays pure."""
    if read is None or not isinstance(connector, TrainingReadable):
        return None
    state = TrainingState(connection_name=connection.name, full_snapshot=read.full_snapshot, gone=frozenset(read.gone))
    for values in TrainingRecord.objects.filter(connection_id=connection.pk).values_list(*TrainingRow._fields):
        row = TrainingRow(*values)
        state.rows[row.remote_id] = row
    for record in read.records:
        remote_id = str(record.remote_id or "").strip()
        if remote_id and remote_id not in state.pending:
            state.pending[remote_id] = bool(connector.course_request_pending(record))
    return state


# -- the plan ---------------------------------------------------------------------------


@dataclass(slots=True)
class TrainingChange(StreamChange):
    """One training record's outcome, or a removal. ``values`` are the
    columns to write (JSON form: dates as ISO strings); ``fields`` the diff
    in words: label → [old, new]."""

    action: str
    remote_id: str
    employee_remote_id: str = ""
    record_id: int | None = None
    person_id: int | None = None
    name: str = ""
    kind: str = ""
    label: str = ""
    start_date: str = ""
    end_date: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, list[Any]] = field(default_factory=dict)
    message: str = ""


def training_counts(changes: Iterable[TrainingChange], *, unchanged_not_listed: int = 0) -> dict[str, int]:
    return change_counts(changes, unchanged_not_listed=unchanged_not_listed)


def training_fingerprint(changes: Iterable[TrainingChange]) -> str:
    """A digest of what the training part of a plan does: a dry run applied
    later is "exactly as previewed" only if this is the same then."""
    digest = hashlib.sha256()
    changes_digest_update(digest, changes, row_id="record_id")
    return digest.hexdigest()


def plan_training(
    *,
    records: Sequence[RemoteTrainingRecord],
    state: TrainingState,
    directory: DirectoryState,
    employee_changes: Sequence[Any] = (),
) -> list[TrainingChange]:
    """The training changes of one run. Pure. ``employee_changes`` are the
    same run's employee changes: a record of a person the run creates or
    links is planned with them (a created person's id is known once
    applied: ``training_apply``)."""
    source = state.connection_name
    of_run = people_of_run(employee_changes)
    changes: list[TrainingChange] = []
    seen: set[str] = set()
    for record in records:
        remote_id = str(record.remote_id or "").strip()
        change = TrainingChange(
            action="error",
            remote_id=remote_id,
            employee_remote_id=str(record.employee_remote_id or "").strip(),
            kind=str(record.kind or ""),
            label=str(record.label or "").strip(),
            start_date=record.start_date.isoformat() if record.start_date else "",
            end_date=record.end_date.isoformat() if record.end_date else "",
        )
        changes.append(change)
        if remote_id and remote_id in seen:
            change.message = f"{source} lists this record twice; the first copy is kept."
            continue
        seen.add(remote_id)
        row = state.rows.get(remote_id)
        if row is not None:
            change.record_id = row.id
        problem = _record_problem(record, remote_id=remote_id, label=change.label)
        if problem:
            change.message = problem
            continue
        mapping = directory.mappings.get(change.employee_remote_id)
        if not change_person_set(change, mapping=mapping, directory=directory, of_run=of_run):
            change.action = "skip"
            why = NOT_LINKED_WHY.get(mapping.state, "is not linked to a person") if mapping else (
                "is not a person of this connection"
            )
            if mapping is not None:
                change.name = mapping.remote_name
            change.message = f"Not kept: employee {change.employee_remote_id} {why}."
            continue
        values = {
            "person_id": change.person_id,
            "kind": change.kind,
            "label": change.label,
            "start_date": change.start_date or None,
            "end_date": change.end_date or None,
            "status": str(record.status or "").strip(),
            "is_request": state.pending.get(remote_id, False),
            "remote_updated_at": record.updated_at.isoformat() if record.updated_at else None,
        }
        if row is None:
            change.action = "create"
            change.values = values
            continue
        old = {name: json_value(getattr(row, name)) for name in _PULLED_COLUMNS}
        if change.person_id is None:
            # A created person cannot own a row that exists: keep its owner.
            values["person_id"] = old["person_id"]
        diff = {name: value for name, value in values.items() if old[name] != value}
        if not set(diff) - _QUIET_COLUMNS:
            change.action = "unchanged"
            continue
        if not values["is_request"] and row.decision_error:
            # No longer waiting: why the last decision failed no longer matters.
            diff["decision_error"] = ""
        change.action = "update"
        change.values = diff
        change.fields = {
            COLUMN_LABELS[name]: display_diff(
                name, old[name], value, directory=directory, date_columns=_DATE_COLUMNS, choices=_CHOICES
            )
            for name, value in diff.items()
            if name not in _QUIET_COLUMNS and name != "decision_error"
        }
    for remote_id, row in state.rows.items():
        if remote_id in seen or not (state.full_snapshot or remote_id in state.gone):
            continue
        changes.append(
            TrainingChange(
                action="remove",
                remote_id=remote_id,
                record_id=row.id,
                person_id=row.person_id,
                name=person_name(directory, row.person_id),
                kind=row.kind,
                label=row.label,
                start_date=row.start_date.isoformat() if row.start_date else "",
                end_date=row.end_date.isoformat() if row.end_date else "",
                message=f"Removed: {source} no longer has it.",
            )
        )
    return changes


def _record_problem(record: RemoteTrainingRecord, *, remote_id: str, label: str) -> str:
    if record.problems:
        return " ".join(record.problems)
    if not remote_id:
        return "The training record has no id, so it cannot be kept in step."
    if len(remote_id) > _LENGTHS["remote_id"]:
        return f"The training record's id is longer than {_LENGTHS['remote_id']} characters."
    if record.kind not in Kind.values:
        return f"The training record's kind {record.kind!r} is not one of {', '.join(Kind.values)}."
    status = str(record.status or "").strip()
    for what, text, column in (("course or award name", label, "label"), ("status", status, "status")):
        if problem := text_problem(text, what=what, limit=_LENGTHS[column]):
            return problem
    if record.start_date and record.end_date and record.end_date < record.start_date:
        return f"It ends ({record.end_date.isoformat()}) before it starts ({record.start_date.isoformat()})."
    return ""


# -- applying (inside the run's transaction) ------------------------------------------


def training_apply(
    *, changes: list[TrainingChange], connection_id: int, created_person_by_remote_id: Mapping[str, int]
) -> None:
    """Write the plan's training changes in bulk, inside the run's
    transaction. A decision made in hrsync (decision, decided_by,
    decided_at) is never written here, so it stays.

    A record of a person the run was to create but did not (the create
    became a conflict) is left for the next run, and its change says so.
    """
    now = timezone.now()
    inserts, updates, removals = [], [], []
    for change in changes:
        if change.action == "create":
            values = create_values(change, created_person_by_remote_id=created_person_by_remote_id)
            if values is None:
                continue
            inserts.append(
                [connection_id, change.remote_id, *(_python(name, values[name]) for name in _PULLED_COLUMNS),
                 "", "", now, now]
            )
        elif change.action == "update" and change.record_id is not None:
            updates.append((change.record_id, change.values))
        elif change.action == "remove" and change.record_id is not None:
            removals.append(change.record_id)
    rows_insert(
        TrainingRecord,
        ["connection_id", "remote_id", *_PULLED_COLUMNS, "decision", "decision_error", "created_at", "updated_at"],
        inserts,
    )
    changed_rows_write(
        model=TrainingRecord, connection_id=connection_id, updates=updates, removals=removals, python=_python, now=now
    )


def _python(name: str, value: Any) -> Any:
    if name in _DATE_COLUMNS and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if name == "remote_updated_at" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value
