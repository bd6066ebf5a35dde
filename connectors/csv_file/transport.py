"""Getting the file's bytes: one small function per scheme.

Each returns a context manager yielding a binary stream (``read(n)``) that
delivers the file as it arrives; leaving the context closes the connection,
also when the reader stops early (Test reads only the head of the file).
Every failure, also one part way through the download, is a ConnectorError.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

import requests

from connectors import http, outbound
from connectors.base import ConnectorError
from connectors.csv_file import ssh
from connectors.csv_file.settings import FileAddress, local_files_allowed, parse_uri
from connectors.csv_file.reader import IteratorStream

HTTP_CHUNK = 64 * 1024
_HTTP_MESSAGES = {
    401: "The web server rejected the username or password (401). Check them in the connection settings.",
    403: (
        "The web server refused access to {where} (403). Check the username and password, "
        "or ask the server's administrator to let this login read the file."
    ),
    404: "No file at {where} (404). Check the address in the connection settings.",
    410: "No file at {where} any more (410). Check the address in the connection settings.",
}


class _SafeFile:
    """A local file whose read errors are ConnectorErrors."""

    def __init__(self, handle: BinaryIO, where: str) -> None:
        self._handle, self._where = handle, where

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._handle.read(size)
        except OSError as exc:
            raise ConnectorError(
                f"Reading {self._where} failed ({exc.strerror or type(exc).__name__}).", permanent=False
            ) from None


@contextmanager
def open_local(address: FileAddress) -> Iterator[_SafeFile]:
    # Checked again here, not only when the setting was saved: the operator
    # may have turned local files off since.
    if not local_files_allowed():
        raise ConnectorError(
            "Local files (file://) are not allowed on this server; use an sftp:// or https:// "
            "address. (An operator can allow them with HRSYNC_ALLOW_LOCAL_FILES.)",
            permanent=True,
        )
    try:
        handle = open(address.path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise ConnectorError(f"No file at {address.path} on this server.", permanent=True) from None
    except IsADirectoryError:
        raise ConnectorError(f"{address.path} is a folder, not a file.", permanent=True) from None
    except PermissionError:
        raise ConnectorError(
            f"hrsync may not read {address.path} (permission denied).", permanent=True
        ) from None
    except OSError as exc:
        raise ConnectorError(
            f"Could not open {address.path} ({exc.strerror or type(exc).__name__}).", permanent=True
        ) from None
    with handle:
        yield _SafeFile(handle, address.path)


def _tls_reason(exc: BaseException) -> str:
    text = f"{exc!r} {exc.__context__!r}"
    match = re.search(r"certificate verify failed: ([^(\)'\"\\]+)", text)
    if match:
        return match.group(1).strip().rstrip(".")
    if "hostname" in text.lower() and "match" in text.lower():
        return "it is not for this host name"
    return "the TLS handshake failed"


@contextmanager
def open_https(
    address: FileAddress, *, username: str, password: str, ca_bundle: str, scrub: Callable[[str], str]
) -> Iterator[IteratorStream]:
    url = address.url
    where = http.safe_url(url)
    session = http.http_session(user_agent_suffix="csv_file")
    session.headers["Accept"] = "text/csv, text/plain;q=0.9, */*;q=0.5"
    if username or password:
        session.auth = (username, password)
    ca_path = None
    try:
        if ca_bundle:
            # requests verifies against a file: the connection's CA bundle,
            # written for this download only. (Certificates are not secret.)
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as ca_file:
                ca_file.write(ca_bundle)
                ca_path = ca_file.name
        try:
            response = session.get(url, stream=True, verify=ca_path or True)
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(
                f"The server's certificate is not trusted ({_tls_reason(exc)}), so hrsync did not "
                f"download from {http.safe_host(url)}. If the server uses a private or self-signed "
                "certificate, add its CA certificate under CA bundle in the connection settings.",
                permanent=True,
            ) from None
        except requests.RequestException as exc:
            raise http.unreachable_error(exc, url=url) from None
        try:
            http.raise_for_status(response, vendor="The web server", messages=_HTTP_MESSAGES, scrub=scrub)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type in {"text/html", "application/xhtml+xml"}:
                raise ConnectorError(
                    f"{where} sent a web page, not a CSV file. Check the address (does the server "
                    "want a login first?).",
                    permanent=True,
                )
            yield IteratorStream(_http_chunks(response, where))
        finally:
            response.close()
    finally:
        session.close()
        if ca_path:
            os.unlink(ca_path)


def _http_chunks(response: requests.Response, where: str) -> Iterator[bytes]:
    host = http.safe_host(response.url or "")
    try:
        for chunk in response.iter_content(chunk_size=HTTP_CHUNK):
            if outbound.deadline_passed():
                raise outbound.deadline_error(host)
            yield chunk
    except requests.RequestException as exc:
        raise outbound.deadline_or(ConnectorError(
            f"The download of {where} broke off part way ({type(exc).__name__}). "
            "hrsync will try again at the next sync.",
            permanent=False,
        ), where=host) from None


def open_stream(
    address: FileAddress,
    *,
    username: str,
    password: str,
    private_key: str,
    passphrase: str,
    host_key: str,
    ca_bundle: str,
    scrub: Callable[[str], str],
):
    """The context manager that reads ``address`` with these credentials.
    ``scrub`` (``Connector.scrub``) cleans the server's own words of secrets."""
    if address.scheme == "file":
        return open_local(address)
    if address.scheme in ("https", "http"):
        return open_https(address, username=username, password=password, ca_bundle=ca_bundle, scrub=scrub)
    if not username:
        raise ConnectorError(
            "The SFTP connection has no username. Enter it in the connection settings.", permanent=True
        )
    if not password and not private_key:
        raise ConnectorError(
            "The SFTP connection has no password or private key. Enter one in the connection settings.",
            permanent=True,
        )
    pkey = None
    if private_key:
        try:
            pkey = ssh.load_private_key(private_key, passphrase)
        except ssh.KeyProblem as exc:
            raise ConnectorError(f"{exc} (Connection settings → Private key.)", permanent=True) from None
    try:
        pin = ssh.parse_host_pin(host_key)
    except ValueError as exc:
        raise ConnectorError(f"The pinned host key in the settings is not valid: {exc}", permanent=True) from None
    login = ssh.SftpLogin(username=username, password=password, pkey=pkey)
    return ssh.open_sftp_file(address.host, address.port or 22, address.path, login, pin)


def sftp_fetch_host_key(uri: str) -> tuple[str, str]:
    """``(known_hosts line, "SHA256:…")`` of the key the SFTP server at
    ``uri`` offers, fetched without logging in and without trusting it: for
    the admin to compare with the server's real fingerprint, then pin
    (``host_key``)."""
    try:
        address = parse_uri(uri)
    except ValueError as exc:
        raise ConnectorError(str(exc), permanent=True) from None
    if address.scheme != "sftp":
        raise ConnectorError("Only an sftp:// address has a host key to pin.", permanent=True)
    port = address.port or 22
    key = ssh.fetch_host_key(address.host, port)
    return ssh.known_hosts_line(address.host, port, key), ssh.fingerprint(key)
