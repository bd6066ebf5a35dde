"""``manage.py depots list|map``: a connection's remote locations and their depots."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from connections.management.cli import (
    OperatorCommand,
    find_connection,
    format_table,
    usage_error,
    validation_message,
    write_json,
)
from mappings.models import DepotMapping
from mappings.services import depot_map


class Command(OperatorCommand):
    help = "List a connection's remote locations, or map one to a depot."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{list,map}")

        listing = sub.add_parser("list", help="Remote locations and the depots they map to.")
        listing.add_argument("connection", metavar="ID_OR_NAME")
        listing.add_argument("--json", action="store_true")

        mapping = sub.add_parser("map", help="Map a remote location to a depot (created if missing).")
        mapping.add_argument("connection", metavar="ID_OR_NAME")
        mapping.add_argument("remote_location_id", metavar="REMOTE_LOCATION_ID")
        mapping.add_argument("depot_name", metavar="DEPOT_NAME")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        getattr(self, f"handle_{subcommand}")(**options)

    def handle_list(self, *, connection: str, json: bool, **_: Any) -> None:
        found = find_connection(connection)
        mappings = list(
            DepotMapping.objects.filter(connection=found)
            .select_related("depot")
            .order_by("remote_name", "remote_location_id")
        )
        rows = [
            {
                "remote_location_id": m.remote_location_id,
                "remote_name": m.remote_name,
                "depot_id": m.depot_id,
                "depot": m.depot.name if m.depot else None,
            }
            for m in mappings
        ]
        if json:
            write_json(self.stdout, rows)
            return
        if not rows:
            self.stdout.write(f"{found.name} has no locations yet. Run: manage.py sync {found.pk} --scope locations")
            return
        self.stdout.write(
            format_table(
                ["REMOTE ID", "REMOTE NAME", "DEPOT"],
                [[r["remote_location_id"], r["remote_name"], r["depot"] or "not mapped"] for r in rows],
            )
        )

    def handle_map(self, *, connection: str, remote_location_id: str, depot_name: str, **_: Any) -> None:
        found = find_connection(connection)
        try:
            mapping = depot_map(connection=found, remote_location_id=remote_location_id, depot_name=depot_name)
        except ValidationError as exc:
            raise usage_error(validation_message(exc)) from None
        where = mapping.remote_location_id + (f" ({mapping.remote_name})" if mapping.remote_name else "")
        self.stdout.write(f"Mapped {found.name} location {where} to depot {mapping.depot.name}.")
