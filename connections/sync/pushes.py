"""Pushes: what a run sends back to its source after the local commit (DESIGN §1).

Two streams send: absences recorded in hrsync (``connections.sync.absences``
plans them) and people's details (planned here, ``plan_people_pushes``).
Both are ``PushItem``s in the plan; after the commit ``pushes_send`` sends
them one at a time, each under a lock on its own row, and ``pushes_record``
puts their outcomes into the run's report.

Person pushes follow the connection's field ownership (``Pushable.push_fields``):
a field hrsync owns is sent, never read back. A linked person is updated
with only the owned fields that differ from what was last sent
(``EmployeeMapping.pushed_snapshot``), or, before the first push, from what
the source holds (the record this run read). A person the connection manages,
or who works at a depot mapped to one of its locations, and who has no record
there yet is created, carrying our person id (``person_ref``) so a repeated
create finds the record instead of making a second one. A person another
connection manages is never created: a person is linked by one connection
at most (``EmployeeMapping``'s constraint), so the record could not be
linked to them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from connections.sync.absences import STREAM as ABSENCES
from connections.sync.absences import PushItem, absence_push_outcome_save, absence_push_still_due, push_counts
from connectors.base import Connector, ConnectorError, Pushable, PushChange, RemoteEmployee
from hrsync.people.labels import field_label
from hrsync.people.models import Absence, Person

if TYPE_CHECKING:
    from connections.models import Connection
    from connections.sync.state import DirectoryState

logger = logging.getLogger(__name__)

#: The stream person pushes belong to.
EMPLOYEES = "employees"
#: The person fields a person push can carry, in the order they are listed.
PUSHABLE_FIELDS = ("first_name", "last_name", "email", "mobile_phone", "work_phone", "job_title")
#: People who are not (or no longer) at work are not sent.
_NOT_SENT_STATUSES = frozenset({Person.Status.INACTIVE, Person.Status.TERMINATED, Person.Status.CANDIDATE})


@dataclass(slots=True)
class PeoplePushState:
    """What planning person pushes needs beyond the DirectoryState."""

    connection_name: str
    #: The person fields this connection sends (``Pushable.push_fields`` ∩ PUSHABLE_FIELDS).
    fields: tuple[str, ...]
    #: Remote id → what was last sent for its person (field → JSON value).
    pushed_snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Depot id → the source's location id for it.
    location_by_depot: dict[int, str] = field(default_factory=dict)
    #: Whether the employees read was a full snapshot: only then are creates
    #: planned (a partial read cannot see an existing record with that email).
    full_read: bool = False
    #: Remote id → the record this run read (what the source holds now).
    records: dict[str, RemoteEmployee] = field(default_factory=dict)
    #: ``Pushable.push_problem``: why the source would refuse a change for sure.
    problem: Callable[[PushChange], str] = lambda change: ""


def people_push_state_for_run(
    *, connection: Connection, connector: Connector, reads: Mapping[str, Any]
) -> PeoplePushState | None:
    """The state of a run that sends people's details: None unless the
    connector is Pushable with fields to send and the run read employees.
    Two queries, whatever the roster's size."""
    from mappings.models import DepotMapping, EmployeeMapping

    if not isinstance(connector, Pushable) or EMPLOYEES not in reads:
        return None
    fields = tuple(name for name in PUSHABLE_FIELDS if name in connector.push_fields)
    if not fields:
        return None
    read = reads[EMPLOYEES]
    state = PeoplePushState(
        connection_name=connection.name,
        fields=fields,
        full_read=bool(read.full_snapshot),
        records={record.remote_id: record for record in read.records if record.remote_id},
        problem=connector.push_problem,
    )
    snapshots = EmployeeMapping.objects.filter(
        connection_id=connection.pk, state=EmployeeMapping.State.LINKED
    ).exclude(pushed_snapshot={})
    state.pushed_snapshots = dict(snapshots.values_list("remote_id", "pushed_snapshot"))
    # Several locations may map to one depot: the oldest mapping wins, so each run picks the same.
    for depot_id, location_id in (
        DepotMapping.objects.filter(connection_id=connection.pk, depot_id__isnull=False)
        .order_by("-id")
        .values_list("depot_id", "remote_location_id")
    ):
        state.location_by_depot[depot_id] = location_id
    return state


