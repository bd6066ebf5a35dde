"""``manage.py employees list|include|exclude``: a connection's employee
records and which of them its syncs include (selective sync)."""

from __future__ import annotations

from typing import Any

from connections.management.cli import OperatorCommand, find_connection, format_table, usage_error, write_json
from mappings.selectors import employee_record_list
from mappings.services import UnknownRecordsError, mappings_exclude, mappings_include


def _records(count: int) -> str:
    return f"{count} record{'' if count == 1 else 's'}"


def _these(remote_ids: list[str]) -> str:
    return "this record" if len(set(remote_ids)) == 1 else "these records"


class Command(OperatorCommand):
    help = "List a connection's employee records, or include or exclude some in its syncs."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{list,include,exclude}")

        listing = sub.add_parser("list", help="Every record a sync has read, included or not, and its person.")
        listing.add_argument("connection", metavar="ID_OR_NAME")
        listing.add_argument("--json", action="store_true")

        including = sub.add_parser("include", help="Sync these records again: the next sync brings them in.")
        including.add_argument("connection", metavar="ID_OR_NAME")
        including.add_argument("remote_ids", metavar="REMOTE_ID", nargs="+")

        excluding = sub.add_parser(
            "exclude", help="Leave these records out of syncs: nobody is created or changed for them."
        )
        excluding.add_argument("connection", metavar="ID_OR_NAME")
        excluding.add_argument("remote_ids", metavar="REMOTE_ID", nargs="+")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        getattr(self, f"handle_{subcommand}")(**options)

    def handle_list(self, *, connection: str, json: bool, **_: Any) -> None:
        found = find_connection(connection)
        rows = employee_record_list(connection=found)
        if json:
            write_json(self.stdout, rows)
            return
        if not rows:
            self.stdout.write(
                f"{found.name} has no employee records yet. Run: manage.py sync {found.pk} --scope employees"
            )
            return
        self.stdout.write(
            format_table(
                ["REMOTE ID", "NAME", "EMAIL", "SOURCE STATUS", "INCLUDED", "STATE", "PERSON"],
                [
                    [
                        r["remote_id"],
                        r["name"] or None,
                        r["email"] or None,
                        r["source_status"] or None,
                        r["included"],
                        r["state_text"],
                        f"{r['person']['name'] or r['person']['email']} (#{r['person']['id']})"
                        if r["person"]
                        else None,
                    ]
                    for r in rows
                ],
            )
        )

    def handle_include(self, *, connection: str, remote_ids: list[str], **_: Any) -> None:
        found = find_connection(connection)
        try:
            changed = mappings_include(connection=found, remote_ids=remote_ids)
        except UnknownRecordsError as exc:
            raise usage_error(str(exc)) from None
        text = (
            f"Included {_records(changed)} in {found.name}'s syncs: the next sync updates, links or "
            f"creates {'its person' if changed == 1 else 'their people'}."
            if changed
            else f"Nothing to include: {found.name} syncs {_these(remote_ids)} already."
        )
        if changed and (already := len(set(remote_ids)) - changed):
            text += f" {_records(already)} {'was' if already == 1 else 'were'} included already."
        self.stdout.write(text)

    def handle_exclude(self, *, connection: str, remote_ids: list[str], **_: Any) -> None:
        found = find_connection(connection)
        try:
            changed = mappings_exclude(connection=found, remote_ids=remote_ids)
        except UnknownRecordsError as exc:
            raise usage_error(str(exc)) from None
        text = (
            f"Excluded {_records(changed)} from {found.name}'s syncs: they are skipped, and nobody is "
            "created or changed for them; people linked to them stay as they are."
            if changed
            else f"Nothing to exclude: {found.name} leaves {_these(remote_ids)} out already."
        )
        if changed and (already := len(set(remote_ids)) - changed):
            text += f" {_records(already)} {'was' if already == 1 else 'were'} excluded already."
        self.stdout.write(text)
