"""Connections: create, update, check, find — the operations the UI, CLI
and tasks call on a connection's settings and health.

Every function here is keyword-only and named ``<noun>_<verb>``. Views,
commands and Celery tasks stay thin and call these. A connection's runs are
``connections.runs``; executing one is ``connections.sync.runner``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import Truncator

from connections.api.auth import connection_api_key_assign, connection_kind_has_api_key
from connections.api.keys import API_KEY_HASH, API_KEY_ID
from connections.api.webhooks import (
    WEBHOOK_SECRET,
    connection_kind_has_webhooks,
    connection_webhook_secret_assign,
    connection_webhook_url,
)
from connections.models import Connection
from connectors.base import Check, Connector, ConnectorError
from connectors.registry import connector_class, validate_kind
from hrsync.people.models import Person

logger = logging.getLogger(__name__)

#: Options of a connection that ``connection_update`` accepts besides the
#: connector's own fields.
CONNECTION_OPTIONS = ("background_sync", "credential_notifications", "safeguard_percent", "safeguard_min", "enabled")


#: Background syncs more often than this would hammer the vendor's API.
MIN_SYNC_INTERVAL_HOURS = 0.25
#: A week: a connection that syncs less often than this is not in background sync.
MAX_SYNC_INTERVAL_HOURS = 168


# -- connections -------------------------------------------------------------


def connection_connector(*, connection: Connection) -> Connector:
    """The connection's connector, built with its settings and decrypted secrets."""
    cls = connector_class(connection.kind)
    return cls(config=connection.config, secrets=connection.secrets, field_map=connection.field_map)


def connection_custom_field_labels(*, connection: Connection | None) -> dict[str, str]:
    """The names ``connection`` gives its custom fields (a CSV file's column
    headers), for ``hrsync.people.labels.field_label``. Empty when its
    connector cannot be built (its integration was removed, its settings no
    longer load): a page that names fields must still open, and the keys
    still read as words."""
    if connection is None:
        return {}
    try:
        return dict(connection_connector(connection=connection).custom_field_labels())
    except Exception:  # noqa: BLE001 - any connector's failure; the labels are a nicety
        logger.warning("Could not read the custom field names of connection %s", connection.pk, exc_info=True)
        return {}


def _quoted(value: str) -> str:
    """A value the admin typed, short enough to repeat in a message."""
    return Truncator(str(value)).chars(40)


#: The longest status a status map keeps, as the HR system spells it.
MAX_VENDOR_STATUS_LENGTH = 100
#: The longest vendor attribute name a field map keeps.
MAX_VENDOR_ATTRIBUTE_LENGTH = 100
#: A vendor attribute: a name, or the dotted path of a nested one (contact.email).
_VENDOR_ATTRIBUTE = re.compile(r"[\w-]+(?:\.[\w-]+)*")


def vendor_status_clean(*, status: str) -> str:
    """A status map's key: the status as the HR system spells it, trimmed.
    The settings page and ``--set`` share this rule. Raises ValidationError."""
    status = str(status).strip()
    if not status:
        raise ValidationError("Enter the status as the HR system spells it.")
    if not status.isprintable():
        raise ValidationError("A status cannot contain line breaks, tabs or other invisible characters.")
    if len(status) > MAX_VENDOR_STATUS_LENGTH:
        raise ValidationError(f"A status in the HR system is at most {MAX_VENDOR_STATUS_LENGTH} characters.")
    return status


def field_map_entry_clean(*, connector: type[Connector], field: str, attribute: str) -> tuple[str, str]:
    """A field map's entry, trimmed: a field the connector reads by name
    (``Connector.field_map_fields``) → the vendor's attribute name for it.
    Raises ValidationError."""
    field, attribute = str(field).strip(), str(attribute).strip()
    if not connector.field_map_fields:
        raise ValidationError(f"{connector.label} does not read a field map.")
    # "custom.<key>" among the fields: any custom field may be mapped.
    custom = field.startswith("custom.") and field != "custom." and "custom.<key>" in connector.field_map_fields
    if field not in connector.field_map_fields and not custom:
        known = ", ".join(sorted(connector.field_map_fields))
        raise ValidationError(f"'{_quoted(field)}' is not a field {connector.label} can map. Use one of: {known}.")
    if len(attribute) > MAX_VENDOR_ATTRIBUTE_LENGTH:
        raise ValidationError(f"The vendor attribute name is at most {MAX_VENDOR_ATTRIBUTE_LENGTH} characters.")
    if not _VENDOR_ATTRIBUTE.fullmatch(attribute):
        raise ValidationError(
            "A vendor attribute name has only letters, digits, _ and -, with a dot between the "
            "parts of a nested name (such as contact.email)."
        )
    return field, attribute


