"""Who is calling the REST API: a connection's API key, sent as the password
of HTTP Basic authentication with the username ``api-key`` (``keys``).

The services here issue a connection's key and find the connection a key
belongs to; the views only parse the header and answer.
"""

from __future__ import annotations

import base64
import binascii

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from connections.api.keys import API_KEY_HASH, API_KEY_ID, api_key_generate, api_key_id, api_key_matches
from connections.models import Connection
from connectors.base import Uploadable
from connectors.registry import connector_class


def connection_kind_has_api_key(*, kind: str) -> bool:
    """Whether connections of ``kind`` receive files, and so have an API key."""
    try:
        return issubclass(connector_class(kind), Uploadable)
    except ValidationError:  # a kind that is not enabled in this deployment
        return False


def connection_api_key_assign(*, connection: Connection) -> str:
    """Give ``connection`` (saved or not; this does not save it) a new API
    key, replacing any it had, and return the key: the only time it can be
    read. The old key stops working as soon as the connection is saved."""
    issued = api_key_generate()
    connection.config = {**connection.config, API_KEY_ID: issued.key_id}
    connection.secrets = {**connection.secrets, API_KEY_HASH: issued.stored_hash}
    return issued.key


def connection_api_key_regenerate(*, connection: Connection) -> str:
    """"Regenerate key": a new key for ``connection``, saved at once, so the
    old one is refused from now on. Returns the new key (shown once).
    Raises ValidationError for a connection whose kind has no API key."""
    if not connection_kind_has_api_key(kind=connection.kind):
        raise ValidationError(
            f"{connection.name} ({connection.kind_label}) does not receive files, so it has no API key."
        )
    key = connection_api_key_assign(connection=connection)
    connection.save(update_fields=["config", "secrets", "updated_at"])
    return key


def connection_for_api_key(*, key: str) -> Connection | None:
    """The connection whose API key ``key`` is, or None. The key's id finds
    the one candidate; its hash is compared in constant time."""
    key_id = api_key_id(key)
    if not key_id:
        return None
    connection = Connection.objects.filter(**{f"config__{API_KEY_ID}": key_id}).first()
    if connection is None:
        return None
    if not api_key_matches(key=key, stored_hash=str(connection.secrets.get(API_KEY_HASH) or "")):
        return None
    return connection


def basic_auth_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """(username, password) from the request's ``Authorization: Basic``
    header, or None when there is none or it does not decode."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    return username, password
