"""``manage.py sync ID_OR_NAME``: run a sync in this process and print its summary.

Exit codes: 0 succeeded (or completed with errors), 1 failed, 2 bad usage or
unknown connection/run, 3 blocked by the safeguard, 4 a sync is already running.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from connections.management.cli import (
    EXIT_ALREADY_RUNNING,
    EXIT_OK,
    OperatorCommand,
    find_connection,
    find_run,
    run_exit_code,
    usage_error,
    write_json,
)
from connections.models import Connection, SyncRun
from connections.runs import (
    ConnectionDisabled,
    SyncAlreadyRunning,
    SyncRunStateError,
    sync_run_apply_dry_run,
    sync_run_start,
)
from connections.services import connection_connector
from connections.summaries import sync_run_summary, sync_run_summary_lines
from connections.sync.runner import sync_run_execute
from connectors.base import DeltaReadable


class Command(OperatorCommand):
    help = "Sync a connection now, in this process, and print the run's summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", metavar="ID_OR_NAME")
        parser.add_argument("--scope", choices=SyncRun.Scope.values, default=None, help="Default: all.")
        parser.add_argument("--dry-run", action="store_true", help="Plan and report, change nothing.")
        parser.add_argument(
            "--apply-run", metavar="RUN_ID", default=None, help="Apply this finished dry run as a real sync."
        )
        parser.add_argument(
            "--delta",
            action="store_true",
            help="Read only the employees changed since the last successful read "
            "(for a connector that can list changes).",
        )
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = find_connection(options["connection"])
        scope = options["scope"]
        try:
            if options["apply_run"] is not None:
                if options["dry_run"]:
                    raise usage_error("--apply-run applies a dry run for real; it cannot be combined with --dry-run.")
                if options["delta"]:
                    raise usage_error("--apply-run reads as the dry run read; it cannot be combined with --delta.")
                dry_run = find_run(options["apply_run"])
                if dry_run.connection_id != connection.pk:
                    raise usage_error(f"{dry_run.title} belongs to {dry_run.connection.name}, not {connection.name}.")
                if scope is not None and scope != dry_run.scope:
                    raise usage_error(f"{dry_run.title} covered {dry_run.scope}; its scope cannot be changed.")
                run = sync_run_apply_dry_run(dry_run=dry_run, trigger=SyncRun.Trigger.CLI, enqueue=False)
            else:
                if options["delta"]:
                    _check_reads_changes(connection)
                run = sync_run_start(
                    connection=connection,
                    scope=scope or SyncRun.Scope.ALL,
                    dry_run=options["dry_run"],
                    trigger=SyncRun.Trigger.CLI,
                    enqueue=False,
                    delta=options["delta"],
                )
        except SyncAlreadyRunning as exc:
            raise CommandError(str(exc), returncode=EXIT_ALREADY_RUNNING) from None
        except (SyncRunStateError, ConnectionDisabled) as exc:
            raise usage_error(str(exc)) from None
        run = sync_run_execute(run_id=run.pk)
        report_run(self, run, as_json=options["json"])


def _check_reads_changes(connection: Connection) -> None:
    """Refuse ``--delta`` for a connection whose connector reads everything every time."""
    try:
        connector = connection_connector(connection=connection)
    except ValidationError as exc:
        raise usage_error(" ".join(exc.messages)) from None
    if not isinstance(connector, DeltaReadable):
        raise usage_error(
            f"{connection.name} cannot run a delta: {connector.label} cannot list only the records "
            "changed since a time. Run the sync without --delta."
        )


def report_run(command: BaseCommand, run: SyncRun, *, as_json: bool) -> None:
    """Print a finished run and exit with the code its status stands for."""
    if as_json:
        write_json(command.stdout, sync_run_summary(run=run))
    else:
        command.stdout.write("\n".join(sync_run_summary_lines(run=run)))
    code = run_exit_code(run.status)
    if code == EXIT_OK:
        return
    if run.status == SyncRun.Status.BLOCKED:
        message = (
            f"{run.error} Approve: manage.py runs approve {run.pk}   Reject: manage.py runs reject {run.pk}"
        )
    else:
        message = run.error or f"{run.title} ended as {run.get_status_display().lower()}."
    raise CommandError(message, returncode=code)
