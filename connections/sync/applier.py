"""apply(): write a plan in bulk, inside the caller's transaction.

The caller (``connections.sync.runner``) wraps this in ``transaction.atomic()``
together with the run's final status, so either everything in the plan is
written and the run says so, or nothing is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from connections.sync.bulk import BATCH_SIZE, KEEP, rows_insert, rows_update
from connections.sync.changes import Action, Change, LocationAction, SyncPlan
from connections.sync.planner import person_label
from connectors.base import RemoteEmployee
from hrsync.people.access import people_logins_create, people_logins_set
from hrsync.people.models import Person
from hrsync.people.rules import person_has_access
from mappings.models import DepotMapping, EmployeeMapping

#: Columns the plan may set on a Person, besides the manager.
WRITABLE = frozenset(
    {*RemoteEmployee.PERSON_FIELDS, "status", "depot_id", "custom_fields", "managed_by_id"}
)
DATE_FIELDS = RemoteEmployee.DATE_FIELDS
#: The values of a change that decide whether the person may sign in.
_ACCESS_VALUES = frozenset({"status", "access_starts_on", "access_ends_on"})


@dataclass(slots=True)
class ApplyResult:
    #: Person ids that got a new login and should be emailed a set-password link.
    invite_person_ids: list[int] = field(default_factory=list)
    created_person_ids: list[int] = field(default_factory=list)
    #: Remote id → the person created for it: the run's report links them.
    created_person_by_remote_id: dict[str, int] = field(default_factory=dict)


def _python_value(name: str, value: Any) -> Any:
    if name in DATE_FIELDS and isinstance(value, str) and value:
        return dt.date.fromisoformat(value)
    return value


def apply_plan(
    *,
    plan: SyncPlan,
    connection_id: int,
    run_id: int,
    credential_notifications: bool,
    today: dt.date | None = None,
) -> ApplyResult:
    """Write ``plan``; ``today`` (default: the local date now) is the day the
    logins' access dates are compared with, as the plan's were."""
    now = timezone.now()
    result = ApplyResult()
    _apply_locations(plan, connection_id, now)
    if not plan.employees_planned:
        return result
    person_id_by_remote = _apply_people(plan, connection_id, now, result)
    _apply_managers(plan, connection_id, person_id_by_remote, now)
    _apply_mappings(plan, connection_id, run_id, person_id_by_remote, now)
    _apply_logins(plan, person_id_by_remote, credential_notifications, result, now, today or timezone.localdate())
    return result


def _apply_locations(plan: SyncPlan, connection_id: int, now: dt.datetime) -> None:
    rows_insert(
        DepotMapping,
        ["connection_id", "remote_location_id", "remote_name", "depot_id", "matched_by_name", "created_at", "updated_at"],
        [
            # A new location comes with a depot only when the names match.
            [connection_id, c.remote_location_id, c.remote_name, c.depot_id, c.depot_id is not None, now, now]
            for c in plan.locations
            if c.action is LocationAction.CREATE
        ],
    )
    rows_update(
        DepotMapping,
        ["remote_name", "updated_at"],
        [[c.mapping_id, c.remote_name, now] for c in plan.locations if c.action is LocationAction.UPDATE],
    )


def _apply_people(plan: SyncPlan, connection_id: int, now: dt.datetime, result: ApplyResult) -> dict[str, int]:
    creates = [c for c in plan.changes if c.action is Action.CREATE]
    # Every column: what the plan sets, the timestamps, the model's defaults.
    defaults = {
        f.attname: f.get_default() for f in Person._meta.concrete_fields if not f.primary_key
    }
    defaults["created_at"] = defaults["updated_at"] = now
    columns = list(defaults)
    new_rows = [
        [
            _python_value(name, change.values[name])
            if name in change.values and name in WRITABLE
            else defaults[name]
            for name in columns
        ]
        for change in creates
    ]
    creates, new_ids = _people_insert(creates, columns, new_rows)
    person_id_by_remote = {c.remote_id: pk for c, pk in zip(creates, new_ids, strict=True)}
    result.created_person_ids = new_ids
    result.created_person_by_remote_id = person_id_by_remote

    updates = {
        c.person_id: c
        for c in plan.changes
        if c.action in (Action.LINK, Action.UPDATE, Action.DEACTIVATE, Action.REACTIVATE)
        and c.person_id is not None
    }
    # Deleted since planning (only in a race: an applied plan was re-checked
    # against the directory fingerprint) means nothing to update: skip them.
    # Locked in id order until the commit: another connection's run waits here
    # to link the same people, and then sees this run's links.
    existing = _existing_ids(Person, sorted(updates), lock=True)
    for person_id in _links_taken(connection_id, updates):
        del updates[person_id]
    changed = sorted({name for c in updates.values() for name in c.values if name in WRITABLE})
    rows = []
    for person_id, change in updates.items():
        if person_id not in existing:
            continue
        rows.append([
            person_id,
            *(_python_value(name, change.values[name]) if name in change.values else KEEP for name in changed),
            now,
        ])
        person_id_by_remote[change.remote_id] = person_id
    rows_update(Person, [*changed, "updated_at"], rows)
    return person_id_by_remote


def _people_insert(
    creates: list[Change], columns: list[str], rows: list[list[Any]]
) -> tuple[list[Change], list[int]]:
    """Insert the people the plan creates; return the changes inserted and their ids.

    Another connection's run may have created a person with one of these
    emails since this run planned (two connections syncing the same new
    people at once): the email's unique constraint refuses the insert, those
    records become conflicts, and the rest is inserted. The refused insert
    ran in a savepoint, so the usual path costs nothing more.
    """
    try:
        with transaction.atomic():
            return creates, rows_insert(Person, columns, rows)
    except IntegrityError:
        by_email = {c.values["email"]: c for c in creates if c.values.get("email")}
        taken = _emails_taken(list(by_email))
        if not taken:
            raise
        for email, owner in taken.items():
            _become_conflict(
                by_email[email],
                f"While this sync ran, {owner} created a person with the email {email}.",
            )
        kept = [(change, row) for change, row in zip(creates, rows, strict=True) if change.action is Action.CREATE]
        creates = [change for change, _ in kept]
        return creates, rows_insert(Person, columns, [row for _, row in kept])


def _emails_taken(emails: list[str]) -> dict[str, str]:
    """Which of ``emails`` (lower-cased) a person has now → who made that person."""
    taken: dict[str, str] = {}
    for start in range(0, len(emails), BATCH_SIZE):
        rows = (
            Person.objects.annotate(email_key=Lower("email"))
            .filter(email_key__in=emails[start:start + BATCH_SIZE])
            .values_list("email_key", "managed_by__name")
        )
        taken.update((email, owner or "someone") for email, owner in rows)
    return taken


def _existing_ids(model, ids: list[int], *, lock: bool = False) -> set[int]:
    rows = model.objects.select_for_update() if lock else model.objects.all()
    found: set[int] = set()
    for start in range(0, len(ids), BATCH_SIZE):
        found.update(rows.filter(pk__in=ids[start:start + BATCH_SIZE]).order_by("pk").values_list("pk", flat=True))
    return found


def _links_taken(connection_id: int, updates: dict[int, Change]) -> list[int]:
    """People this run would link whom another connection linked or manages
    since it planned: those records become conflicts. Returns their ids.

    The planner checked the same thing, but against the directory as it was
    when it read it; two connections planning at once both saw these people
    free. Run after their rows are locked, this sees the other run's commit.
    """
    linking = sorted(person_id for person_id, change in updates.items() if change.action is Action.LINK)
    if not linking:
        return []
    linked_elsewhere = (
        EmployeeMapping.objects.filter(person_id=OuterRef("pk"), state=EmployeeMapping.State.LINKED)
        .exclude(connection_id=connection_id)
        .values("connection__name")[:1]
    )
    taken = []
    for start in range(0, len(linking), BATCH_SIZE):
        people = (
            Person.objects.filter(pk__in=linking[start:start + BATCH_SIZE])
            .annotate(linked_by=Subquery(linked_elsewhere))
            .filter(Q(linked_by__isnull=False) | (Q(managed_by__isnull=False) & ~Q(managed_by_id=connection_id)))
            .select_related("managed_by")
        )
        for person in people:
            owner = person.linked_by or person.managed_by.name
            message = f"{person_label(person)} has this email but is already linked to {owner}."
            _become_conflict(updates[person.pk], message)
            taken.append(person.pk)
    return taken


def _become_conflict(change: Change, message: str) -> None:
    """As the planner records a conflict: the record waits, unlinked, in the Employees tab."""
    change.action = Action.CONFLICT
    change.message = message
    change.person_id = None
    change.values, change.fields = {}, {}
    snapshot = change.mapping or {"remote_name": change.name, "remote_email": change.email, "remote_status": ""}
    change.mapping = {**snapshot, "state": EmployeeMapping.State.CONFLICT, "message": message}


def _apply_managers(
    plan: SyncPlan, connection_id: int, person_id_by_remote: dict[str, int], now: dt.datetime
) -> None:
    wanted = {
        c.remote_id: c.values["manager_remote_id"]
        for c in plan.changes
        if "manager_remote_id" in c.values and c.remote_id in person_id_by_remote
    }
    if not wanted:
        return
    missing = {rid for rid in wanted.values() if rid and rid not in person_id_by_remote}
    if missing:
        person_id_by_remote = {
            **dict(
                EmployeeMapping.objects.filter(
                    connection_id=connection_id,
                    # An excluded record keeps the person it had: still a manager (planner rule 9).
                    state__in=(EmployeeMapping.State.LINKED, EmployeeMapping.State.EXCLUDED),
                    person__isnull=False,
                ).values_list("remote_id", "person_id")
            ),
            **person_id_by_remote,
        }
    rows = [
        [person_id_by_remote[rid], person_id_by_remote.get(manager_rid) if manager_rid else None, now]
        for rid, manager_rid in wanted.items()
    ]
    rows_update(Person, ["manager_id", "updated_at"], rows)


#: The EmployeeMapping columns a plan writes, besides the keys, and the value
#: of each one a change leaves out (only a conflict keeps ``remote_records``).
MAPPING_COLUMNS = {
    "state": "",
    "remote_name": "",
    "remote_email": "",
    "remote_status": "",
    "message": "",
    "remote_records": [],
}


def _apply_mappings(
    plan: SyncPlan,
    connection_id: int,
    run_id: int,
    person_id_by_remote: dict[str, int],
    now: dt.datetime,
) -> None:
    new, existing = [], []
    for change in plan.changes:
        if change.mapping is None or not change.remote_id:
            continue
        person_id = person_id_by_remote.get(change.remote_id, change.person_id)
        values = [change.mapping.get(name, default) for name, default in MAPPING_COLUMNS.items()]
        if change.mapping_id:
            existing.append([change.mapping_id, person_id, *values, now])
        else:
            new.append([connection_id, change.remote_id, person_id, *values, now, now])
    rows_insert(
        EmployeeMapping,
        ["connection_id", "remote_id", "person_id", *MAPPING_COLUMNS, "created_at", "updated_at"],
        new,
    )
    rows_update(EmployeeMapping, ["person_id", *MAPPING_COLUMNS, "updated_at"], existing)
    # Records that left the source, or came back: usually none or a few.
    rows_update(
        EmployeeMapping,
        ["missing_since_run_id", "updated_at"],
        [[pk, run_id, now] for pk in plan.mappings_gone] + [[pk, None, now] for pk in plan.mappings_back],
    )


def _apply_logins(
    plan: SyncPlan,
    person_id_by_remote: dict[str, int],
    credential_notifications: bool,
    result: ApplyResult,
    now: dt.datetime,
    today: dt.date,
) -> None:
    """A person's login follows their status and access dates
    (``hrsync.people.rules.person_has_access``): a deactivation or a
    last working day disables it, a reactivation or a first day enables it.

    With credential notifications on, a person created or first linked with
    an email, or starting (leaving onboarding) in this run, gets a login
    without a usable password, and (after commit) an email with a link to
    set one; nobody gets one before their access starts.
    """
    changed_access = [
        person_id_by_remote.get(c.remote_id, c.person_id)
        for c in plan.changes
        if c.action in (Action.LINK, Action.UPDATE, Action.DEACTIVATE, Action.REACTIVATE)
        and not _ACCESS_VALUES.isdisjoint(c.values)
    ]
    people_logins_set(person_ids=[pid for pid in changed_access if pid is not None], today=today)

    if not credential_notifications:
        return
    onboarding = Person.Status.ONBOARDING.value
    candidates = [
        person_id_by_remote[c.remote_id]
        for c in plan.changes
        if c.remote_id in person_id_by_remote
        and (
            c.action in (Action.CREATE, Action.LINK)
            or (c.action in (Action.UPDATE, Action.REACTIVATE) and c.fields.get("status", [None])[0] == onboarding)
        )
    ]
    # Only those whose access has started: the others get theirs on their first day.
    allowed = [
        pk
        for start in range(0, len(candidates), BATCH_SIZE)
        for pk, status, starts_on, ends_on in Person.objects.filter(
            id__in=candidates[start:start + BATCH_SIZE]
        ).values_list("pk", "status", "access_starts_on", "access_ends_on")
        if person_has_access(status=status, access_starts_on=starts_on, access_ends_on=ends_on, today=today)
    ]
    result.invite_person_ids = people_logins_create(person_ids=allowed, now=now)