# -- planning (pure) ----------------------------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


def _name(person: Any) -> str:
    return f"{person.first_name} {person.last_name}".strip() or person.email or f"person {person.id}"


def plan_people_pushes(
    *, push: PeoplePushState, directory: DirectoryState, employee_changes: Sequence[Any], connection_id: int
) -> list[PushItem]:
    """The person pushes of one run. Pure.

    ``employee_changes`` are the same run's employee changes: a person it
    links is updated (compared with the record it was linked to), a record
    it creates came from the source and sends nothing back.
    """
    linked = dict(directory.linked_remote_id_by_person)
    leaving: set[int] = set()
    for change in employee_changes:
        if str(change.action) == "link" and change.person_id is not None:
            linked[change.person_id] = change.remote_id
        elif str(change.action) == "deactivate" and change.person_id is not None:
            leaving.add(change.person_id)  # the source says they left: nothing to send them
    # People with a record of this connection they are not linked to (ignored,
    # excluded, in conflict): an admin decides about them, not a create.
    held = {m.person_id for m in directory.mappings.values() if m.person_id is not None}
    held |= {c.person_id for c in employee_changes if c.person_id is not None}
    items: list[PushItem] = []
    for person_id, person in directory.people.items():
        if person.status in _NOT_SENT_STATUSES or person_id in leaving:
            continue
        remote_id = linked.get(person_id)
        if remote_id is not None:
            item = _planned_update(push, person, remote_id)
        elif person_id not in held and push.full_read:
            item = _planned_create(push, person, connection_id=connection_id)
        else:
            item = None
        if item is not None:
            problem = push.problem(item.change()) if item.outcome == "planned" else ""
            if problem:
                item.outcome, item.message, item.error = "not_sent", f"Not sent: {problem}", True
            items.append(item)
    return items


def _same(name: str, old: Any, new: Any) -> bool:
    if name == "email":
        # Addresses match case-insensitively: a change of case is none.
        return str(old).strip().lower() == str(new).strip().lower()
    return old == new


def _planned_update(push: PeoplePushState, person: Any, remote_id: str) -> PushItem | None:
    desired = {name: _json(getattr(person, name)) for name in push.fields}
    baseline = push.pushed_snapshots.get(remote_id)
    if not baseline:
        record = push.records.get(remote_id)
        if record is None:
            return None  # not read this run: what the source holds is unknown
        baseline = {name: _json(getattr(record, name)) for name in push.fields}
        # Never sent before: a detail hrsync lacks does not wipe the one the
        # source has (linking must lose nothing). Once sent, clearing a
        # detail in hrsync is a change like any other, and is sent.
        desired = {name: value for name, value in desired.items() if value != "" or baseline.get(name) in ("", None)}
    diff = {name: value for name, value in desired.items() if not _same(name, baseline.get(name, ""), value)}
    if not diff:
        return None
    labels = ", ".join(field_label(name) for name in diff)
    return PushItem(
        stream=EMPLOYEES,
        key=f"person:{person.id}",
        operation="update",
        person_id=person.id,
        name=_name(person),
        what=f"Update: {labels}",
        remote_id=remote_id,
        values=diff,
    )


def _planned_create(push: PeoplePushState, person: Any, *, connection_id: int) -> PushItem | None:
    if person.managed_by_id not in (None, connection_id):
        # Another connection's person: a person is linked by one connection
        # at most, so this one could not link the record it would create.
        return None
    location_id = push.location_by_depot.get(person.depot_id) if person.depot_id is not None else None
    if person.managed_by_id != connection_id and location_id is None:
        return None  # neither this connection's person nor at one of its locations
    values: dict[str, Any] = {
        name: value for name in push.fields if (value := _json(getattr(person, name))) not in ("", None)
    }
    values["person_ref"] = str(person.id)
    values["location_id"] = location_id or ""
    item = PushItem(
        stream=EMPLOYEES,
        key=f"person:{person.id}",
        operation="create",
        person_id=person.id,
        name=_name(person),
        what="Create user",
        values=values,
    )
    if location_id is None:
        item.outcome, item.error = "not_sent", True
        item.message = (
            f"Not sent: this person's depot is not mapped to a location of {push.connection_name}. "
            "Map it on the Depots tab, then sync again."
        )
    return item