def connection_options_apply(*, connection: Connection, options: Mapping[str, Any]) -> None:
    """Set typed options on ``connection`` (unsaved): ``CONNECTION_OPTIONS``
    (booleans and whole numbers) and ``sync_interval`` (a timedelta). The
    model's own validators check them when the connection is saved."""
    unknown = set(options) - {*CONNECTION_OPTIONS, "sync_interval"}
    if unknown:
        raise TypeError(f"Unknown connection option(s): {', '.join(sorted(unknown))}")
    for option in CONNECTION_OPTIONS:
        if option in options:
            setattr(connection, option, options[option])
    if "sync_interval" in options:
        interval: dt.timedelta = options["sync_interval"]
        hours = interval.total_seconds() / 3600
        if not MIN_SYNC_INTERVAL_HOURS <= hours <= MAX_SYNC_INTERVAL_HOURS:
            raise ValidationError(sync_interval_message(f"{hours:g}"))
        connection.sync_interval = interval


def sync_interval_message(typed: str) -> str:
    """What an interval outside the allowed range is answered with."""
    return (
        f"sync_interval_hours must be a number of hours from {MIN_SYNC_INTERVAL_HOURS} to "
        f"{MAX_SYNC_INTERVAL_HOURS}, not '{_quoted(typed)}'."
    )


def connection_status_map_apply(*, connection: Connection, status_map: Mapping[str, str]) -> None:
    """Merge ``status_map`` (vendor status → person status) into the
    connection's: each entry adds or replaces one status, the others stay."""
    merged = dict(connection.status_map)
    for raw_status, person_status in status_map.items():
        try:
            vendor_status = vendor_status_clean(status=raw_status)
        except ValidationError as exc:
            raise ValidationError(f"status_map.<status>: {' '.join(exc.messages)}") from None
        if person_status not in Person.Status.values:
            choices = ", ".join(Person.Status.values)
            raise ValidationError(f"'{_quoted(person_status)}' is not a person status. Use one of: {choices}.")
        merged[vendor_status] = person_status
    connection.status_map = merged


def connection_field_map_apply(*, connection: Connection, field_map: Mapping[str, str]) -> None:
    """Merge ``field_map`` (field → vendor attribute) into the connection's:
    an entry adds or replaces one field; a blank attribute removes it."""
    cls = connector_class(connection.kind)
    merged = dict(connection.field_map)
    for field_name, remote_name in field_map.items():
        remote_name = str(remote_name).strip()
        if not remote_name:
            # No rule for a removal: it also clears an entry saved before the rules.
            merged.pop(str(field_name).strip(), None)
            continue
        try:
            field_name, remote_name = field_map_entry_clean(connector=cls, field=field_name, attribute=remote_name)
        except ValidationError as exc:
            raise ValidationError(f"field_map.<field>: {' '.join(exc.messages)}") from None
        merged[field_name] = remote_name
    connection.field_map = merged


