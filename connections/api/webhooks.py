"""Webhooks: how a source that notifies hrsync of changes
(``connectors.base.WebhookReceiver``) is known, and how its deliveries are
kept until they are processed.

A connection of such a kind has its own webhook secret, a random string
kept in its encrypted ``secrets`` under ``WEBHOOK_SECRET``. The source
calls ``/hooks/<kind>/<connection uuid>/<secret>/``: sources whose
deliveries are not signed have no other way, so the secret rides in the
address. Unlike an API key, it is kept (not hashed), because the admin must
be able to read the whole address again on the Settings tab to paste it
into the source; it appears on no other page, and never in a log, a report
or an exception's message.

A delivery is stored as an ``InboundFile`` of kind "webhook" and processed
by a run of its own (``connections.sync.webhooks``), in its turn with the
connection's other inbound data.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid as uuid_module
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from connections.inbound import inbound_file_receive
from connections.models import Connection, InboundFile
from connectors.base import WebhookReceiver, WebhookTarget
from connectors.registry import connector_class

#: The ``secrets`` entry holding the connection's webhook secret. hrsync
#: writes it; saving the settings keeps it.
WEBHOOK_SECRET = "webhook_secret"
#: The largest delivery taken: a delivery names records, it does not carry them.
WEBHOOK_MAX_BYTES = 64 * 1024
#: How many deliveries the Settings tab lists.
DELIVERIES_SHOWN = 10
#: A target's stream, in the words of the deliveries' list.
_STREAM_WORDS = {"employees": "Person", "training": "Training record"}


def connection_kind_has_webhooks(*, kind: str) -> bool:
    """Whether connections of ``kind`` receive webhooks, and so have a webhook secret."""
    try:
        return issubclass(connector_class(kind), WebhookReceiver)
    except ValidationError:  # a kind that is not enabled in this deployment
        return False


def connection_webhook_secret_assign(*, connection: Connection) -> str:
    """Give ``connection`` (saved or not; this does not save it) a new
    webhook secret, replacing any it had, and return it. The old address
    stops working as soon as the connection is saved."""
    secret = secrets.token_urlsafe(32)
    connection.secrets = {**connection.secrets, WEBHOOK_SECRET: secret}
    return secret


def connection_webhook_secret_regenerate(*, connection: Connection) -> str:
    """"Regenerate webhook secret": a new secret for ``connection``, saved at
    once, so the old address is refused from now on. Returns the new
    secret. Raises ValidationError for a connection whose kind has no webhooks."""
    if not connection_kind_has_webhooks(kind=connection.kind):
        raise ValidationError(
            f"{connection.name} ({connection.kind_label}) does not receive webhooks, so it has no webhook address."
        )
    secret = connection_webhook_secret_assign(connection=connection)
    connection.save(update_fields=["secrets", "updated_at"])
    return secret


def connection_webhook_url(*, connection: Connection) -> str:
    """The whole address the source calls, secret included: for the
    Settings tab and the command line only. "" when the connection has no
    secret (its kind receives no webhooks)."""
    secret = str(connection.secrets.get(WEBHOOK_SECRET) or "")
    if not secret:
        return ""
    path = reverse(
        "hooks:receive", kwargs={"kind": connection.kind, "connection_uuid": connection.uuid, "secret": secret}
    )
    return f"{settings.HRSYNC_BASE_URL}{path}"


def connection_for_webhook(*, kind: str, uuid: uuid_module.UUID | str, secret: str) -> Connection | None:
    """The connection of ``kind`` and ``uuid`` whose webhook secret is
    ``secret``, or None: an unknown connection and a wrong secret look the
    same to the caller. The secret is compared in constant time."""
    connection = Connection.objects.filter(kind=kind, uuid=uuid).first()
    stored = str(connection.secrets.get(WEBHOOK_SECRET) or "") if connection is not None else ""
    # Compared even when there is nothing to compare with, so that the time
    # taken says nothing of whether the connection exists.
    matches = hmac.compare_digest(
        (stored or "-" * 43).encode("utf-8"), str(secret or "").encode("utf-8", "surrogateescape")
    )
    if connection is None or not stored or not matches:
        return None
    return connection


def webhook_delivery_describe(*, targets: Sequence[WebhookTarget]) -> str:
    """What a delivery names, in the deliveries' list: "Person jasmit"."""
    return ", ".join(f"{_STREAM_WORDS.get(t.stream, t.stream)} {t.remote_id}" for t in targets)


def webhook_delivery_receive(
    *, connection: Connection, method: str, body: bytes, targets: Sequence[WebhookTarget], received_from: str
) -> tuple[InboundFile, bool]:
    """Store a delivery already checked (``targets`` are what the connector
    read from it) as a waiting ``InboundFile`` of kind "webhook", processed
    in its turn once committed. Returns (the file, whether it is new).

    The same delivery twice is processed once: while an identical one (same
    method, same bytes) of the connection still waits, that one is returned
    and nothing is stored. One that arrives after the first has started is
    a new event, and is stored."""
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        # Two identical deliveries arriving together take turns here.
        Connection.objects.select_for_update().filter(pk=connection.pk).exists()
        waiting = (
            InboundFile.objects.filter(
                connection=connection,
                kind=InboundFile.Kind.WEBHOOK,
                method=method,
                sha256=digest,
                status__in=InboundFile.WAITING_STATUSES,
            )
            .order_by("pk")
            .first()
        )
        if waiting is not None:
            return waiting, False
        inbound = inbound_file_receive(
            connection=connection,
            kind=InboundFile.Kind.WEBHOOK,
            stream=[body],
            content_type="application/json",
            max_bytes=WEBHOOK_MAX_BYTES,
            received_from=received_from,
            method=method,
        )
        # Not a file's name: what the delivery names, kept for the list of
        # deliveries (it outlives the purged body).
        inbound.original_name = webhook_delivery_describe(targets=targets)[:255]
        InboundFile.objects.filter(pk=inbound.pk).update(original_name=inbound.original_name)
    return inbound, True


def webhook_deliveries_list(*, connection: Connection, limit: int = DELIVERIES_SHOWN) -> list[dict[str, Any]]:
    """The connection's latest deliveries, newest first: {"id",
    "received_at", "method", "names" (what the delivery names), "status",
    "status_label", "error", "run_id"} each."""
    deliveries = InboundFile.objects.filter(connection=connection, kind=InboundFile.Kind.WEBHOOK).only(
        "id", "received_at", "method", "original_name", "status", "error", "run_id"
    )[:limit]
    return [
        {
            "id": delivery.pk,
            "received_at": delivery.received_at,
            "method": delivery.method,
            "names": delivery.original_name,
            "status": delivery.status,
            "status_label": delivery.get_status_display(),
            "error": delivery.error,
            "run_id": delivery.run_id,
        }
        for delivery in deliveries
    ]
