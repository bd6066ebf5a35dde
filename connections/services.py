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

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import Truncator

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


# -- connections -------------------------------------------------------------


def connection_connector(*, connection: Connection) -> Connector:
    """The connection's connector, built with its settings and decrypted secrets."""
    cls = connector_class(connection.kind)
    return cls(config=connection.config, secrets=connection.secrets, field_map=connection.field_map)


def _parse_bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValidationError(f"'{_quoted(value)}' is not yes/no (use true or false).")


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
    if field not in connector.field_map_fields:
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


def connection_apply_values(*, connection: Connection, values: Mapping[str, str]) -> None:
    """Validate KEY=VALUE settings and set them on ``connection`` (unsaved).

    Keys are the connector form's fields (secret ones are stored encrypted),
    the connection options, ``status_map.<Vendor status>`` and
    ``field_map.<person field>``. A blank secret keeps the stored one.
    """
    cls = connector_class(connection.kind)
    values = dict(values)
    for key in [k for k in values if k.startswith("status_map.")]:
        person_status = values.pop(key)
        try:
            vendor_status = vendor_status_clean(status=key.removeprefix("status_map."))
        except ValidationError as exc:
            raise ValidationError(f"status_map.<status>: {' '.join(exc.messages)}") from None
        if person_status not in Person.Status.values:
            choices = ", ".join(Person.Status.values)
            raise ValidationError(f"'{_quoted(person_status)}' is not a person status. Use one of: {choices}.")
        connection.status_map = {**connection.status_map, vendor_status: person_status}
    for key in [k for k in values if k.startswith("field_map.")]:
        field_name, remote_name = key.removeprefix("field_map."), values.pop(key).strip()
        field_map = {**connection.field_map}
        if remote_name:
            try:
                field_name, remote_name = field_map_entry_clean(
                    connector=cls, field=field_name, attribute=remote_name
                )
            except ValidationError as exc:
                raise ValidationError(f"field_map.<field>: {' '.join(exc.messages)}") from None
            field_map[field_name] = remote_name
        else:
            # No rule for a removal: it also clears an entry saved before the rules.
            field_map.pop(field_name.strip(), None)
        connection.field_map = field_map
    for option in CONNECTION_OPTIONS:
        if option in values:
            raw = values.pop(option)
            if option.startswith("safeguard_"):
                try:
                    setattr(connection, option, int(raw))
                except ValueError as exc:
                    raise ValidationError(f"{option} must be a whole number.") from exc
            else:
                setattr(connection, option, _parse_bool(raw))
    if "sync_interval_hours" in values:
        raw = values.pop("sync_interval_hours")
        try:
            hours = float(raw)
        except ValueError:
            hours = 0
        if not MIN_SYNC_INTERVAL_HOURS <= hours <= 24 * 7:
            raise ValidationError(
                f"sync_interval_hours must be a number of hours from {MIN_SYNC_INTERVAL_HOURS} to 168, "
                f"not '{_quoted(raw)}'."
            )
        connection.sync_interval = dt.timedelta(hours=hours)

    form_fields = cls.config_form.base_fields
    unknown = sorted(set(values) - set(form_fields))
    if unknown:
        known = ", ".join([*form_fields, *CONNECTION_OPTIONS, "status_map.<status>", "field_map.<field>"])
        raise ValidationError(f"Unknown setting(s) {', '.join(unknown)}. Known: {known}.")
    current = {**connection.config}
    data = {
        name: current.get(name, "" if field.initial is None else field.initial)
        for name, field in form_fields.items()
        if name not in cls.secret_fields
    }
    data.update({k: v for k, v in values.items()})
    for name in cls.secret_fields:
        # Blank means "keep the stored secret": it is never shown, so it can't be re-typed.
        if not data.get(name):
            data[name] = connection.secrets.get(name, "")
    form = cls.config_form(data=data)
    if not form.is_valid():
        errors = "; ".join(
            f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
            for name, messages in form.errors.items()
        )
        raise ValidationError(errors)
    cleaned = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    connection.config = {k: v for k, v in cleaned.items() if k not in cls.secret_fields}
    connection.secrets = {k: v for k, v in cleaned.items() if k in cls.secret_fields}
    connection.full_clean(exclude=["secrets"])


def connection_create(*, kind: str, name: str, values: Mapping[str, str] | None = None) -> Connection:
    validate_kind(kind)
    connection = Connection(kind=kind, name=name.strip())
    connection.full_clean(exclude=["secrets", "config"])
    connection.status_map = dict(connector_class(kind).default_status_map)
    connection_apply_values(connection=connection, values=values or {})
    connection.save()
    return connection


def connection_update(*, connection: Connection, values: Mapping[str, str]) -> Connection:
    connection_apply_values(connection=connection, values=values)
    if connection.background_sync and connection.next_sync_at is None:
        connection.next_sync_at = timezone.now()
    connection.save()
    return connection


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
    try:
        check = connection_connector(connection=connection).check()
    except ConnectorError as exc:
        check = Check(ok=False, message=exc.message)
    except Exception:
        logger.exception("Connection check crashed for connection %s", connection.pk)
        check = Check(ok=False, message="The check failed unexpectedly; see the server log.")
    connection_record_health(connection=connection, ok=check.ok, message=check.message)
    return check


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
