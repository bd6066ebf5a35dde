"""``manage.py upload ID_OR_NAME FILE``: store a file as an upload of the
connection, process it in this process and print how it ended.

Exit codes: 0 complete, complete with errors or skipped; 1 error (or
cancelled); 2 bad usage or unknown connection; 3 blocked by the safeguard
(approve with ``runs approve``); 4 another sync or upload of the connection
is under way (the file waits its turn: ``uploads show``).
"""

from __future__ import annotations

import mimetypes
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connections.management.cli import (
    EXIT_ALREADY_RUNNING,
    EXIT_BLOCKED,
    EXIT_FAILED,
    OperatorCommand,
    find_connection,
    usage_error,
    write_json,
)
from connections.inbound import InboundRefused, inbound_file_receive
from connections.models import InboundFile
from connections.services import connection_connector
from connections.sync.inbound import (
    inbound_file_is_next,
    inbound_file_process,
    inbound_file_summary,
    inbound_files_dispatch,
    upload_title,
)
from connectors.base import Uploadable

Status = InboundFile.Status
#: Problems printed after the summary; ``uploads show`` prints them all.
FIRST_PROBLEMS = 10
_EXIT_CODES = {
    Status.COMPLETE: 0,
    Status.COMPLETE_WITH_ERRORS: 0,
    Status.SKIPPED: 0,
    Status.BLOCKED: EXIT_BLOCKED,
    Status.SCHEDULED: EXIT_ALREADY_RUNNING,
    Status.QUEUED: EXIT_ALREADY_RUNNING,
}


class Command(OperatorCommand):
    help = "Upload a file to a connection that takes files, process it in this process and print its status."

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", metavar="ID_OR_NAME")
        parser.add_argument("file", metavar="FILE")
        parser.add_argument(
            "--kind",
            choices=["employee", "position"],
            default="employee",
            help="What the file holds. Default: employee.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Plan and report, change nothing.")
        parser.add_argument("--json", action="store_true", help="Print the upload as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = find_connection(options["connection"])
        kind = options["kind"]
        try:
            connector = connection_connector(connection=connection)
        except Exception as exc:  # a connector that cannot be built: say so, in words
            raise usage_error(f"{connection.name} cannot take files: {exc}") from None
        if not isinstance(connector, Uploadable):
            raise usage_error(f"{connection.name} does not take uploaded files ({connector.label}).")
        if kind not in connector.upload_kinds:
            raise usage_error(f"{connection.name} does not take {kind} files.")
        try:
            with open(options["file"], "rb") as stream:
                inbound_file = inbound_file_receive(
                    connection=connection,
                    kind=kind,
                    stream=stream,
                    content_type=mimetypes.guess_type(options["file"])[0] or "application/octet-stream",
                    max_bytes=connector.max_upload_bytes,
                    original_name=options["file"],
                    received_from="command line",
                    dry_run=options["dry_run"],
                    # This process handles it itself, below: no worker races it.
                    dispatch=False,
                )
        except OSError as exc:
            raise usage_error(f"Cannot read the file '{options['file']}' ({exc.strerror or 'unreadable'}).") from None
        except InboundRefused as exc:
            raise CommandError(
                f"{options['file']} was refused, and nothing changed: {exc.message}", returncode=EXIT_FAILED
            ) from None
        if inbound_file_is_next(inbound_file=inbound_file):
            inbound_file = inbound_file_process(inbound_file_id=inbound_file.pk)
        else:
            # Not this process's turn: the worker takes it when the connection is free.
            inbound_files_dispatch(connection_id=connection.pk)
            inbound_file.refresh_from_db()
        report_upload(self, inbound_file, as_json=options["json"])


def upload_lines(inbound_file: InboundFile, *, problems: int | None = FIRST_PROBLEMS) -> list[str]:
    """A few human lines: the upload, its status, the counts, the error and
    the first ``problems`` per-record results (all with None)."""
    summary = inbound_file_summary(inbound_file=inbound_file)
    what = f"{inbound_file.get_kind_display().lower()}{', dry run' if inbound_file.dry_run else ''}"
    lines = [f"{upload_title(inbound_file)} of {summary['connection']} ({what}): {inbound_file.get_status_display()}"]
    if inbound_file.run_id:
        lines.append(f"run: {'Dry run' if inbound_file.dry_run else 'Sync'} #{inbound_file.run_id}")
    counts = summary["counts"]
    said = [f"{key} {value}" for key, value in counts.items() if isinstance(value, int)]
    if said:
        lines.append(", ".join(said))
    if inbound_file.error:
        lines.append(f"error: {inbound_file.error}" if inbound_file.status != Status.SKIPPED else inbound_file.error)
    results = summary["results"]
    for result in results if problems is None else results[:problems]:
        where = f"line {result['line']}" if result.get("line") else "file"
        who = f", employee {result['employee_id']}" if result.get("employee_id") else ""
        lines.append(f"  {where}{who}: {result['message']}")
    if problems is not None and len(results) > problems:
        lines.append(f"  … and {len(results) - problems} more: manage.py uploads show {inbound_file.pk}")
    return lines


def report_upload(command: BaseCommand, inbound_file: InboundFile, *, as_json: bool) -> None:
    """Print a processed upload and exit with the code its status stands for."""
    if as_json:
        write_json(command.stdout, inbound_file_summary(inbound_file=inbound_file))
    else:
        command.stdout.write("\n".join(upload_lines(inbound_file)))
    code = _EXIT_CODES.get(inbound_file.status, EXIT_FAILED)
    if code == 0:
        return
    if inbound_file.status == Status.BLOCKED:
        message = (
            f"{inbound_file.error} Approve: manage.py runs approve {inbound_file.run_id}   "
            f"Reject: manage.py runs reject {inbound_file.run_id}"
        )
    elif code == EXIT_ALREADY_RUNNING:
        message = (
            f"Another sync or upload of {inbound_file.connection.name} is under way: {upload_title(inbound_file)} "
            f"waits its turn and starts when it ends (manage.py uploads show {inbound_file.pk})."
        )
    else:
        status = inbound_file.get_status_display().lower()
        message = inbound_file.error or f"{upload_title(inbound_file)} ended as {status}."
    raise CommandError(message, returncode=code)