def people_pushes_fingerprint(items: Iterable[PushItem]) -> str:
    """A digest of the person pushes a plan sends (part of its source hash)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(repr((item.key, item.operation, item.outcome, sorted(item.values.items()))).encode())
    return digest.hexdigest()


# -- sending (after the run's commit) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Handler:
    """How one stream's push is sent: the row locked while it is (None:
    gone, with ``gone`` said), why it is no longer due, and how its outcome
    is recorded."""

    lock: Callable[[int, PushItem], Any]
    gone: str
    still_due: Callable[[int, Any, PushItem], str]
    record: Callable[[int, Any, PushItem], None]


def _absence_lock(connection_id: int, item: PushItem) -> Absence | None:
    return Absence.objects.select_for_update().filter(pk=item.absence_id, push_connection_id=connection_id).first()


def _person_lock(connection_id: int, item: PushItem) -> Person | None:
    return Person.objects.select_for_update().filter(pk=item.person_id).first()


def _person_still_due(connection_id: int, person: Person, item: PushItem) -> str:
    from mappings.models import EmployeeMapping

    linked = EmployeeMapping.objects.filter(
        connection_id=connection_id, person_id=person.pk, state=EmployeeMapping.State.LINKED
    )
    if item.operation == "create":
        # Another run may have linked them meanwhile (their record was read),
        # here or in another connection (which then owns them).
        if linked.exists():
            return "Not sent: this person was linked to a record meanwhile."
        if EmployeeMapping.objects.filter(person_id=person.pk, state=EmployeeMapping.State.LINKED).exists():
            return "Not sent: another connection linked this person meanwhile, so they are its to send."
        return ""
    if not linked.filter(remote_id=item.remote_id).exists():
        return "Not sent: this person is no longer linked to that record."
    return ""


def _person_record(connection_id: int, person: Person, item: PushItem) -> None:
    """A sent create links the person to the record it made (or found: a
    repeated create answers with the record already there); a sent update
    adds what it sent to what was last sent. Nothing else is saved: a
    refused or failed push is planned again by the next run."""
    from mappings.models import EmployeeMapping

    if item.outcome != "sent":
        return
    now = timezone.now()
    sent = {name: value for name, value in item.values.items() if name in PUSHABLE_FIELDS}
    if item.operation == "update":
        mapping = EmployeeMapping.objects.filter(
            connection_id=connection_id, remote_id=item.remote_id, person_id=person.pk
        ).first()
        if mapping is not None:
            mapping.pushed_snapshot = {**(mapping.pushed_snapshot or {}), **sent}
            mapping.pushed_at = now
            mapping.save(update_fields=["pushed_snapshot", "pushed_at", "updated_at"])
        return
    if not item.remote_id:
        item.outcome = "failed"
        item.message = "The source gave no id for the record it created; tried again at the next sync."
        return
    mapping, _ = EmployeeMapping.objects.get_or_create(
        connection_id=connection_id, remote_id=item.remote_id, defaults={"person": person}
    )
    mapping.person = person
    mapping.state = EmployeeMapping.State.LINKED
    mapping.remote_name = f"{sent.get('first_name', '')} {sent.get('last_name', '')}".strip()[:300]
    mapping.remote_email = str(sent.get("email", ""))[:254]
    mapping.pushed_snapshot = sent
    mapping.pushed_at = now
    mapping.save()


_HANDLERS: dict[str, _Handler] = {
    ABSENCES: _Handler(
        lock=_absence_lock,
        gone="Not sent: it was removed before it was sent.",
        still_due=lambda connection_id, row, item: absence_push_still_due(row, item),
        record=lambda connection_id, row, item: absence_push_outcome_save(row, item),
    ),
    EMPLOYEES: _Handler(
        lock=_person_lock,
        gone="Not sent: this person was deleted before it was sent.",
        still_due=_person_still_due,
        record=_person_record,
    ),
}


def pushes_send(*, connection_id: int, connector: Connector, pushes: Sequence[PushItem]) -> bool:
    """Send each planned push, one at a time, and record its outcome on its
    row and on ``pushes``. Returns whether any was sent, refused or failed
    (False: there was nothing to send).

    Each push's row (its absence, its person) is locked while it is sent,
    so a change to it at that moment (removing the absence, another run
    linking the person) waits for the outcome. A send that raises fails it
    and every push after it (the source is down or refuses us: asking again
    now would only repeat that); the next run tries them again.
    """
    planned = [item for item in pushes if item.outcome == "planned"]
    if not planned or not isinstance(connector, Pushable):
        return False
    stopped = ""
    for item in planned:
        handler = _HANDLERS[item.stream]
        with transaction.atomic():
            row = handler.lock(connection_id, item)
            if row is None:
                item.outcome, item.message = "not_sent", handler.gone
                continue
            why = handler.still_due(connection_id, row, item)
            if why:
                item.outcome, item.message = "not_sent", why
                continue
            if stopped:
                item.outcome, item.message = "failed", stopped
            else:
                stopped = _send_one(connector, item, connection_id=connection_id)
            handler.record(connection_id, row, item)
    return True


def _send_one(connector: Pushable, item: PushItem, *, connection_id: int) -> str:
    """Send ``item`` and set its outcome; returns why sending stops ("" if it goes on)."""
    try:
        results = {result.key: result for result in connector.push([item.change()])}
    except ConnectorError as exc:
        item.outcome, item.message = "failed", f"{exc.message} Tried again at the next sync."
        return item.message
    except Exception:
        logger.exception("Sending %s to connection %s crashed", item.key, connection_id)
        item.outcome = "failed"
        item.message = (
            "Sending stopped on an unexpected error (details in the server log); tried again at the next sync."
        )
        return item.message
    result = results.get(item.key)
    if result is None or result.outcome not in ("sent", "rejected", "failed"):
        item.outcome = "failed"
        item.message = "The connector gave no outcome for it; tried again at the next sync."
    else:
        item.outcome, item.message = result.outcome, result.message
        if result.remote_id:
            item.remote_id = result.remote_id
    return ""


def pushes_record(*, run_id: int, pushes: Sequence[PushItem]) -> None:
    """Put the pushes' outcomes into the run's report and counts (the run's
    and each sending stream's); a push refused, failed or not sent for an
    error makes a run that succeeded one with errors."""
    from connections.fields import json_compress, json_encode
    from connections.models import SyncRun
    from connections.runs import sync_runs_transition
    from connections.sync.bulk import blob_save

    with transaction.atomic():
        run = SyncRun.objects.select_for_update().only("id", "report", "counts", "status").get(pk=run_id)
        counts = dict(run.counts or {})
        counts["pushes"] = push_counts(pushes)
        head = dict(run.report or {})
        head["pushes"] = [item.to_dict() for item in pushes]
        streams = dict(head.get("streams") or {})
        for name, share in push_counts_by_stream(pushes).items():
            if name in streams:
                summary = dict(streams[name])
                summary["counts"] = {**dict(summary.get("counts") or {}), "pushes": share}
                streams[name] = summary
        if streams:
            head["streams"] = streams
        blob_save(SyncRun, run_id, "report", json_compress([json_encode(head)]))
        SyncRun.objects.filter(pk=run_id).update(counts=counts)
        if counts["pushes"]["rejected"] or counts["pushes"]["failed"] or any(item.error for item in pushes):
            sync_runs_transition(
                runs=SyncRun.objects.filter(pk=run_id),
                expected=(SyncRun.Status.SUCCEEDED, SyncRun.Status.COMPLETED_WITH_CONFLICTS),
                status=SyncRun.Status.COMPLETED_WITH_ERRORS,
            )


def push_counts_by_stream(pushes: Iterable[PushItem], *, streams: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """Each sending stream's push counts, by stream name; ``streams`` are
    counted even when they send nothing."""
    by_stream: dict[str, list[PushItem]] = {name: [] for name in streams}
    for item in pushes:
        by_stream.setdefault(item.stream, []).append(item)
    return {name: push_counts(items) for name, items in by_stream.items()}
