"""Inbound data: receive a file another system sends, and say how it is
going (DESIGN §1, "Inbound data is stored before it is processed").

``inbound_file_receive`` streams the bytes to storage, counting and hashing
them as they come, and refuses a file over its limit before reading the
rest. Once the row is committed, the connection's waiting files are
dispatched (``connections.sync.inbound``): a file that arrives during a run
waits its turn, and is never refused for it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import IO, Any

from django.core.files import File
from django.db import transaction
from django.urls import reverse

from connections.models import Connection, InboundFile

logger = logging.getLogger(__name__)

#: How much is read, hashed and written at a time.
CHUNK_SIZE = 64 * 1024
#: The content types of an XML file (parameters such as charset apart).
XML_CONTENT_TYPES = frozenset({"application/xml", "text/xml"})
#: The content type of a CSV file, which a connector may take as an employee file.
CSV_CONTENT_TYPE = "text/csv"
#: The extension a stored file gets, by its content type.
_EXTENSIONS = {"application/xml": ".xml", "text/xml": ".xml", "text/csv": ".csv", "application/json": ".json"}
_WHITESPACE = b" \t\r\n"
_UTF8_BOM = b"\xef\xbb\xbf"


class InboundRefused(Exception):
    """The data is refused as it arrives, and nothing is stored: ``status``
    is the HTTP status to answer (400, 413, 415 …), ``message`` says why in
    a sentence the sender can act on (never the data itself)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


def content_type_base(content_type: str) -> str:
    """``"application/xml"`` from ``"Application/XML; charset=utf-8"``."""
    return str(content_type or "").partition(";")[0].strip().lower()


def megabytes(size: int) -> str:
    """A byte limit in words ("50 MB"), as the connection's setting counts it."""
    value = size / (1024 * 1024)
    return f"{value:g} MB" if value >= 1 else f"{size:,} bytes"


def inbound_file_receive(
    *,
    connection: Connection,
    kind: str,
    stream: IO[bytes] | Iterable[bytes],
    content_type: str,
    max_bytes: int,
    received_from: str,
    original_name: str = "",
    user: Any = None,
    dry_run: bool = False,
    dispatch: bool = True,
    method: str = "",
) -> InboundFile:
    """Store the data read from ``stream`` (a file object, read in chunks,
    or an iterable of byte chunks) as a new ``InboundFile`` of ``kind``, and
    dispatch the connection's waiting files once it is committed
    (``dispatch``; off for a caller that processes the file itself, such as
    ``manage.py upload``). ``method``: a webhook's HTTP method.

    Raises InboundRefused: 413 as soon as more than ``max_bytes`` has been
    read (the rest is never read), 400 for an empty body or, for an XML
    content type, one that does not start with "<". Nothing is stored then.
    """
    if kind not in InboundFile.Kind.values:
        raise ValueError(f"Unknown inbound file kind {kind!r}")
    base_type = content_type_base(content_type)
    digest = hashlib.sha256()
    size = 0
    start = _FirstByte()
    with tempfile.TemporaryFile() as spool:
        for chunk in _chunks(stream):
            size += len(chunk)
            if size > max_bytes:
                raise InboundRefused(
                    f"The file is larger than this connection accepts ({megabytes(max_bytes)}). "
                    "Send a smaller file, or raise the connection's largest file setting.",
                    status=413,
                )
            if not start.byte:
                start.feed(chunk)
                if start.byte:  # a file that is not XML is refused before the rest is read
                    _refuse_unless_plausible(size=size, first_byte=start.byte, content_type=base_type)
            digest.update(chunk)
            spool.write(chunk)
        _refuse_unless_plausible(size=size, first_byte=start.end(), content_type=base_type)
        spool.seek(0)
        inbound = InboundFile(
            connection=connection,
            kind=kind,
            sha256=digest.hexdigest(),
            content_type=base_type[:100],
            size=size,
            original_name=_safe_name(original_name),
            received_from=str(received_from)[:200],
            uploaded_by=user,
            dry_run=dry_run,
            method=str(method or "")[:10],
        )
        name = f"{kind}-{connection.pk}-{secrets.token_hex(8)}{_EXTENSIONS.get(base_type, '.bin')}"
        with transaction.atomic():
            inbound.content.save(name, File(spool, name=name), save=False)
            try:
                inbound.save()
            except BaseException:
                inbound.content.delete(save=False)  # no bytes without their row
                raise
            if dispatch:
                connection_id = connection.pk
                transaction.on_commit(lambda: _dispatch(connection_id=connection_id), robust=True)
    logger.info(
        "Received %s file #%s for connection %s (%s bytes, %s)", kind, inbound.pk, connection.pk, size, received_from
    )
    return inbound


