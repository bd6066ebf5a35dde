"""``manage.py connections add|list|test|set``: manage connections from a shell."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db.models import OuterRef, Subquery

from connections.api.auth import connection_api_key_regenerate, connection_kind_has_api_key
from connections.api.webhooks import (
    connection_kind_has_webhooks,
    connection_webhook_secret_regenerate,
    connection_webhook_url,
)
from connections.management.cli import (
    EXIT_FAILED,
    OperatorCommand,
    find_connection,
    format_table,
    parse_set_values,
    settings_from_key_values,
    usage_error,
    validation_message,
    write_json,
)
from connections.models import Connection, SyncRun
from connections.previews import check_preview_rows, check_preview_table
from connections.services import connection_check, connection_create, connection_update
from connections.summaries import sync_run_summary
from connectors.registry import connector_class, validate_kind

SET_HELP = (
    "KEY=VALUE; repeat for several. Keys: the connector's settings (secrets too), "
    "background_sync, credential_notifications, enabled, safeguard_percent, safeguard_min, "
    "sync_interval_hours, status_map.<Vendor status>=<person status>, field_map.<person field>=<vendor attribute>. A file setting takes the file's path."
)


class Command(OperatorCommand):
    help = "Add, list, test and change HR system connections."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{add,list,test,set}")

        add = sub.add_parser(
            "add",
            help="Create a connection and print its id (and, for one that receives files, its API key, once; "
            "for one that receives webhooks, its webhook URL).",
        )
        add.add_argument("--kind", required=True, help="The integration, e.g. actionhrm.")
        add.add_argument("--name", required=True)
        add.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)

        listing = sub.add_parser("list", help="List connections (never their secrets).")
        listing.add_argument("--json", action="store_true", help="Print JSON.")

        test = sub.add_parser("test", help="Test a connection's settings; show the first rows as they map.")
        test.add_argument("connection", metavar="ID_OR_NAME")
        test.add_argument("--json", action="store_true", help='Print {"ok", "message", "preview"}.')

        change = sub.add_parser("set", help="Change a connection's settings and options.")
        change.add_argument("connection", metavar="ID_OR_NAME")
        change.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
        change.add_argument(
            "--regenerate-key",
            action="store_true",
            help="Give a connection that receives files a new API key and print it (once); the old key stops working.",
        )
        change.add_argument(
            "--regenerate-webhook-secret",
            action="store_true",
            help="Give a connection that receives webhooks a new webhook secret and print its new webhook URL; "
            "the old URL stops working.",
        )

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        getattr(self, f"handle_{subcommand}")(**options)

    # -- add -------------------------------------------------------------

    def handle_add(self, *, kind: str, name: str, values: list[str], **_: Any) -> None:
        try:
            # First, so an unknown kind is answered with the known ones (the
            # model's choices check would only say "not a valid choice").
            validate_kind(kind)
            typed = settings_from_key_values(kind=kind, values=parse_set_values(values))
            connection = connection_create(kind=kind, name=name, **typed.as_kwargs())
        except ValidationError as exc:
            raise usage_error(validation_message(exc)) from None
        self.stdout.write(str(connection.pk))
        key = getattr(connection, "issued_api_key", "")
        if key:
            self.stdout.write(f"API key: {key}")
            self.stderr.write("Keep the API key now: it is stored only as a hash and cannot be shown again.")
        url = getattr(connection, "issued_webhook_url", "")
        if url:
            self.stdout.write(f"Webhook URL (paste it into {connection.kind_label}'s webhook settings): {url}")

    # -- list ------------------------------------------------------------

    def handle_list(self, *, json: bool, **_: Any) -> None:
        latest_run = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at", "-id")
        connections = list(
            Connection.objects.annotate(last_run_id=Subquery(latest_run.values("pk")[:1])).order_by("name")
        )
        runs = SyncRun.objects.in_bulk([c.last_run_id for c in connections if c.last_run_id])
        for connection in connections:
            run = runs.get(connection.last_run_id)
            if run is not None:
                run.connection = connection  # spare a query per row
            connection.last_run = run

        if json:
            write_json(self.stdout, [connection_as_json(c) for c in connections])
            return
        if not connections:
            self.stdout.write("No connections. Add one with: manage.py connections add --kind KIND --name NAME")
            return
        self.stdout.write(
            format_table(
                ["ID", "NAME", "KIND", "ENABLED", "BACKGROUND SYNC", "HEALTH", "LAST RUN"],
                [
                    [c.pk, c.name, c.kind, c.enabled, c.background_sync, _health(c), _last_run(c.last_run)]
                    for c in connections
                ],
            )
        )

    # -- test ------------------------------------------------------------

    def handle_test(self, *, connection: str, json: bool, **_: Any) -> None:
        found = find_connection(connection)
        check = connection_check(connection=found)
        preview = check_preview_rows(connection=found, check=check)
        if json:
            write_json(self.stdout, {"ok": check.ok, "message": check.message, "preview": preview})
        if not check.ok:
            raise CommandError(f"FAILED: {check.message}", returncode=EXIT_FAILED)
        if json:
            return
        self.stdout.write(f"OK: {check.message}")
        if preview:
            table = check_preview_table(rows=preview)
            self.stdout.write("")
            self.stdout.write(
                format_table(
                    [label for _name, label in table["headers"]],
                    [[value for _name, value in row] for row in table["rows"]],
                )
            )

    # -- set -------------------------------------------------------------

    def handle_set(
        self, *, connection: str, values: list[str], regenerate_key: bool, regenerate_webhook_secret: bool, **_: Any
    ) -> None:
        if not values and not regenerate_key and not regenerate_webhook_secret:
            raise usage_error("Give at least one --set KEY=VALUE, or --regenerate-key, or --regenerate-webhook-secret.")
        found = find_connection(connection)
        if regenerate_key and not connection_kind_has_api_key(kind=found.kind):
            raise usage_error(f"{found.name} ({found.kind_label}) does not receive files, so it has no API key.")
        if regenerate_webhook_secret and not connection_kind_has_webhooks(kind=found.kind):
            raise usage_error(
                f"{found.name} ({found.kind_label}) does not receive webhooks, so it has no webhook secret."
            )
        parsed = parse_set_values(values)
        if parsed:
            try:
                typed = settings_from_key_values(kind=found.kind, values=parsed)
                connection_update(connection=found, **typed.as_kwargs())
            except ValidationError as exc:
                raise usage_error(validation_message(exc)) from None
            # Name the keys only: a value may be a secret.
            self.stdout.write(f"Updated {found.name}: {', '.join(sorted(parsed))}.")
        if regenerate_key:
            key = connection_api_key_regenerate(connection=found)
            self.stdout.write(f"API key: {key}")
            self.stderr.write(
                f"The old API key of {found.name} no longer works. Keep this one: it cannot be shown again."
            )
        if regenerate_webhook_secret:
            connection_webhook_secret_regenerate(connection=found)
            url = connection_webhook_url(connection=found)
            self.stdout.write(f"Webhook URL (paste it into {found.kind_label}'s webhook settings): {url}")
            self.stderr.write(
                f"The old webhook URL of {found.name} no longer works: paste this one into {found.kind_label}."
            )


def connection_as_json(connection: Connection) -> dict[str, Any]:
    """A connection for ``list --json``. Secrets never appear, only the names
    of the secret settings that have a value."""
    try:
        secret_fields = connector_class(connection.kind).secret_fields
    except ValidationError:  # a kind that is disabled in this deployment
        secret_fields = ()
    run = getattr(connection, "last_run", None)
    return {
        "id": connection.pk,
        "name": connection.name,
        "kind": connection.kind,
        "enabled": connection.enabled,
        "background_sync": connection.background_sync,
        "credential_notifications": connection.credential_notifications,
        "sync_interval_hours": connection.sync_interval.total_seconds() / 3600,
        "next_sync_at": connection.next_sync_at.isoformat() if connection.next_sync_at else None,
        "last_check_ok": connection.last_check_ok,
        "last_check_message": connection.last_check_message,
        "last_check_at": connection.last_check_at.isoformat() if connection.last_check_at else None,
        "safeguard_percent": connection.safeguard_percent,
        "safeguard_min": connection.safeguard_min,
        "status_map": dict(connection.status_map),
        "field_map": dict(connection.field_map),
        "config": {k: v for k, v in connection.config.items() if k not in secret_fields},
        "secrets_set": sorted(name for name in secret_fields if connection.secrets.get(name)),
        "last_run": sync_run_summary(run=run) if run is not None else None,
    }


def _health(connection: Connection) -> str:
    if connection.last_check_ok is None:
        return "not checked"
    if connection.last_check_ok:
        return "ok"
    return f"failing: {connection.last_check_message}"


def _last_run(run: SyncRun | None) -> str:
    if run is None:
        return "never"
    when = run.finished_at or run.started_at or run.created_at
    return f"{run.title} {run.status} {when:%Y-%m-%d %H:%M}"
