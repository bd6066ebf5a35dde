"""What the CSV file connection's own pages do (Pin this key)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from connections.models import Connection
from connections.services import connection_connector, connection_update
from connectors.base import ConnectorError, HostKeyPinning


class HostKeyNotPinned(Exception):
    """Pinning was refused; the message says why and what to do."""


def host_key_pin(*, connection: Connection, fingerprint_shown: str) -> str:
    """Pin the server key the admin was shown, and only that one.

    The key is fetched again and pinned only when its fingerprint is the one
    the admin compared: a server that offers another key between Test and Pin
    is refused, never trusted silently. Returns the pinned key, as "ssh-ed25519
    key SHA256:…".
    """
    connector = connection_connector(connection=connection)
    try:
        offer = connector.host_key_fetch() if isinstance(connector, HostKeyPinning) else None
    except ConnectorError as exc:
        raise HostKeyNotPinned(f"Nothing was pinned: {exc.message}") from exc
    if offer is None:
        raise HostKeyNotPinned("Nothing was pinned: this connection has no host key to pin.")
    shown = fingerprint_shown.strip()
    if not shown or offer.fingerprint != shown:
        raise HostKeyNotPinned(
            f"Nothing was pinned: the server now offers the key {offer.fingerprint}, not the "
            f"{shown or 'one'} you were shown. A key that changes like this can mean someone is "
            "in the way: check with the server's administrator, then Test connection again."
        )
    try:
        with transaction.atomic():
            connection_update(connection=connection, config={offer.setting: offer.pin})
    except ValidationError as exc:
        raise HostKeyNotPinned(f"Nothing was pinned: {' '.join(exc.messages)}") from exc
    return f"{offer.key_type} key {offer.fingerprint}"
