"""``manage.py training list|approve|reject``: a connection's training
records, and its course requests decided from the command line.

A decision is sent to the connection's source at once. Exit codes: 0 done,
1 the source refused the decision or could not be reached (the request
stays pending), 2 bad usage (an unknown connection, person or record; a
record that is not waiting for a decision).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from connections.management.cli import (
    EXIT_FAILED,
    OperatorCommand,
    find_connection,
    find_person,
    format_table,
    usage_error,
    write_json,
)
from connections.models import Connection
from hrsync.people.models import TrainingRecord
from hrsync.people.training import (
    TrainingRequestNotPending,
    training_record_list,
    training_record_words,
    training_request_decide,
)

#: The keys of ``training list --json``: a contract for scripts.
JSON_KEYS = (
    "id", "remote_id", "person_id", "person", "email", "kind", "label", "start_date", "end_date", "status",
    "pending", "decision", "decided_by", "decided_at", "decision_error",
)


class Command(OperatorCommand):
    help = "List a connection's training records, and approve or reject course requests."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{list,approve,reject}")
        listing = sub.add_parser("list", help="List the connection's training records, requests first.")
        listing.add_argument("connection", metavar="ID_OR_NAME")
        listing.add_argument("--person", metavar="EMAIL", help="Only this person's.")
        listing.add_argument("--pending", action="store_true", help="Only course requests waiting for a decision.")
        listing.add_argument("--json", action="store_true", help="Print them as JSON.")
        for name, what in (("approve", "Approve"), ("reject", "Reject")):
            decide = sub.add_parser(name, help=f"{what} a course request (sent to the source at once).")
            decide.add_argument("connection", metavar="ID_OR_NAME")
            decide.add_argument("remote_id", metavar="DELEGATE_ID", help="The booking's id at the source.")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        if subcommand == "list":
            self.handle_list(**options)
        else:
            self.handle_decide(approve=subcommand == "approve", **options)

    def handle_list(self, *, connection: str, person: str | None, pending: bool, json: bool, **_: Any) -> None:
        records = training_record_list(
            connection=find_connection(connection),
            person=find_person(person) if person else None,
            pending=pending,
        )
        if json:
            write_json(self.stdout, [_as_json(record) for record in records])
            return
        rows = [
            (
                record.remote_id,
                record.person.email or str(record.person),
                record.get_kind_display(),
                record.label,
                record.start_date.isoformat() if record.start_date else "-",
                record.status or "-",
                _decision(record),
            )
            for record in records
        ]
        if not rows:
            self.stdout.write("No course requests waiting for a decision." if pending else "No training records.")
            return
        headers = ("ID", "PERSON", "KIND", "COURSE OR AWARD", "START", "STATUS", "DECISION")
        self.stdout.write(format_table(headers, rows))

    def handle_decide(self, *, connection: str, remote_id: str, approve: bool, **_: Any) -> None:
        found = find_connection(connection)
        record = _find_record(found, remote_id)
        try:
            record = training_request_decide(record=record, approve=approve, user=None)
        except TrainingRequestNotPending as exc:
            raise usage_error(exc.message) from None
        words = training_record_words(record=record)
        if record.decision_error:
            raise CommandError(
                f"Could not {'approve' if approve else 'reject'} {words}: {record.decision_error}",
                returncode=EXIT_FAILED,
            )
        self.stdout.write(
            f"{'Approved' if approve else 'Rejected'}: {words}. {found.kind_label} now shows {record.status}."
        )


def _find_record(connection: Connection, remote_id: str) -> TrainingRecord:
    record = training_record_list(connection=connection).filter(remote_id=remote_id.strip()).first()
    if record is None:
        raise usage_error(f"{connection.name} has no training record with the id '{remote_id}'.")
    return record


def _decision(record: TrainingRecord) -> str:
    if record.decision:
        return record.get_decision_display()
    if record.is_request:
        return "Waiting" + (" (last try failed)" if record.decision_error else "")
    return "-"


def _as_json(record: TrainingRecord) -> dict[str, Any]:
    return {
        "id": record.pk,
        "remote_id": record.remote_id,
        "person_id": record.person_id,
        "person": str(record.person),
        "email": record.person.email,
        "kind": record.kind,
        "label": record.label,
        "start_date": record.start_date.isoformat() if record.start_date else None,
        "end_date": record.end_date.isoformat() if record.end_date else None,
        "status": record.status,
        "pending": record.is_request and not record.decision,
        "decision": record.decision,
        "decided_by": record.decided_by.get_username() if record.decided_by_id else None,
        "decided_at": record.decided_at.isoformat() if record.decided_at else None,
        "decision_error": record.decision_error,
    }
