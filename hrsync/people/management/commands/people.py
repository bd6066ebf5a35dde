"""``manage.py people export``: the whole directory, streamed to stdout."""

from __future__ import annotations

import itertools
import json
import os
import sys
from typing import Any

from django.utils import timezone

from connections.management.cli import OperatorCommand, write_json
from hrsync.csv_export import csv_lines
from hrsync.people.access import people_access_dates_apply
from hrsync.people.rules import day_in_words
from hrsync.people.services import people_export_fields, people_export_rows


class Command(OperatorCommand):
    help = "Work with the people directory."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{export,apply-access-dates}")
        export = sub.add_parser("export", help="Write every person to stdout.")
        export.add_argument("--format", choices=("csv", "json"), default="csv", help="Default csv.")
        access = sub.add_parser(
            "apply-access-dates",
            help="Apply today's access dates now (the daily task does it at 00:05): start who starts, "
            "lock who has left.",
        )
        access.add_argument("--json", action="store_true", help="Print what changed as JSON.")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        getattr(self, f"handle_{subcommand.replace('-', '_')}")(**options)

    def handle_apply_access_dates(self, *, json: bool, **_: Any) -> None:
        result = people_access_dates_apply(today=timezone.localdate())
        if json:
            write_json(self.stdout, result.as_dict())
            return
        if not result.changes:
            self.stdout.write(f"Access dates on {day_in_words(result.today)}: nothing to change.")
            return
        self.stdout.write(f"Access dates on {day_in_words(result.today)}: {len(result.changes)} changed.")
        for change in result.changes:
            login = f", login {change.login}" if change.login else ""
            self.stdout.write(
                f"  {change.name} (person {change.person_id}): {change.old_status} → {change.new_status}{login}. "
                f"{change.reason}".rstrip()
            )

    def handle_export(self, *, format: str, **_: Any) -> None:
        try:
            if format == "json":
                self._export_json()
            else:
                self._export_csv()
        except BrokenPipeError:
            # The reader went away (`people export | head`): stop quietly, and
            # keep Python from complaining again when it flushes at exit.
            if self.stdout._out is sys.stdout:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def _export_csv(self) -> None:
        rows = (row.values() for row in people_export_rows())
        for line in csv_lines(itertools.chain([people_export_fields()], rows)):
            self.stdout.write(line, ending="")

    def _export_json(self) -> None:
        # One object per line inside the list: valid JSON, written as it is read.
        self.stdout.write("[", ending="")
        separator = "\n"
        for row in people_export_rows():
            self.stdout.write(separator + json.dumps(row, ensure_ascii=False), ending="")
            separator = ",\n"
        self.stdout.write("\n]" if separator != "\n" else "]")
