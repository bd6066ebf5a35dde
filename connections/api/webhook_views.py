"""The address a source's webhooks call: ``/hooks/<kind>/<connection uuid>/<secret>/``.

No session, no CSRF token: the caller is known by the connection's webhook
secret (``connections.api.webhooks``). A delivery is checked whole before
anything is stored (the connector must name the records it is about), then
stored and answered ``202``; a run re-reads those records later.

The address carries the secret, so no answer here is left to Django's
request log (which logs the path of every 4xx and 5xx): each is marked as
logged, and what is logged names the connection, never the address.
"""

from __future__ import annotations

import json
import logging
import uuid

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from connections.api.webhooks import (
    WEBHOOK_MAX_BYTES,
    connection_for_webhook,
    connection_kind_has_webhooks,
    webhook_delivery_receive,
)
from connections.inbound import megabytes
from connections.services import connection_connector
from connectors.base import ConnectorError, WebhookReceiver, WebhookRefused
from connectors.registry import connector_class

logger = logging.getLogger(__name__)


def _answer(status: int, payload: dict, **headers: str) -> JsonResponse:
    response = JsonResponse(payload, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    # Django's request log would write the path, and the path holds the secret.
    response._has_been_logged = True
    return response


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    return _answer(status, {"error": message}, **headers)


def _body(request: HttpRequest) -> bytes:
    """At most one byte more than a delivery may hold: enough to know it is too large."""
    raw = request.META.get("CONTENT_LENGTH")
    if raw not in (None, ""):
        return request.read(WEBHOOK_MAX_BYTES + 1)
    if request.META.get("wsgi.input_terminated"):
        return request.META["wsgi.input"].read(WEBHOOK_MAX_BYTES + 1)
    return b""


@csrf_exempt
def receive(request: HttpRequest, *, kind: str, connection_uuid: uuid.UUID, secret: str) -> HttpResponse:
    """A webhook delivery: a JSON object naming the records that changed,
    sent with one of the connector's ``webhook_methods``."""
    if not connection_kind_has_webhooks(kind=kind):
        return _error(
            404, "There are no webhooks at this address. Copy the address from the connection's Settings tab."
        )
    methods = tuple(connector_class(kind).webhook_methods)
    if request.method not in methods:
        return _error(405, f"Use {', '.join(methods)} here.", Allow=", ".join(methods))
    connection = connection_for_webhook(kind=kind, uuid=connection_uuid, secret=secret)
    if connection is None:
        return _error(
            401,
            "This webhook address is not valid: its connection does not exist or its secret was regenerated. "
            "Copy the current address from the connection's Settings tab in hrsync.",
        )
    if not connection.enabled:
        # Refused rather than kept: a disabled connection syncs nothing, and
        # the source's own log of deliveries shows what was missed.
        return _error(
            403,
            "This connection is disabled in hrsync, so it takes no webhooks. An admin can enable it on its Settings tab.",
        )
    try:
        connector = connection_connector(connection=connection)
    except (ConnectorError, ValidationError) as exc:
        message = exc.message if isinstance(exc, ConnectorError) else " ".join(exc.messages)
        return _error(503, f"This connection cannot take webhooks until an admin fixes its settings: {message}")
    if not isinstance(connector, WebhookReceiver):
        return _error(404, "There are no webhooks at this address.")

    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "The Content-Length header is not a number.")
    too_large = (
        f"A webhook delivery may hold at most {megabytes(WEBHOOK_MAX_BYTES)}: send only what names the record."
    )
    if length > WEBHOOK_MAX_BYTES:
        return _error(413, too_large, Connection="close")
    body = _body(request)
    if len(body) > WEBHOOK_MAX_BYTES:
        return _error(413, too_large, Connection="close")
    try:
        parsed = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return _error(400, "The body is not JSON. Send a JSON object naming the record that changed.")
    if not isinstance(parsed, dict):
        return _error(400, "The body must be a JSON object naming the record that changed.")
    try:
        targets = connector.webhook_targets(method=request.method, body=parsed)
    except WebhookRefused as exc:
        return _error(400, exc.message)
    if not targets:
        return _error(400, "The delivery names no record hrsync reads, so there is nothing to do.")

    try:
        inbound, _new = webhook_delivery_receive(
            connection=connection,
            method=request.method,
            body=body,
            targets=targets,
            received_from=f"webhook ({request.META.get('REMOTE_ADDR') or 'unknown address'})",
        )
    except Exception:
        logger.exception("Storing a webhook delivery for connection %s failed", connection.pk)
        return _error(500, "The delivery could not be stored because of a problem on our side. Send it again later.")
    return _answer(202, {"status": "scheduled", "id": inbound.pk})
