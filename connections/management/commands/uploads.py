"""``manage.py uploads list|show|cancel``: a connection's uploaded files."""

from __future__ import annotations

from typing import Any

from connections.management.cli import (
    OperatorCommand,
    find_connection,
    format_table,
    usage_error,
    write_json,
)
from connections.management.commands.upload import upload_lines
from connections.models import InboundFile
from connections.sync.inbound import (
    InboundFileStateError,
    inbound_file_cancel,
    inbound_file_summary,
    upload_title,
)

DEFAULT_LIMIT = 20


def find_upload(upload_id: str | int) -> InboundFile:
    try:
        return InboundFile.objects.select_related("connection").get(pk=int(upload_id))
    except (ValueError, InboundFile.DoesNotExist):
        raise usage_error(f"No upload with id '{upload_id}'.") from None


class Command(OperatorCommand):
    help = "List and inspect a connection's uploaded files; cancel one that has not started."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{list,show,cancel}")

        listing = sub.add_parser("list", help="The connection's uploads, newest first.")
        listing.add_argument("connection", metavar="ID_OR_NAME")
        listing.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"Default {DEFAULT_LIMIT}.")
        listing.add_argument("--json", action="store_true")

        show = sub.add_parser("show", help="An upload's status, counts and every per-line result.")
        show.add_argument("upload", metavar="UPLOAD_ID")
        show.add_argument("--json", action="store_true")

        cancel = sub.add_parser("cancel", help="Cancel an upload that waits its turn: it is never processed.")
        cancel.add_argument("upload", metavar="UPLOAD_ID")
        cancel.add_argument("--json", action="store_true")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        getattr(self, f"handle_{subcommand}")(**options)

    def handle_list(self, *, connection: str, limit: int, json: bool, **_: Any) -> None:
        if limit < 1:
            raise usage_error("--limit must be at least 1.")
        found = find_connection(connection)
        uploads = list(InboundFile.objects.filter(connection=found).select_related("connection")[:limit])
        if json:
            write_json(self.stdout, [inbound_file_summary(inbound_file=upload) for upload in uploads])
            return
        if not uploads:
            self.stdout.write(f"No uploads for {found.name}.")
            return
        self.stdout.write(
            format_table(
                ["ID", "KIND", "STATUS", "RECEIVED", "FROM", "FILE", "RUN", "PROBLEMS"],
                [
                    [
                        upload.pk,
                        upload.kind + (" (dry run)" if upload.dry_run else ""),
                        upload.status,
                        f"{upload.received_at:%Y-%m-%d %H:%M}",
                        upload.received_from,
                        upload.original_name,
                        upload.run_id,
                        len(upload.results or []),
                    ]
                    for upload in uploads
                ],
            )
        )

    def handle_show(self, *, upload: str, json: bool, **_: Any) -> None:
        found = find_upload(upload)
        if json:
            write_json(self.stdout, inbound_file_summary(inbound_file=found))
            return
        self.stdout.write("\n".join(upload_lines(found, problems=None)))

    def handle_cancel(self, *, upload: str, json: bool, **_: Any) -> None:
        found = find_upload(upload)
        try:
            cancelled = inbound_file_cancel(inbound_file=found)
        except InboundFileStateError as exc:
            raise usage_error(str(exc)) from None
        if json:
            write_json(self.stdout, inbound_file_summary(inbound_file=cancelled))
        else:
            self.stdout.write(
                f"Cancelled {upload_title(cancelled)} of {cancelled.connection.name}: it will not be processed."
            )