def connection_settings_apply(
    *, connection: Connection, config: Mapping[str, Any], secrets: Mapping[str, Any]
) -> None:
    """Validate the connector's settings with its form, bound once over the
    stored ones, and set them on ``connection`` (unsaved).

    ``config`` and ``secrets`` hold the form's field values (as its cleaned
    data holds them, or as an admin typed them); fields left out keep their
    stored value, and a blank secret keeps the stored one: it is never
    shown, so it cannot be typed again.
    """
    cls = connector_class(connection.kind)
    form_fields = cls.config_form.base_fields
    unknown = (set(config) | set(secrets)) - set(form_fields)
    if unknown:
        raise TypeError(f"{cls.label} has no setting(s) {', '.join(sorted(unknown))}")
    misplaced = (set(config) & set(cls.secret_fields)) | (set(secrets) - set(cls.secret_fields))
    if misplaced:
        raise TypeError(f"Pass secrets in secrets= and the rest in config=: {', '.join(sorted(misplaced))}")
    data = {
        name: connection.config.get(name, "" if field.initial is None else field.initial)
        for name, field in form_fields.items()
        if name not in cls.secret_fields
    }
    data.update(config)
    for name in cls.secret_fields:
        data[name] = secrets.get(name) or connection.secrets.get(name, "")
    form = cls.config_form(data=data)
    if not form.is_valid():
        errors = "; ".join(
            f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
            for name, messages in form.errors.items()
        )
        raise ValidationError(errors)
    cleaned = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    # What hrsync wrote itself, not the form (an API key's id and hash, the
    # webhook secret): saving the settings must not take them away.
    kept_config = {k: v for k, v in connection.config.items() if k == API_KEY_ID}
    kept_secrets = {k: v for k, v in connection.secrets.items() if k in (API_KEY_HASH, WEBHOOK_SECRET)}
    connection.config = {**kept_config, **{k: v for k, v in cleaned.items() if k not in cls.secret_fields}}
    connection.secrets = {**kept_secrets, **{k: v for k, v in cleaned.items() if k in cls.secret_fields}}


def _connection_apply(
    *,
    connection: Connection,
    options: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
    status_map: Mapping[str, str] | None,
    field_map: Mapping[str, str] | None,
    validate_settings: bool,
) -> None:
    if status_map:
        connection_status_map_apply(connection=connection, status_map=status_map)
    if field_map:
        connection_field_map_apply(connection=connection, field_map=field_map)
    if options:
        connection_options_apply(connection=connection, options=options)
    if validate_settings or config or secrets:
        connection_settings_apply(connection=connection, config=config or {}, secrets=secrets or {})
    connection.full_clean(exclude=["secrets"])


def connection_create(
    *,
    kind: str,
    name: str,
    options: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    status_map: Mapping[str, str] | None = None,
    field_map: Mapping[str, str] | None = None,
) -> Connection:
    """A new connection, saved. Its status map (and safeguard threshold,
    when the connector has its own) starts as the connector's defaults; the
    arguments are those of ``connection_update``. A connection that receives
    files gets an API key: ``connection.issued_api_key`` on the returned
    instance only (it is stored as a hash), for the caller to show once.
    One that receives webhooks gets a webhook secret, and carries
    ``issued_webhook_url``, the address to paste into the source."""
    connection = _connection_new(
        kind=kind, name=name, options=options, config=config, secrets=secrets,
        status_map=status_map, field_map=field_map,
    )
    connection.save()
    _webhook_url_issue(connection)
    return connection


def connection_create_tested(
    *,
    kind: str,
    name: str,
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    save_failing: bool,
) -> tuple[Connection | None, Check]:
    """"Save and test" of a new connection: test the settings first, and save
    the connection only when the test passes, or ``save_failing`` ("Save
    anyway"). Returns (the saved connection or None, the check). A refused
    first try leaves nothing behind: no row for a connection that never worked.
    Raises ValidationError like ``connection_create``; a saved connection
    that receives files carries ``issued_api_key`` as there, and one that
    receives webhooks ``issued_webhook_url``."""
    connection = _connection_new(kind=kind, name=name, config=config, secrets=secrets)
    check = _connection_try(connection=connection)
    if not (check.ok or save_failing):
        return None, check
    connection.save()
    _webhook_url_issue(connection)
    connection_record_health(connection=connection, ok=check.ok, message=check.message)
    return connection, check


def _connection_new(*, kind: str, name: str, **values: Any) -> Connection:
    validate_kind(kind)
    connection = Connection(kind=kind, name=name.strip())
    connection.full_clean(exclude=["secrets", "config"])
    cls = connector_class(kind)
    connection.status_map = dict(cls.default_status_map)
    if cls.default_safeguard_percent is not None:
        connection.safeguard_percent = cls.default_safeguard_percent  # options may still set it
    _connection_apply(connection=connection, validate_settings=True, **{
        key: values.get(key) for key in ("options", "config", "secrets", "status_map", "field_map")
    })
    if connection_kind_has_api_key(kind=kind):
        connection.issued_api_key = connection_api_key_assign(connection=connection)
    if connection_kind_has_webhooks(kind=kind):
        connection_webhook_secret_assign(connection=connection)
    return connection