def _chunks(stream: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(stream, "read", None)
    if read is not None:
        while chunk := read(CHUNK_SIZE):
            yield chunk
        return
    for chunk in stream:
        if chunk:
            yield bytes(chunk)


class _FirstByte:
    """The first byte of the data that is not blank space, a UTF-8 byte
    order mark apart, fed chunk by chunk (a chunk may be a single byte)."""

    def __init__(self) -> None:
        self.byte = b""
        self._head = b""
        self._past_bom = False

    def feed(self, chunk: bytes) -> None:
        if self.byte:
            return
        if not self._past_bom:
            self._head += chunk
            if len(self._head) < len(_UTF8_BOM):
                return
            chunk, self._head, self._past_bom = self._head.removeprefix(_UTF8_BOM), b"", True
        self.byte = chunk.lstrip(_WHITESPACE)[:1]

    def end(self) -> bytes:
        """The first byte, once the data has ended: b"" for none."""
        if not self.byte and not self._past_bom:
            self.byte = self._head.lstrip(_WHITESPACE)[:1]
        return self.byte


def _refuse_unless_plausible(*, size: int, first_byte: bytes, content_type: str) -> None:
    if size == 0:
        raise InboundRefused("The file is empty. Send the whole file as the request's body.", status=400)
    if not first_byte:
        raise InboundRefused("The file holds only blank space. Send the whole file as the request's body.", status=400)
    if content_type in XML_CONTENT_TYPES and first_byte != b"<":
        raise InboundRefused(
            "The file is not XML: it does not start with '<'. Send a UTF-8 XML file, such as one "
            "that starts with <?xml version=\"1.0\" encoding=\"UTF-8\"?>.",
            status=400,
        )


def _safe_name(original_name: str) -> str:
    """The file's own name only (no folders), printable, as short as the column."""
    name = PurePosixPath(str(original_name or "").replace("\\", "/")).name
    return "".join(ch for ch in name if ch.isprintable())[:255]


def _dispatch(*, connection_id: int) -> None:
    # Imported here: the processing imports the runner, which the API does not need to load.
    from connections.sync.inbound import inbound_files_dispatch

    inbound_files_dispatch(connection_id=connection_id)


def inbound_file_status_url(*, inbound_file: InboundFile) -> str:
    """Where the sender reads how its file is going (the path, on this host)."""
    return reverse("api:upload", kwargs={"upload_id": inbound_file.pk})


def inbound_file_status(*, inbound_file: InboundFile) -> dict[str, Any]:
    """What the status resource answers: the file's status, its counts and
    per-line results ({"line", "employee_id", "message"} each), and why it
    failed when it did. Nothing about other files or people beyond these."""
    return {
        "upload_id": inbound_file.pk,
        "status": inbound_file.status,
        "status_url": inbound_file_status_url(inbound_file=inbound_file),
        "kind": inbound_file.kind,
        "dry_run": inbound_file.dry_run,
        "received_at": inbound_file.received_at.isoformat() if inbound_file.received_at else None,
        "finished_at": inbound_file.finished_at.isoformat() if inbound_file.finished_at else None,
        "size": inbound_file.size,
        "sha256": inbound_file.sha256,
        "counts": dict(inbound_file.counts or {}),
        "results": list(inbound_file.results or []),
        "error": inbound_file.error,
    }
