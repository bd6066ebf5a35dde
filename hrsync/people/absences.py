"""Absences: recorded in hrsync, listed, removed (keyword-only, typed; DESIGN §8).

An absence recorded here belongs to no connection (``Absence.connection`` is
empty). When the person's connection sends absences to its HR system
(``AbsenceExchange`` with direction "to_source"), the absence waits to be
sent there (``push_state`` pending) and, once this transaction commits, a
run of that connection's absences starts and sends it (DESIGN §1, pushes).
If a run is active already, the next one sends it: nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from connections.models import Connection, SyncRun
from connections.runs import ConnectionDisabled, SyncAlreadyRunning, TaskQueueUnreachable, sync_run_start
from connections.sync.absences import FROM_SOURCE, TO_SOURCE, connection_absence_direction
from hrsync.people import rules
from hrsync.people.models import Absence, Person
from hrsync.search import PERSON_SEARCH_FIELDS, words_filter
from mappings.models import EmployeeMapping

logger = logging.getLogger(__name__)

PushState = Absence.PushState

#: How far from today an absence may lie, and how long one may last: a date
#: past these is a typing slip (2062 for 2026), not a plan.
YEARS_FROM_TODAY = 5
LONGEST_DAYS = 2 * 366
_TYPE_NAME_LENGTH = Absence._meta.get_field("type_name").max_length
_COMMENT_LENGTH = 2000


def absence_push_connection(*, person: Person) -> Connection | None:
    """The connection an absence of ``person`` recorded here is sent to:
    the one managing them, else one linking them, that sends absences to
    its HR system; None when none does."""
    return _absence_connection(person=person, direction=TO_SOURCE)


def absence_pull_connection(*, person: Person) -> Connection | None:
    """The connection ``person``'s absences come from, chosen as
    ``absence_push_connection`` chooses: one that copies absences from its
    HR system (an absence added here for them stays in hrsync only)."""
    return _absence_connection(person=person, direction=FROM_SOURCE)


def _absence_connection(*, person: Person, direction: str) -> Connection | None:
    candidates: list[Connection] = []
    if person.managed_by_id is not None:
        candidates.append(Connection.objects.get(pk=person.managed_by_id))
    linked = Connection.objects.filter(
        employee_mappings__person=person, employee_mappings__state=EmployeeMapping.State.LINKED
    ).exclude(pk=person.managed_by_id).order_by("pk").distinct()
    candidates += list(linked)
    for connection in candidates:
        if connection_absence_direction(connection=connection) == direction:
            return connection
    return None


def absence_problems(
    *,
    person: Person,
    type_name: str,
    start_date: dt.date | None,
    end_date: dt.date | None,
    comment: str = "",
    status: str = Absence.Status.APPROVED,
    today: dt.date | None = None,
) -> dict[str, list[str]]:
    """What is wrong with an absence to record, per field ("__all__" for
    the absence as a whole); empty when nothing is."""
    today = today or timezone.localdate()
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    name = (type_name or "").strip()
    if not name:
        add("type_name", "Enter the type of absence, such as Holiday or Sick leave.")
    elif len(name) > _TYPE_NAME_LENGTH:
        add("type_name", f"The type is longer than {_TYPE_NAME_LENGTH} characters.")
    elif character := rules.unstorable_character(field="type_name", value=name):
        add("type_name", rules.control_character_problem(what="The type", character=character) + ".")
    if len(comment or "") > _COMMENT_LENGTH:
        add("comment", f"The comment is longer than {_COMMENT_LENGTH} characters.")
    elif "\x00" in (comment or ""):
        add("comment", "The comment contains a NUL character.")
    if status not in Absence.Status.values:
        add("status", f"The status must be one of {', '.join(Absence.Status.values)}.")
    if start_date is None:
        add("start_date", "Enter the first day of the absence.")
    if end_date is None:
        add("end_date", "Enter the last day of the absence.")
    if start_date is None or end_date is None:
        return problems
    earliest = today.replace(year=today.year - YEARS_FROM_TODAY, day=min(today.day, 28))
    latest = today.replace(year=today.year + YEARS_FROM_TODAY, day=min(today.day, 28))
    for field, day in (("start_date", start_date), ("end_date", end_date)):
        if not earliest <= day <= latest:
            add(field, f"{day.isoformat()} is more than {YEARS_FROM_TODAY} years from today: check the year.")
    if end_date < start_date:
        add("end_date", "The last day is before the first day.")
    elif (end_date - start_date).days >= LONGEST_DAYS:
        add("end_date", f"An absence can last up to {LONGEST_DAYS} days: record a longer one in parts.")
    if not problems and name:
        duplicate = Absence.objects.filter(
            person=person,
            type_name__iexact=name,
            start_date=start_date,
            end_date=end_date,
            removed_at__isnull=True,
        )
        if duplicate.exists():
            period = f"{start_date.isoformat()} to {end_date.isoformat()}"
            add("__all__", f"{person} already has this absence ({name}, {period}).")
    return problems


def absence_create(
    *,
    person: Person,
    type_name: str,
    start_date: dt.date,
    end_date: dt.date,
    half_day_start: bool = False,
    half_day_end: bool = False,
    comment: str = "",
    status: str = Absence.Status.APPROVED,
    user: Any = None,
    send: bool = True,
    trigger: str = SyncRun.Trigger.MANUAL,
) -> Absence:
    """Record an absence of ``person`` in hrsync. Raises ValidationError
    (per field) and writes nothing for an absence ``absence_problems`` refuses.

    When the person's connection sends absences on (``absence_push_connection``),
    the absence waits to be sent there, and with ``send`` a run of that
    connection's absences starts once the caller's transaction commits.
    """
    if problems := absence_problems(
        person=person, type_name=type_name, start_date=start_date, end_date=end_date, comment=comment, status=status
    ):
        raise ValidationError(problems)
    push_connection = absence_push_connection(person=person)
    absence = Absence.objects.create(
        person=person,
        type_name=type_name.strip(),
        start_date=start_date,
        end_date=end_date,
        half_day_start=half_day_start,
        half_day_end=half_day_end,
        comment=(comment or "").strip(),
        status=status,
        push_connection=push_connection,
        push_state=PushState.PENDING if push_connection is not None else PushState.NOT_PUSHED,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if push_connection is not None and send:
        _send_after_commit(connection=push_connection, trigger=trigger, user=user)
    return absence


class AbsenceNotRemovable(ValidationError):
    """The absence came from a connection: it is removed there, not here."""


def absence_remove(
    *, absence: Absence, user: Any = None, send: bool = True, trigger: str = SyncRun.Trigger.MANUAL
) -> bool:
    """Remove an absence recorded in hrsync. Returns True when it is gone
    now; False when it was sent to a connection already, so its removal
    waits to be sent there (and with ``send`` a run starts after commit):
    the row goes once the source has removed it too.

    The row is locked first: a run sending it at this moment finishes
    that first, so a removal never loses the record the source just made.
    Raises ``AbsenceNotRemovable`` for an absence that came from a source.
    """
    with transaction.atomic():
        row = (
            Absence.objects.select_for_update(of=("self",))
            .select_related("push_connection")
            .filter(pk=absence.pk)
            .first()
        )
        if row is None:
            return True
        if row.connection_id is not None:
            raise AbsenceNotRemovable(
                "This absence comes from a connection: remove it there, and the next sync removes it here."
            )
        if row.removed_at is not None:
            return False
        if not row.remote_id or row.push_connection is None:
            row.delete()
            return True
        row.removed_at = timezone.now()
        row.push_state, row.push_error = PushState.PENDING, ""
        row.save(update_fields=["removed_at", "push_state", "push_error", "updated_at"])
        if send:
            _send_after_commit(connection=row.push_connection, trigger=trigger, user=user)
    absence.removed_at, absence.push_state = row.removed_at, row.push_state
    return False


def absence_send_start(
    *, connection: Connection, trigger: str = SyncRun.Trigger.MANUAL, user: Any = None, enqueue: bool = True
) -> SyncRun | None:
    """Start a run of ``connection``'s absences, which sends those waiting.
    None when it cannot start now (a run is active, which sends them, or
    will; the connection is disabled; the task queue is down): they wait
    for the next run."""
    try:
        return sync_run_start(
            connection=connection, scope=SyncRun.Scope.ABSENCES, trigger=trigger, user=user, enqueue=enqueue
        )
    except (SyncAlreadyRunning, ConnectionDisabled, TaskQueueUnreachable) as exc:
        logger.info("Absences for %s wait for the next run: %s", connection.name, exc)
        return None


def _send_after_commit(*, connection: Connection, trigger: str, user: Any) -> None:
    transaction.on_commit(lambda: absence_send_start(connection=connection, trigger=trigger, user=user))


def absence_list(
    *,
    connection: Connection | None = None,
    person: Person | None = None,
    query: str = "",
    include_removed: bool = True,
) -> QuerySet[Absence]:
    """Absences, newest first: of ``connection`` (pulled from it, or sent
    to it), of ``person``, whose person's name or email or whose type
    contains every word of ``query``."""
    # The connections' names only: loading their secrets would decrypt them per row.
    absences = Absence.objects.select_related("person", "connection", "push_connection").defer(
        "person__custom_fields",
        *(f"{path}__{name}" for path in ("connection", "push_connection") for name in Connection.NAME_ONLY_DEFERRED),
    )
    if connection is not None:
        absences = absences.filter(Q(connection=connection) | Q(push_connection=connection))
    if person is not None:
        absences = absences.filter(person=person)
    if not include_removed:
        absences = absences.filter(removed_at__isnull=True)
    absences = words_filter(absences, query, fields=(*PERSON_SEARCH_FIELDS, "type_name"))
    return absences.order_by("-start_date", "-id")


def absence_where(absence: Absence, *, named: bool = True) -> str:
    """Where an absence came from, or how sending it went, in words.

    ``named=False``: how sending it went without the connection's name, for
    a list of what one connection is sent, which names it once above."""
    if absence.connection_id is not None:
        return f"From {absence.connection.name}"
    if absence.push_connection_id is None:
        return "Recorded in hrsync"
    to, by, of = (
        (f" to {absence.push_connection.name}", f" by {absence.push_connection.name}", f" from {absence.push_connection.name}")
        if named
        else ("", "", "")
    )
    if absence.removed_at is not None:
        return {
            PushState.REJECTED: f"Removal refused{by}",
            PushState.FAILED: f"Removal{of} failed; tried again at the next sync",
        }.get(absence.push_state, f"Removal waiting to be sent{to}")
    return {
        PushState.NOT_PUSHED: f"Not sent{to}",
        PushState.PENDING: f"Waiting to be sent{to}",
        PushState.SENT: f"Sent{to}",
        PushState.REJECTED: f"Refused{by}",
        PushState.FAILED: f"Sending{to} failed; tried again at the next sync",
    }[absence.push_state]
