"""The absences stream: absences copied from a source, or sent to it.

A connector with the ``AbsenceExchange`` ability moves absences one way,
as its connection says (``absence_direction``):

* ``from_source``: the run reads the source's absences in its window
  (``absence_window``) and plans, against this connection's Absence rows,
  one ``AbsenceChange`` per record (create, update, unchanged, skip, error)
  and a removal for each row inside the window the source no longer lists.
  A row outside the window is never touched: the source was not asked.
* ``to_source``: nothing is read. The run plans one ``PushItem`` per absence
  recorded in hrsync that waits to be sent to this connection (a create),
  or whose removal does (a delete); after the local commit the runner sends
  them through ``Pushable.push``, one at a time, and records each outcome
  on the absence and in the run's report (DESIGN §1, pushes).

Planning is pure (``absence_state_load`` reads the rows first, in a fixed
number of queries); applying is bulk, inside the run's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from connections.sync.bulk import rows_insert, rows_update
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
from connectors.base import AbsenceExchange, Connector, Pushable, PushChange, RemoteAbsence
from hrsync.people.models import Absence

if TYPE_CHECKING:
    from connections.models import Connection
    from connections.sync.state import DirectoryState

logger = logging.getLogger(__name__)

FROM_SOURCE = "from_source"
TO_SOURCE = "to_source"
#: The stream's name, as connectors list it and the planner takes it.
STREAM = "absences"

Status = Absence.Status
PushState = Absence.PushState

#: AbsenceChange actions → the key each is counted under.
ABSENCE_COUNT_KEYS = CHANGE_COUNT_KEYS
#: PushItem outcomes → the key each is counted under.
PUSH_COUNT_KEYS = {
    "planned": "planned",
    "sent": "sent",
    "rejected": "rejected",
    "failed": "failed",
    "not_sent": "not_sent",
}

#: The Absence columns a pulled record sets, as the applier writes them.
_PULLED_COLUMNS = (
    "person_id",
    "type_name",
    "start_date",
    "end_date",
    "half_day_start",
    "half_day_end",
    "status",
    "comment",
    "remote_id_v2",
)
_DATE_COLUMNS = frozenset({"start_date", "end_date"})
#: Columns a report's diff shows by their choice's label.
_CHOICES = {"status": Status}
#: How a column reads in a report's diff.
COLUMN_LABELS = {
    "person_id": "Person",
    "type_name": "Type",
    "start_date": "From",
    "end_date": "To",
    "half_day_start": "Half day at the start",
    "half_day_end": "Half day at the end",
    "status": "Status",
    "comment": "Comment",
    "remote_id_v2": "Other id",
}
_TYPE_NAME_LENGTH = Absence._meta.get_field("type_name").max_length
_REMOTE_ID_LENGTH = Absence._meta.get_field("remote_id").max_length


# -- settings and state ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AbsenceSettings:
    """How one connection exchanges absences, as its connector says."""

    direction: str
    #: First and last day a read covers (from_source); None for to_source.
    window: tuple[dt.date, dt.date] | None
    only_approved: bool
    connection_name: str


def absence_direction(*, connector: Connector) -> str:
    """"from_source", "to_source" or "" (the connector exchanges no absences)."""
    if not isinstance(connector, AbsenceExchange) or STREAM not in connector.streams:
        return ""
    direction = connector.absence_direction
    if direction == TO_SOURCE and not isinstance(connector, Pushable):
        return ""
    return direction if direction in (FROM_SOURCE, TO_SOURCE) else ""


def connection_absence_direction(*, connection: Connection) -> str:
    """``absence_direction`` of the connection's connector; "" when the
    connector cannot be built (its settings no longer load): a page that
    asks must still open."""
    from connections.services import connection_connector

    try:
        return absence_direction(connector=connection_connector(connection=connection))
    except Exception:  # noqa: BLE001 - any connector's failure: then it exchanges nothing
        logger.warning("Could not build the connector of connection %s", connection.pk, exc_info=True)
        return ""


def absence_settings(*, connector: Connector, connection_name: str, today: dt.date) -> AbsenceSettings | None:
    direction = absence_direction(connector=connector)
    if not direction:
        return None
    return AbsenceSettings(
        direction=direction,
        window=connector.absence_window(today) if direction == FROM_SOURCE else None,
        only_approved=bool(connector.absences_only_approved),
        connection_name=connection_name,
    )


#: One of this connection's pulled Absence rows, as the planner compares it.
AbsenceRow = namedtuple("AbsenceRow", ("id", "remote_id", *_PULLED_COLUMNS))
#: One absence recorded in hrsync that waits to be sent (or its removal).
PushRow = namedtuple(
    "PushRow",
    (
        "id",
        "person_id",
        "type_name",
        "start_date",
        "end_date",
        "half_day_start",
        "half_day_end",
        "comment",
        "status",
        "remote_id",
        "removed_at",
        "push_state",
    ),
)


@dataclass(slots=True)
class AbsenceState:
    settings: AbsenceSettings
    #: remote id → this connection's row (from_source).
    rows: dict[str, AbsenceRow] = field(default_factory=dict)
    #: The absences that wait to be sent or removed there (to_source).
    pushes: list[PushRow] = field(default_factory=list)


def absence_state_load(
    *, connection_id: int, settings: AbsenceSettings, remote_ids: Iterable[str] = ()
) -> AbsenceState:
    """What the plan compares with: two queries at most.

    from_source: the connection's rows that overlap the window, and those
    the read lists outside it (rare: a source that returns a little more
    than it was asked for). to_source: the absences waiting to be sent.
    """
    state = AbsenceState(settings=settings)
    if settings.direction == FROM_SOURCE:
        rows = Absence.objects.filter(connection_id=connection_id).exclude(remote_id="")
        first, last = settings.window
        columns = AbsenceRow._fields
        for values in rows.filter(start_date__lte=last, end_date__gte=first).values_list(*columns):
            row = AbsenceRow(*values)
            state.rows[row.remote_id] = row
        outside = [remote_id for remote_id in set(remote_ids) if remote_id and remote_id not in state.rows]
        if outside:
            for values in rows.filter(remote_id__in=outside).values_list(*columns):
                row = AbsenceRow(*values)
                state.rows[row.remote_id] = row
    else:
        waiting = Absence.objects.filter(push_connection_id=connection_id, connection__isnull=True).filter(
            # A new one not sent yet (or whose last send failed) …
            Q(removed_at__isnull=True, remote_id="", push_state__in=(PushState.PENDING, PushState.FAILED))
            # … and a removal of one that was sent.
            | Q(removed_at__isnull=False, push_state__in=(PushState.PENDING, PushState.FAILED)) & ~Q(remote_id="")
        )
        state.pushes = [PushRow(*values) for values in waiting.order_by("id").values_list(*PushRow._fields)]
    return state


def absences_state_for_run(
    *, connection: Connection, connector: Connector, read: Any, today: dt.date
) -> AbsenceState | None:
    """The absences state of a run that read the stream (``read``: its
    ``StreamRead``, None when the run did not); None otherwise."""
    if read is None:
        return None
    settings = absence_settings(connector=connector, connection_name=connection.name, today=today)
    if settings is None:
        return None
    return absence_state_load(
        connection_id=connection.pk,
        settings=settings,
        remote_ids=(str(record.remote_id or "").strip() for record in read.records),
    )


# -- the plan ---------------------------------------------------------------------------


@dataclass(slots=True)
class AbsenceChange(StreamChange):
    """One pulled absence's outcome, or a removal. ``values`` are the
    columns to write (JSON form: dates as ISO strings); ``fields`` the
    diff in words: label → [old, new]."""

    action: str
    remote_id: str
    employee_remote_id: str = ""
    absence_id: int | None = None
    person_id: int | None = None
    name: str = ""
    type_name: str = ""
    start_date: str = ""
    end_date: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, list[Any]] = field(default_factory=dict)
    message: str = ""


@dataclass(slots=True)
class PushItem(StreamChange):
    """One push the run sends after its commit (``connections.sync.pushes``
    sends it), and how it went: ``outcome`` "planned" (a dry run's, or not sent yet), "sent",
    "rejected", "failed" or "not_sent" (with the reason)."""

    key: str
    operation: str
    absence_id: int | None = None
    person_id: int | None = None
    name: str = ""
    what: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    remote_id: str = ""
    outcome: str = "planned"
    message: str = ""
    #: A "not_sent" item's state to record on the absence ("" or "pending").
    keep_state: str = ""
    #: Which stream sends it: "absences", or "employees" (a person's details).
    stream: str = STREAM
    #: A sure refusal found while planning ("not_sent"): an error of the run.
    error: bool = False

    def change(self) -> PushChange:
        return PushChange(
            stream=self.stream, operation=self.operation, key=self.key, values=dict(self.values), remote_id=self.remote_id
        )


def absence_counts(changes: Iterable[AbsenceChange], *, unchanged_not_listed: int = 0) -> dict[str, int]:
    return change_counts(changes, unchanged_not_listed=unchanged_not_listed)


def push_counts(pushes: Iterable[PushItem]) -> dict[str, int]:
    counts = dict.fromkeys(PUSH_COUNT_KEYS.values(), 0)
    for item in pushes:
        counts[PUSH_COUNT_KEYS[item.outcome]] += 1
    return counts


def absence_period(start: dt.date | str | None, end: dt.date | str | None) -> str:
    """"2 Mar 2026" or "2 Mar – 6 Mar 2026", as pages and reports say it."""
    start, end = _as_date(start), _as_date(end)
    if start is None or end is None:
        return ""
    if start == end:
        return date_format(start, "j M Y")
    first = date_format(start, "j M" if start.year == end.year else "j M Y")
    return f"{first} – {date_format(end, 'j M Y')}"


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if isinstance(value, str):
        return dt.date.fromisoformat(value) if value else None
    return value


def plan_absences(
    *,
    records: Sequence[RemoteAbsence],
    state: AbsenceState,
    directory: DirectoryState,
    employee_changes: Sequence[Any] = (),
) -> tuple[list[AbsenceChange], list[PushItem]]:
    """The absence changes (from_source) or pushes (to_source) of one run.

    Pure. ``employee_changes`` are the same run's employee changes: an
    absence of a person the run creates or links is planned with them
    (a created person's id is known once applied: ``absences_apply``).
    """
    if state.settings.direction == TO_SOURCE:
        return [], _plan_pushes(state=state, directory=directory)
    return _plan_pulled(records=records, state=state, directory=directory, employee_changes=employee_changes), []


def absences_fingerprint(changes: Iterable[AbsenceChange], pushes: Iterable[PushItem]) -> str:
    """A digest of what the absences part of a plan does: a dry run applied
    later is "exactly as previewed" only if this is the same then."""
    digest = hashlib.sha256()
    changes_digest_update(digest, changes, row_id="absence_id")
    for item in pushes:
        digest.update(repr((item.key, item.operation, item.outcome, sorted(item.values.items()))).encode())
    return digest.hexdigest()


def _not_synced_in_run(employee_changes: Sequence[Any]) -> dict[str, str]:
    """Remote employee id → why this run does not sync the employee (a
    record skipped, in conflict or in error): their absences wait too."""
    why = {"skip": "is not synced yet", "conflict": "is in conflict", "error": "could not be synced"}
    return {
        change.remote_id: why[change.action]
        for change in employee_changes
        if change.action in why and change.remote_id
    }


def _plan_pulled(
    *,
    records: Sequence[RemoteAbsence],
    state: AbsenceState,
    directory: DirectoryState,
    employee_changes: Sequence[Any],
) -> list[AbsenceChange]:
    settings = state.settings
    source = settings.connection_name
    of_run = people_of_run(employee_changes)
    not_synced = _not_synced_in_run(employee_changes)
    changes: list[AbsenceChange] = []
    seen: set[str] = set()
    for record in records:
        remote_id = str(record.remote_id or "").strip()
        if remote_id and remote_id in seen:
            # A page the source repeated: the first copy counts.
            continue
        seen.add(remote_id)
        change = AbsenceChange(
            action="error",
            remote_id=remote_id,
            employee_remote_id=str(record.employee_remote_id or ""),
            type_name=str(record.type_name or "").strip(),
            start_date=record.start_date.isoformat() if record.start_date else "",
            end_date=record.end_date.isoformat() if record.end_date else "",
        )
        changes.append(change)
        row = state.rows.get(remote_id)
        if row is not None:
            change.absence_id = row.id
        problem = _record_problem(record, remote_id=remote_id, type_name=change.type_name)
        if problem:
            change.message = problem
            continue
        mapping = directory.mappings.get(change.employee_remote_id)
        if not change_person_set(change, mapping=mapping, directory=directory, of_run=of_run):
            if mapping is not None:
                change.action = "skip"
                change.name = mapping.remote_name
                why = NOT_LINKED_WHY.get(mapping.state, "is not linked to a person")
                change.message = f"Not kept: employee {change.employee_remote_id} {why}."
            elif change.employee_remote_id in not_synced:
                # The employee is in this same read but not synced by it (waiting
                # to be included, say): not the source's fault, nor an error here.
                change.action = "skip"
                change.message = (
                    f"Not kept: employee {change.employee_remote_id} {not_synced[change.employee_remote_id]}."
                )
            else:
                change.message = (
                    f"{source} lists this absence for employee {change.employee_remote_id!r}, "
                    "whom this connection does not know: sync employees first."
                )
            continue
        if settings.only_approved and record.status != Status.APPROVED:
            status = Status(record.status).label.lower() if record.status in Status.values else record.status
            if row is None:
                change.action = "skip"
                change.message = f"Not kept: it is {status}, and only approved absences are kept."
            else:
                change.action = "remove"
                change.message = f"Removed: it is {status} in {source} now, and only approved absences are kept."
            continue
        values = {
            "person_id": change.person_id,
            "type_name": change.type_name,
            "start_date": change.start_date,
            "end_date": change.end_date,
            "half_day_start": bool(record.half_day_start),
            "half_day_end": bool(record.half_day_end),
            "status": record.status,
            "comment": _storable(str(record.comment or "")),
            "remote_id_v2": str(record.remote_id_v2 or "")[:_REMOTE_ID_LENGTH],
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
        if not diff:
            change.action = "unchanged"
            continue
        change.action = "update"
        change.values = diff
        change.fields = {
            COLUMN_LABELS[name]: display_diff(
                name, old[name], value, directory=directory, date_columns=_DATE_COLUMNS, choices=_CHOICES
            )
            for name, value in diff.items()
        }
    # What the source no longer lists, inside the window only.
    first, last = settings.window
    for remote_id, row in state.rows.items():
        if remote_id in seen or row.start_date < first or row.end_date > last:
            continue
        changes.append(
            AbsenceChange(
                action="remove",
                remote_id=remote_id,
                absence_id=row.id,
                person_id=row.person_id,
                name=person_name(directory, row.person_id),
                type_name=row.type_name,
                start_date=row.start_date.isoformat(),
                end_date=row.end_date.isoformat(),
                message=f"Removed: {source} no longer lists it.",
            )
        )
    return changes


def _record_problem(record: RemoteAbsence, *, remote_id: str, type_name: str) -> str:
    if record.problems:
        return " ".join(record.problems)
    if not remote_id:
        return "The absence has no id, so it cannot be kept in step."
    if len(remote_id) > _REMOTE_ID_LENGTH:
        return f"The absence id is longer than {_REMOTE_ID_LENGTH} characters."
    if not type_name:
        return "The absence has no type."
    if problem := text_problem(type_name, what="absence type", limit=_TYPE_NAME_LENGTH):
        return problem
    if record.start_date is None or record.end_date is None:
        return "The absence has no start or end date."
    if record.end_date < record.start_date:
        return f"The absence ends ({record.end_date.isoformat()}) before it starts ({record.start_date.isoformat()})."
    if record.status not in Status.values:
        return f"The absence status {record.status!r} is not one of {', '.join(Status.values)}."
    return ""


def _storable(text: str) -> str:
    # A text column cannot hold NUL; a comment is free text, so only that goes.
    return text.replace("\x00", "")


def _plan_pushes(*, state: AbsenceState, directory: DirectoryState) -> list[PushItem]:
    settings = state.settings
    items = []
    for row in state.pushes:
        employee_remote_id = directory.linked_remote_id_by_person.get(row.person_id, "")
        deleting = row.removed_at is not None
        item = PushItem(
            key=f"absence:{row.id}",
            operation="delete" if deleting else "create",
            absence_id=row.id,
            person_id=row.person_id,
            name=person_name(directory, row.person_id),
            what=f"{'Remove ' if deleting else ''}{row.type_name}, {absence_period(row.start_date, row.end_date)}",
            remote_id=row.remote_id,
            values={
                "employee_remote_id": employee_remote_id,
                "type_name": row.type_name,
                "start_date": row.start_date.isoformat(),
                "end_date": row.end_date.isoformat(),
                "half_day_start": row.half_day_start,
                "half_day_end": row.half_day_end,
                "comment": row.comment,
            },
        )
        items.append(item)
        if not deleting and settings.only_approved and row.status != Status.APPROVED:
            item.outcome, item.keep_state = "not_sent", PushState.NOT_PUSHED
            item.message = (
                f"Not sent: it is {Status(row.status).label.lower()}, and {settings.connection_name} "
                "receives only approved absences."
            )
        elif not employee_remote_id and not deleting:
            item.outcome, item.keep_state = "not_sent", PushState.PENDING
            item.message = (
                f"Not sent yet: this person is not linked to a record in {settings.connection_name}. "
                "It is sent at the first sync after they are."
            )
    return items


# -- applying (inside the run's transaction) ------------------------------------------


def absences_apply(
    *,
    changes: list[AbsenceChange],
    pushes: Sequence[PushItem],
    connection_id: int,
    created_person_by_remote_id: Mapping[str, int],
) -> None:
    """Write the plan's absence changes in bulk, and what a push that is not
    sent says on its absence. Inside the run's transaction.

    An absence of a person the run was to create but did not (the create
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
                [
                    connection_id, change.remote_id, *(_python(name, values[name]) for name in _PULLED_COLUMNS),
                    PushState.NOT_PUSHED, "", now, now,
                ]
            )
        elif change.action == "update" and change.absence_id is not None:
            updates.append((change.absence_id, change.values))
        elif change.action == "remove" and change.absence_id is not None:
            removals.append(change.absence_id)
    rows_insert(
        Absence,
        ["connection_id", "remote_id", *_PULLED_COLUMNS, "push_state", "push_error", "created_at", "updated_at"],
        inserts,
    )
    changed_rows_write(
        model=Absence, connection_id=connection_id, updates=updates, removals=removals, python=_python, now=now
    )
    rows_update(
        Absence,
        ["push_state", "push_error", "updated_at"],
        [[item.absence_id, item.keep_state, item.message, now] for item in pushes if item.outcome == "not_sent"],
    )


def _python(name: str, value: Any) -> Any:
    if name in _DATE_COLUMNS and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


# -- pushing (after the run's commit: ``connections.sync.pushes`` sends) ------------------


def absence_push_still_due(row: Absence, item: PushItem) -> str:
    """Why ``item`` must not be sent now ("" if it must): a run that
    overlapped this one sent it already, or it was removed meanwhile."""
    if item.operation == "create":
        if row.removed_at is not None or row.remote_id or row.push_state not in (PushState.PENDING, PushState.FAILED):
            return "Not sent: it was sent or removed meanwhile."
        return ""
    if row.removed_at is None or not row.remote_id or row.push_state not in (PushState.PENDING, PushState.FAILED):
        return "Not sent: its removal was sent meanwhile."
    return ""


def absence_push_outcome_save(row: Absence, item: PushItem) -> None:
    """Record a sent, refused or failed push on its absence (a sent removal deletes it)."""
    if item.operation == "delete" and item.outcome == "sent":
        row.delete()
        return
    if item.outcome == "sent":
        row.push_state, row.push_error = PushState.SENT, ""
        if item.operation == "create":
            row.remote_id = item.remote_id
    elif item.outcome == "rejected":
        row.push_state, row.push_error = PushState.REJECTED, item.message or "Refused, without a reason."
    else:
        row.push_state, row.push_error = PushState.FAILED, item.message
    row.save(update_fields=["push_state", "push_error", "remote_id", "updated_at"])
