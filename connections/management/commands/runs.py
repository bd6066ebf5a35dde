"""``manage.py runs list|show|approve|reject``: sync run history and blocked runs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from connections.management.cli import (
    EXIT_ALREADY_RUNNING,
    OperatorCommand,
    find_connection,
    find_run,
    format_table,
    usage_error,
    write_json,
)
from connections.management.commands.sync import report_run
from connections.models import SyncRun
from connections.runs import (
    SyncAlreadyRunning,
    SyncRunStateError,
    sync_run_approve,
    sync_run_reject,
)
from connections.summaries import (
    SUMMARY_COUNT_KEYS,
    sync_run_detail,
    sync_run_summary,
    sync_run_summary_lines,
)
from connections.sync.runner import sync_run_execute

DEFAULT_LIMIT = 20


class Command(OperatorCommand):
    help = "List and inspect sync runs; approve or reject a run the safeguard blocked."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{list,show,approve,reject}")

        listing = sub.add_parser("list", help="Recent runs, newest first.")
        listing.add_argument("--connection", metavar="ID_OR_NAME", default=None)
        listing.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"Default {DEFAULT_LIMIT}.")
        listing.add_argument("--json", action="store_true")

        show = sub.add_parser("show", help="A run's summary, notes and per-record changes.")
        show.add_argument("run", metavar="RUN_ID")
        show.add_argument("--json", action="store_true")

        approve = sub.add_parser("approve", help="Apply a blocked run's changes now, in this process.")
        approve.add_argument("run", metavar="RUN_ID")
        approve.add_argument("--json", action="store_true")

        reject = sub.add_parser("reject", help="Reject a blocked run: nothing is changed.")
        reject.add_argument("run", metavar="RUN_ID")
        reject.add_argument("--json", action="store_true")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        getattr(self, f"handle_{subcommand}")(**options)

    def handle_list(self, *, connection: str | None, limit: int, json: bool, **_: Any) -> None:
        if limit < 1:
            raise usage_error("--limit must be at least 1.")
        runs = SyncRun.objects.select_related("connection").defer("connection__secrets")
        if connection is not None:
            runs = runs.filter(connection=find_connection(connection))
        runs = list(runs.order_by("-created_at", "-id")[:limit])
        if json:
            write_json(self.stdout, [sync_run_summary(run=run) for run in runs])
            return
        if not runs:
            self.stdout.write("No sync runs.")
            return
        self.stdout.write(
            format_table(
                ["ID", "CONNECTION", "TYPE", "SCOPE", "TRIGGER", "STATUS", "CREATED", "CHANGES"],
                [
                    [
                        run.pk,
                        run.connection.name,
                        "dry run" if run.dry_run else "sync",
                        run.scope,
                        run.trigger,
                        run.status,
                        f"{run.created_at:%Y-%m-%d %H:%M}",
                        _changes_brief(run),
                    ]
                    for run in runs
                ],
            )
        )

    def handle_show(self, *, run: str, json: bool, **_: Any) -> None:
        found = find_run(run)
        detail = sync_run_detail(run=found)
        if json:
            write_json(self.stdout, detail)
            return
        lines = sync_run_summary_lines(run=found)
        lines += [_stream_line(name, stream) for name, stream in detail["streams"].items()]
        lines += [f"note: {note}" for note in detail["notes"]]
        for change in detail["locations"]:
            if change["action"] != "unchanged":
                depot = change["depot"] or "not mapped"
                lines.append(
                    f"  location {change['action']:<10} {change['remote_location_id']} "
                    f"{change['remote_name']} → {depot}"
                )
        unchanged = 0
        for change in detail["changes"]:
            if change["action"] == "unchanged" and not change["warnings"]:
                unchanged += 1
                continue
            who = change["name"] or change["email"] or "?"
            line = f"  {change['action']:<10} {change['remote_id']:<12} {who}"
            if change["email"] and change["email"] != who:
                line += f" <{change['email']}>"
            if change["position"]:
                line += f" ({change['position']})"
            lines.append(line)
            for field, (old, new) in change["fields"].items():
                lines.append(f"      {field}: {_blank(old)} → {_blank(new)}")
            for text in [change["message"], *change["warnings"]]:
                if text:
                    lines.append(f"      {text}")
        if unchanged:
            lines.append(f"  ({unchanged} unchanged not listed)")
        self.stdout.write("\n".join(lines))

    def handle_approve(self, *, run: str, json: bool, **_: Any) -> None:
        found = find_run(run)
        try:
            approved = sync_run_approve(run=found, enqueue=False)
        except SyncAlreadyRunning as exc:
            raise CommandError(str(exc), returncode=EXIT_ALREADY_RUNNING) from None
        except SyncRunStateError as exc:
            raise usage_error(str(exc)) from None
        report_run(self, sync_run_execute(run_id=approved.pk), as_json=json)

    def handle_reject(self, *, run: str, json: bool, **_: Any) -> None:
        found = find_run(run)
        try:
            rejected = sync_run_reject(run=found)
        except SyncRunStateError as exc:
            raise usage_error(str(exc)) from None
        if json:
            write_json(self.stdout, sync_run_summary(run=rejected))
        else:
            self.stdout.write(f"Rejected {rejected.title} of {rejected.connection.name}: nothing was changed.")


def _changes_brief(run: SyncRun) -> str:
    counts = run.counts or {}
    parts = [
        f"{key} {counts[key]}"
        for key in SUMMARY_COUNT_KEYS
        if key != "unchanged" and counts.get(key)
    ]
    return ", ".join(parts) or ("no changes" if counts else "")


def _stream_line(name: str, stream: dict[str, Any]) -> str:
    """"stream employees: 300 records, full snapshot: created 3, updated 1" — counts that are not zero."""
    records = stream.get("records", 0)
    line = f"stream {name}: {records} record{'' if records == 1 else 's'}"
    if name != "locations":
        line += ", full snapshot" if stream.get("full_snapshot") else ", partial"
    counts = stream.get("counts") or {}
    said = [f"{key} {value}" for key, value in counts.items() if isinstance(value, int) and value]
    return line + (": " + ", ".join(said) if said else ": no changes")


def _blank(value: Any) -> str:
    return "—" if value in (None, "") else str(value)
