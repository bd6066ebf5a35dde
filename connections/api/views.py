"""The REST endpoints a customer's systems call (``/api/v2/hrdatasync/…``).

No session, no CSRF token: a caller is a connection, by its API key
(``auth``). Every answer is JSON (the schemas apart, which are XML), and bad
input is answered with its 4xx and a sentence that says what to change,
never with an HTML page or a 500. A file is read in chunks and refused
while it streams in when it is over the connection's limit.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, ValidationError
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from connections.api.auth import basic_auth_credentials, connection_for_api_key
from connections.api.keys import API_KEY_USERNAME
from connections.inbound import (
    CSV_CONTENT_TYPE,
    XML_CONTENT_TYPES,
    InboundRefused,
    content_type_base,
    inbound_file_receive,
    inbound_file_status,
    megabytes,
)
from connections.models import Connection, InboundFile
from connections.services import connection_connector
from connectors.base import ConnectorError, Uploadable

try:  # Django 5.x names the limit on the number of files it parses
    from django.core.exceptions import TooManyFilesSent
except ImportError:  # pragma: no cover - older Django
    TooManyFilesSent = TooManyFieldsSent

logger = logging.getLogger(__name__)

#: Room in a multipart body for the boundaries and part headers around the
#: file, beyond the file's own limit, before Content-Length alone refuses it.
MULTIPART_OVERHEAD = 64 * 1024
#: The multipart field the file is sent in.
FILE_FIELD = "file"
#: Part types a client sends for a file it did not label (curl -F file=@staff).
_UNLABELLED = frozenset({"", "application/octet-stream"})
#: Part types a browser or client gives a file named *.csv (Windows says Excel).
_CSV_PART_TYPES = frozenset({*_UNLABELLED, CSV_CONTENT_TYPE, "application/csv", "application/vnd.ms-excel"})
_KIND_WORDS = {InboundFile.Kind.EMPLOYEE: "employee files", InboundFile.Kind.POSITION: "position files"}


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _not_allowed(allowed: tuple[str, ...]) -> JsonResponse:
    return _error(405, f"Use {' or '.join(allowed)} here.", Allow=", ".join(allowed))


def _unauthorised(message: str) -> JsonResponse:
    return _error(401, message, WWW_Authenticate='Basic realm="hrsync", charset="UTF-8"')


def _caller(request: HttpRequest) -> Connection | JsonResponse:
    """The connection whose API key the request carries, or the 401 to answer."""
    credentials = basic_auth_credentials(request)
    if credentials is None:
        return _unauthorised(
            f"Send the connection's API key with HTTP Basic authentication: the username {API_KEY_USERNAME} "
            "and the key as the password."
        )
    username, key = credentials
    if username != API_KEY_USERNAME:
        return _unauthorised(f"The username must be {API_KEY_USERNAME}, with the connection's API key as the password.")
    connection = connection_for_api_key(key=key)
    if connection is None:
        return _unauthorised(
            "The API key is not valid. Use the key shown when the connection was created or its key "
            "was last regenerated (an admin can regenerate it on the connection's Settings tab)."
        )
    return connection


# -- the schemas ------------------------------------------------------------------


@csrf_exempt
def schema(request: HttpRequest, *, kind: str) -> HttpResponse:
    """The XSD of employee or position files: public, so that a customer can
    check a file before sending it."""
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(("GET",))
    from connectors.xml_upload.parsing import xsd_path  # loads lxml; only this endpoint needs it

    try:
        handle = open(xsd_path(kind), "rb")  # noqa: SIM115 - FileResponse closes it
    except OSError:
        logger.exception("The %s schema file cannot be read", kind)
        return _error(404, "The schema is not available on this server.")
    response = FileResponse(handle, content_type="application/xml; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


# -- uploads --------------------------------------------------------------------


class _LimitedUploadHandler(TemporaryFileUploadHandler):
    """Multipart file parts to a temporary file, refused past ``max_bytes``
    in all: the parser stops there and reads no more of the body."""

    def __init__(self, request: HttpRequest, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0
        self.refused = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.refused = True
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)


def _too_large(max_bytes: int) -> JsonResponse:
    # The rest of the body is not read: the client should not reuse the connection.
    return _error(
        413,
        f"The file is larger than this connection accepts ({megabytes(max_bytes)}). Send a smaller file, "
        "or ask an admin to raise the connection's largest file setting.",
        Connection="close",
    )


def _content_length(request: HttpRequest) -> int | None:
    """The declared length of the body; None when there is none. Raises
    InboundRefused for one that is not a number."""
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        length = int(raw)
    except (TypeError, ValueError):
        raise InboundRefused("The Content-Length header is not a number.", status=400) from None
    if length < 0:
        raise InboundRefused("The Content-Length header is not a number.", status=400)
    return length


@csrf_exempt
def upload(request: HttpRequest, *, kind: str) -> HttpResponse:
    """POST an employee or position file: stored, then answered 202 with
    where to read how it goes; processed in the background."""
    if request.method != "POST":
        return _not_allowed(("POST",))
    caller = _caller(request)
    if isinstance(caller, JsonResponse):
        return caller
    connection = caller
    try:
        connector = connection_connector(connection=connection)
        accepts = isinstance(connector, Uploadable) and kind in connector.upload_kinds
        max_bytes = connector.max_upload_bytes if accepts else 0
    except (ConnectorError, ValidationError) as exc:
        message = exc.message if isinstance(exc, ConnectorError) else " ".join(exc.messages)
        return _error(503, f"This connection cannot receive files until an admin fixes it: {message}")
    if not accepts:
        return _error(404, f"This connection does not accept {_KIND_WORDS.get(kind, 'these files')}.")
    if not connection.enabled:
        return _error(403, "This connection is disabled. An admin can enable it on its Settings tab.")
    try:
        inbound = _receive(request, connection=connection, kind=kind, max_bytes=max_bytes)
    except InboundRefused as exc:
        if exc.status == 413:
            return _too_large(max_bytes)
        return _error(exc.status, exc.message)
    except Exception:
        logger.exception("Storing an uploaded %s file for connection %s failed", kind, connection.pk)
        return _error(500, "The file could not be stored because of a problem on our side. Try again later.")
    status = inbound_file_status(inbound_file=inbound)
    response = JsonResponse(
        {name: status[name] for name in ("upload_id", "status", "status_url")}, status=202
    )
    response["Location"] = status["status_url"]
    return response


def _type_refusal(content_type: str, *, kind: str) -> InboundRefused | None:
    """Why a file of ``content_type`` is refused for ``kind``, or None: XML
    for both kinds, CSV for employee files only."""
    if content_type in XML_CONTENT_TYPES or (content_type == CSV_CONTENT_TYPE and kind == InboundFile.Kind.EMPLOYEE):
        return None
    if content_type == CSV_CONTENT_TYPE:
        return InboundRefused(
            "A position file is XML (Content-Type: application/xml): only an employee file can be sent as CSV.",
            status=415,
        )
    formats = "an XML body (Content-Type: application/xml)"
    if kind == InboundFile.Kind.EMPLOYEE:
        formats += " or a CSV body (Content-Type: text/csv)"
    return InboundRefused(
        f"Send the file as {formats}, or as the multipart form field '{FILE_FIELD}'"
        + (f", not {content_type[:80]}." if content_type else "; the request has no Content-Type."),
        status=415,
    )


def _receive(request: HttpRequest, *, connection: Connection, kind: str, max_bytes: int) -> InboundFile:
    content_type = content_type_base(request.META.get("CONTENT_TYPE", ""))
    multipart = content_type == "multipart/form-data"
    if not multipart and (refusal := _type_refusal(content_type, kind=kind)) is not None:
        raise refusal
    length = _content_length(request)
    if length is not None and length > max_bytes + (MULTIPART_OVERHEAD if multipart else 0):
        raise InboundRefused("over the limit", status=413)
    received_from = f"API ({request.META.get('REMOTE_ADDR') or 'unknown address'})"
    common: dict[str, Any] = {
        "connection": connection, "kind": kind, "max_bytes": max_bytes, "received_from": received_from,
    }
    if multipart:
        return _receive_multipart(request, length=length, **common)
    if length is None:
        # No Content-Length: only a server that ends the body itself (a
        # chunked upload behind gunicorn) says where it stops.
        if not request.META.get("wsgi.input_terminated"):
            raise InboundRefused("Send the request with a Content-Length header.", status=411)
        stream: Any = request.META["wsgi.input"]
    else:
        stream = request  # reads at most Content-Length bytes
    return inbound_file_receive(stream=stream, content_type=content_type, **common)


def _receive_multipart(request: HttpRequest, *, length: int | None, **common: Any) -> InboundFile:
    if length is None:
        raise InboundRefused("Send the request with a Content-Length header.", status=411)
    handler = _LimitedUploadHandler(request, max_bytes=common["max_bytes"])
    request.upload_handlers = [handler]
    try:
        files = request.FILES
    except RequestDataTooBig:
        raise InboundRefused("over the limit", status=413) from None
    except (TooManyFieldsSent, TooManyFilesSent):
        raise InboundRefused(f"Send one file, in the multipart form field '{FILE_FIELD}'.", status=400) from None
    except (MultiPartParserError, SuspiciousOperation) as exc:
        logger.info("Refused a malformed multipart upload: %s", exc)
        raise InboundRefused(
            f"The multipart body could not be read. Send the file in the form field '{FILE_FIELD}'.", status=400
        ) from None
    if handler.refused:
        raise InboundRefused("over the limit", status=413)
    uploaded = files.get(FILE_FIELD)
    if uploaded is None:
        raise InboundRefused(f"Send the file in the multipart form field '{FILE_FIELD}'.", status=400)
    part_type = content_type_base(uploaded.content_type or "")
    if part_type in _CSV_PART_TYPES and (uploaded.name or "").lower().endswith(".csv"):
        part_type = CSV_CONTENT_TYPE
    elif part_type in _UNLABELLED:
        part_type = "application/xml"  # the bytes are checked for XML all the same
    if (refusal := _type_refusal(part_type, kind=common["kind"])) is not None:
        raise refusal
    with uploaded:
        return inbound_file_receive(
            stream=uploaded, content_type=part_type, original_name=uploaded.name or "", **common
        )


# -- the status of an upload ------------------------------------------------------


@csrf_exempt
def upload_status(request: HttpRequest, upload_id: int) -> HttpResponse:
    """How an upload is going: its status, counts and per-line results. Only
    the connection that sent it can read it."""
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(("GET",))
    caller = _caller(request)
    if isinstance(caller, JsonResponse):
        return caller
    inbound = InboundFile.objects.filter(pk=upload_id, connection=caller).first()
    if inbound is None:
        return _error(404, f"This connection has no upload {upload_id}.")
    return JsonResponse(inbound_file_status(inbound_file=inbound))


@csrf_exempt
def not_found(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """Any other address under the API: a JSON 404, not the site's page."""
    return _error(
        404,
        "There is nothing at this address. The endpoints are employee, position, uploads/<id>, "
        "employees.xsd and positions.xsd.",
    )