def _webhook_url_issue(connection: Connection) -> None:
    # Once saved: the address names the connection by its uuid.
    if connection.secrets.get(WEBHOOK_SECRET):
        connection.issued_webhook_url = connection_webhook_url(connection=connection)


def connection_update(
    *,
    connection: Connection,
    options: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    status_map: Mapping[str, str] | None = None,
    field_map: Mapping[str, str] | None = None,
) -> Connection:
    """Change a connection's settings and save it. Raises ValidationError
    (nothing is saved; the instance may be half-changed: reload it).

    ``options``: typed connection options (``background_sync: bool``,
    ``safeguard_percent: int``, ``sync_interval: timedelta``, …;
    ``connection_options_apply``). ``config`` / ``secrets``: the connector
    form's field values (``connection_settings_apply``: validated by the
    form, bound once). ``status_map`` and ``field_map`` are MERGED into the
    stored maps entry by entry; a blank field-map attribute removes that
    entry. What is not given stays as it is.
    """
    _connection_apply(
        connection=connection, options=options, config=config, secrets=secrets,
        status_map=status_map, field_map=field_map, validate_settings=False,
    )
    _connection_save(connection=connection)
    return connection


def connection_update_tested(
    *,
    connection: Connection,
    options: Mapping[str, Any],
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    status_map: Mapping[str, str],
    field_map: Mapping[str, str] | None = None,
    save_failing: bool,
) -> tuple[bool, Check]:
    """"Save and test" on the Settings tab. When the connector's settings
    change, they are tested before they are saved, and a failing test saves
    nothing unless ``save_failing`` ("Save anyway"): working settings are not
    replaced by broken ones by accident. A changed ``field_map`` (merged like
    ``connection_update``'s) is a change of what the connector reads, so it
    is tested first too. Other changes (the schedule, the status map) are
    saved, then tested. Returns (saved, the check); when not saved the
    instance holds the refused values: reload it. Raises ValidationError
    like ``connection_update``."""
    stored = (dict(connection.config), dict(connection.secrets), dict(connection.field_map))
    _connection_apply(
        connection=connection, options=options, config=config, secrets=secrets,
        status_map=status_map, field_map=field_map, validate_settings=False,
    )
    if (connection.config, connection.secrets, connection.field_map) == stored:
        _connection_save(connection=connection)
        return True, connection_check(connection=connection)
    check = _connection_try(connection=connection)
    if not (check.ok or save_failing):
        return False, check
    _connection_save(connection=connection)
    connection_record_health(connection=connection, ok=check.ok, message=check.message)
    return True, check


def _connection_save(*, connection: Connection) -> None:
    if connection.background_sync and connection.next_sync_at is None:
        connection.next_sync_at = timezone.now()
    connection.save()


def connection_record_health(*, connection: Connection, ok: bool, message: str) -> None:
    # A queryset update: health is not part of what a plan depends on, so it
    # must not touch updated_at (the directory fingerprint reads it).
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(
        last_check_ok=ok, last_check_message=message, last_check_at=now
    )
    connection.last_check_ok, connection.last_check_message, connection.last_check_at = ok, message, now


def connection_check(*, connection: Connection) -> Check:
    """"Test connection": ask the connector, record the health on the row."""
    check = _connection_try(connection=connection)
    connection_record_health(connection=connection, ok=check.ok, message=check.message)
    return check


def _connection_try(*, connection: Connection) -> Check:
    """Ask the connector with the settings on the instance, saved or not; records nothing."""
    try:
        return connection_connector(connection=connection).check()
    except ConnectorError as exc:
        return Check(ok=False, message=exc.message)
    except Exception:
        logger.exception("Connection check crashed for connection %s", connection.pk)
        return Check(ok=False, message="The check failed unexpectedly; see the server log.")


def connection_find(*, id_or_name: str) -> Connection:
    """A connection by id or, failing that, by name (an id always wins)."""
    if str(id_or_name).isdigit():
        by_id = Connection.objects.filter(pk=int(id_or_name)).first()
        if by_id is not None:
            return by_id
    by_name = Connection.objects.filter(name=id_or_name).first()
    if by_name is None:
        raise Connection.DoesNotExist(f"No connection with id or name '{id_or_name}'.")
    return by_name
