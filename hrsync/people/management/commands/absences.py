"""``manage.py absences add|list|remove``: absences recorded in hrsync.

An absence added (or removed) for a person whose connection sends absences
to its HR system is sent there at once, by a run of that connection's
absences in this process; if a sync is running already, the next one sends
it. Exit codes: 0 done, 1 the run that sends it failed, 2 bad usage (an
unknown person, connection or absence; an absence refused).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from connections.management.cli import (
    EXIT_FAILED,
    OperatorCommand,
    find_connection,
    find_person,
    format_table,
    usage_error,
    validation_message,
    write_json,
)
from connections.models import SyncRun
from connections.sync.absences import absence_period
from connections.sync.runner import sync_run_execute
from connectors.base import iso_date
from hrsync.people.absences import (
    AbsenceNotRemovable,
    absence_create,
    absence_list,
    absence_remove,
    absence_send_start,
    absence_where,
)
from hrsync.people.models import Absence

#: The keys of ``absences list --json``: a contract for scripts.
JSON_KEYS = (
    "id", "person_id", "person", "email", "type", "start_date", "end_date", "half_day_start", "half_day_end",
    "status", "comment", "connection", "remote_id", "push_connection", "push_state", "push_error", "removed_at",
    "where",
)


class Command(OperatorCommand):
    help = "Add, list and remove absences."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{add,list,remove}")
        add = sub.add_parser("add", help="Record an absence of a person (sent on if their connection takes absences).")
        add.add_argument("email", metavar="EMAIL")
        add.add_argument("type_name", metavar="TYPE", help="The absence type, such as Holiday.")
        add.add_argument("start", metavar="START", help="First day, YYYY-MM-DD.")
        add.add_argument("end", metavar="END", help="Last day, YYYY-MM-DD.")
        add.add_argument("--half-day-start", action="store_true", help="Only half of the first day.")
        add.add_argument("--half-day-end", action="store_true", help="Only half of the last day.")
        add.add_argument("--comment", default="")
        add.add_argument("--status", choices=Absence.Status.values, default=Absence.Status.APPROVED)
        listing = sub.add_parser("list", help="List absences, newest first.")
        listing.add_argument("--connection", metavar="ID_OR_NAME", help="Those from, or sent to, this connection.")
        listing.add_argument("--person", metavar="EMAIL", help="Those of this person.")
        listing.add_argument("--json", action="store_true", help="Print them as JSON.")
        remove = sub.add_parser("remove", help="Remove an absence recorded in hrsync (and where it was sent).")
        remove.add_argument("absence_id", metavar="ABSENCE_ID")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        getattr(self, f"handle_{subcommand}")(**options)

    # -- add ------------------------------------------------------------------------

    def handle_add(self, *, email: str, type_name: str, start: str, end: str, **options: Any) -> None:
        person = find_person(email)
        try:
            absence = absence_create(
                person=person,
                type_name=type_name,
                start_date=_date(start, "START"),
                end_date=_date(end, "END"),
                half_day_start=options["half_day_start"],
                half_day_end=options["half_day_end"],
                comment=options["comment"],
                status=options["status"],
                send=False,
            )
        except ValidationError as exc:
            raise usage_error(validation_message(exc)) from None
        self.stdout.write(
            f"Added absence {absence.pk}: {person} ({person.email}), {absence.type_name}, "
            f"{absence_period(absence.start_date, absence.end_date)}."
        )
        self._send(absence)

    # -- list -----------------------------------------------------------------------

    def handle_list(self, *, connection: str | None, person: str | None, json: bool, **_: Any) -> None:
        absences = absence_list(
            connection=find_connection(connection) if connection else None,
            person=find_person(person) if person else None,
        )
        if json:
            write_json(self.stdout, [_as_json(absence) for absence in absences])
            return
        rows = [
            (
                absence.pk,
                absence.person.email or str(absence.person),
                absence.type_name,
                absence.start_date.isoformat(),
                absence.end_date.isoformat(),
                _half_days(absence),
                absence.status,
                absence_where(absence),
            )
            for absence in absences
        ]
        if not rows:
            self.stdout.write("No absences.")
            return
        self.stdout.write(format_table(("ID", "PERSON", "TYPE", "FROM", "TO", "HALF DAYS", "STATUS", "WHERE"), rows))

    # -- remove ---------------------------------------------------------------------

    def handle_remove(self, *, absence_id: str, **_: Any) -> None:
        try:
            absence = absence_list().get(pk=int(absence_id), removed_at__isnull=True)
        except (ValueError, Absence.DoesNotExist):
            raise usage_error(f"No absence with id '{absence_id}'.") from None
        try:
            gone = absence_remove(absence=absence, send=False)
        except AbsenceNotRemovable as exc:
            raise usage_error(" ".join(exc.messages)) from None
        if gone:
            self.stdout.write(f"Removed absence {absence.pk}.")
            return
        self._send(absence)
        if not Absence.objects.filter(pk=absence.pk).exists():
            self.stdout.write(f"Removed absence {absence.pk}.")

    # -- sending --------------------------------------------------------------------

    def _send(self, absence: Absence) -> None:
        """Send what waits for the absence's connection now, in this process."""
        connection = absence.push_connection
        if connection is None:
            return
        run = absence_send_start(connection=connection, trigger=SyncRun.Trigger.CLI, enqueue=False)
        if run is None:
            self.stdout.write(f"It waits to be sent to {connection.name}: the next sync of {connection.name} sends it.")
            return
        run = sync_run_execute(run_id=run.pk)
        if run.status == SyncRun.Status.FAILED:
            raise CommandError(f"{run.title} could not send it: {run.error}", returncode=EXIT_FAILED)
        current = absence_list().filter(pk=absence.pk).first()
        if current is not None:
            self.stdout.write(f"{absence_where(current)}.{f' {current.push_error}' if current.push_error else ''}")


def _date(text: str, name: str) -> dt.date:
    day = iso_date(text.strip())
    if day is None:
        raise usage_error(f"{name} must be a date as YYYY-MM-DD, got '{text}'.")
    return day


def _half_days(absence: Absence) -> str:
    return ", ".join(
        part for part, on in (("start", absence.half_day_start), ("end", absence.half_day_end)) if on
    ) or "-"


def _as_json(absence: Absence) -> dict[str, Any]:
    return {
        "id": absence.pk,
        "person_id": absence.person_id,
        "person": str(absence.person),
        "email": absence.person.email,
        "type": absence.type_name,
        "start_date": absence.start_date.isoformat(),
        "end_date": absence.end_date.isoformat(),
        "half_day_start": absence.half_day_start,
        "half_day_end": absence.half_day_end,
        "status": absence.status,
        "comment": absence.comment,
        "connection": absence.connection.name if absence.connection_id else None,
        "remote_id": absence.remote_id,
        "push_connection": absence.push_connection.name if absence.push_connection_id else None,
        "push_state": absence.push_state,
        "push_error": absence.push_error,
        "removed_at": absence.removed_at.isoformat() if absence.removed_at else None,
        "where": absence_where(absence),
    }
