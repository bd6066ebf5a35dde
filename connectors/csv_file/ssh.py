"""SFTP with paramiko: private keys, pinned host keys, and the file stream.

hrsync never trusts a host key it has not been given. A connection pins
either known_hosts lines (added to the client's host keys, so paramiko
negotiates that key type and raises BadHostKeyException for any other key)
or a ``SHA256:`` fingerprint (checked by a RejectPolicy that accepts exactly
that key). Without a pin every connection is refused, and the refusal names
the key the server offered so that an admin can check it and pin it.

hrsync opens the TCP connection itself, through
:func:`connectors.outbound.socket_connect`, so the deployment's address rules
apply to the address actually connected to; inside a web page's
:func:`connectors.outbound.deadline` every timeout and retry fits in what is left.

Nothing here logs or puts in a message a password, a passphrase or key
material; messages name the host, port, path and user only.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import paramiko
from paramiko.ssh_exception import IncompatiblePeer, NoValidConnectionsError

from connectors import http, outbound
from connectors.base import ConnectorError
from connectors.csv_file.reader import IteratorStream

logger = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT = 15.0
AUTH_TIMEOUT = 30.0
READ_TIMEOUT = 60.0
CONNECT_ATTEMPTS = 3
#: Seconds before the second try of an unreachable server (doubling after).
CONNECT_BACKOFF = 2.0
#: SFTP reads: paramiko's largest request, and how much is asked for at once
#: (so a slow link is not one round trip per 32 KB, yet memory stays bounded).
READ_REQUEST = 32768
READ_WINDOW = 32 * READ_REQUEST

_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")
#: Host key algorithm families, for matching a fingerprint pin of any one of them.
_FAMILIES = {"ed25519": ("ssh-ed25519",), "ecdsa": ("ecdsa-sha2-",), "rsa": ("rsa-sha2-", "ssh-rsa")}


# -- private keys ------------------------------------------------------------------


class KeyProblem(ValueError):
    """A private key that cannot be used; the message never quotes the key."""

    def __init__(self, message: str, *, about_passphrase: bool = False) -> None:
        super().__init__(message)
        self.about_passphrase = about_passphrase


_ARMOUR = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_PEM_HEADERS = re.compile(
    r"Proc-Type:\s*4,ENCRYPTED\s*DEK-Info:\s*"
    r"(AES-(?:128|192|256)-CBC,[0-9A-Fa-f]{32}|DES-EDE3-CBC,[0-9A-Fa-f]{16})"
)
_UNREADABLE = (
    "The private key could not be read: paste the whole key, from -----BEGIN to -----END, "
    "in OpenSSH or PEM format (Ed25519, ECDSA or RSA)."
)


def normalise_private_key_text(text: str) -> str:
    """The key with its line breaks, even if they were lost on the way in.

    A password field drops the line breaks of a pasted key; the armour and
    base64 body are unambiguous enough to put them back.
    """
    text = str(text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    match = _ARMOUR.search(text)
    if not match:
        return text
    label, body = match.group(1), match.group(2).strip()
    if "\n" in body:
        return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"
    headers: list[str] = []
    pem_headers = _PEM_HEADERS.match(body)
    if pem_headers:
        headers = ["Proc-Type: 4,ENCRYPTED", f"DEK-Info: {pem_headers.group(1)}", ""]
        body = body[pem_headers.end():]
    b64 = re.sub(r"\s+", "", body)
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *headers, *lines, f"-----END {label}-----"]) + "\n"


def _try_classes(text: str, passphrase: str | None) -> tuple[paramiko.PKey | None, bool]:
    """(key, encrypted): the key if a class reads it; whether one said it needs a passphrase."""
    encrypted = False
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase), False
        except paramiko.PasswordRequiredException:
            encrypted = True
        except Exception:  # noqa: BLE001 - each class fails differently on another's key
            continue
    return None, encrypted


def _via_cryptography(text: str, passphrase: str) -> paramiko.PKey | None:
    """PEM flavours paramiko does not read itself (PKCS#8, encrypted PKCS#8)."""
    from cryptography.hazmat.primitives import serialization

    data = text.encode()
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode() or None)
    except TypeError:
        if not passphrase:
            raise KeyProblem("The private key is encrypted: enter its passphrase.", about_passphrase=True) from None
        try:  # a passphrase for a key that has none
            key = serialization.load_pem_private_key(data, password=None)
        except Exception:  # noqa: BLE001
            return None
    except ValueError:
        if passphrase and "ENCRYPTED" in text:
            raise KeyProblem("The passphrase does not unlock the private key.", about_passphrase=True) from None
        return None
    except Exception:  # noqa: BLE001 - unsupported key types and the like
        return None
    try:
        openssh = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode()
    except Exception:  # noqa: BLE001 - e.g. a DSA or X25519 key
        return None
    return _try_classes(openssh, None)[0]


def load_private_key(text: str, passphrase: str = "", *, passphrase_optional: bool = False) -> paramiko.PKey | None:
    """A paramiko key from OpenSSH or PEM text (Ed25519, ECDSA, RSA).

    Raises KeyProblem. With ``passphrase_optional`` an encrypted key without a
    passphrase returns None instead (the form cannot see a stored passphrase).
    """
    text = normalise_private_key_text(text)
    if "PuTTY-User-Key-File" in text:
        raise KeyProblem(
            "This is a PuTTY key (.ppk). Convert it with PuTTYgen (Conversions → Export OpenSSH key) "
            "and paste that."
        )
    if "-----BEGIN" not in text or "PRIVATE KEY" not in text:
        if "ssh-" in text or "ecdsa-" in text:
            raise KeyProblem("This is a public key; paste the private key (-----BEGIN … PRIVATE KEY-----).")
        raise KeyProblem(_UNREADABLE)
    key, encrypted = _try_classes(text, None)
    if key is not None:
        return key
    if encrypted:
        if not passphrase:
            if passphrase_optional:
                return None
            raise KeyProblem("The private key is encrypted: enter its passphrase.", about_passphrase=True)
        key, _ = _try_classes(text, passphrase)
        if key is None:
            raise KeyProblem("The passphrase does not unlock the private key.", about_passphrase=True)
        return key
    try:
        key = _via_cryptography(text, passphrase)
    except KeyProblem as exc:
        if exc.about_passphrase and passphrase_optional and not passphrase:
            return None
        raise
    if key is None:
        raise KeyProblem(_UNREADABLE)
    return key


# -- host keys ---------------------------------------------------------------------


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:…`` as ``ssh-keygen -l`` prints it."""
    return key.fingerprint


@dataclass(frozen=True, slots=True)
class HostPin:
    keys: tuple[paramiko.PKey, ...] = ()
    fingerprint: str = ""

    def __bool__(self) -> bool:
        return bool(self.keys or self.fingerprint)

    def expected(self) -> str:
        return self.fingerprint or ", ".join(fingerprint(key) for key in self.keys)


_SHA256 = re.compile(r"(?i)sha256:([A-Za-z0-9+/]{43})=?")


def parse_host_pin(text: str) -> HostPin:
    """A pin from known_hosts line(s) or a SHA256 fingerprint. Raises ValueError."""
    text = str(text or "").strip()
    if not text:
        return HostPin()
    match = _SHA256.fullmatch(text)
    if match:
        return HostPin(fingerprint=f"SHA256:{match.group(1)}")
    if text.lower().startswith("md5:") or re.fullmatch(r"(?i)([0-9a-f]{2}:){15}[0-9a-f]{2}", text):
        raise ValueError(
            "That is an MD5 fingerprint; pin the SHA256 one (ssh-keygen -lf key.pub prints it) "
            "or a known_hosts line."
        )
    keys: list[paramiko.PKey] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue  # ssh-keyscan prints comment lines
        if line.startswith("@"):
            raise ValueError(
                "@cert-authority and @revoked lines cannot be pinned; pin the server's own key."
            )
        tokens = line.split()
        position = next((i for i, token in enumerate(tokens) if token in HOST_KEY_TYPES), None)
        if position is None or position + 1 >= len(tokens):
            raise ValueError(
                "Enter the server's host key as a known_hosts line (host ssh-ed25519 AAAA…) "
                "or its SHA256:… fingerprint."
            )
        key_type, blob = tokens[position], tokens[position + 1]
        try:
            data = base64.b64decode(blob, validate=True)
            key = paramiko.PKey.from_type_string(key_type, data)
            if key.asbytes() != data:  # paramiko pads a short key rather than refusing it
                raise ValueError
        except Exception:  # noqa: BLE001 - a damaged or truncated key
            raise ValueError(f"The {key_type} key in the pinned host key is damaged or cut short.") from None
        keys.append(key)
    if not keys:
        raise ValueError(
            "Enter the server's host key as a known_hosts line (host ssh-ed25519 AAAA…) "
            "or its SHA256:… fingerprint."
        )
    return HostPin(keys=tuple(keys))


def normalise_host_pin(text: str) -> str:
    """The pin as stored: ``SHA256:…``, or ``type base64`` lines (the host
    name of a pasted line is dropped: the pin belongs to this connection's host)."""
    pin = parse_host_pin(text)
    if pin.fingerprint:
        return pin.fingerprint
    return "\n".join(f"{key.get_name()} {key.get_base64()}" for key in pin.keys)


def hostkey_name(host: str, port: int) -> str:
    """The name paramiko (and known_hosts) files a host's keys under."""
    return host if port == 22 else f"[{host}]:{port}"


def known_hosts_line(host: str, port: int, key: paramiko.PKey) -> str:
    return f"{hostkey_name(host, port)} {key.get_name()} {key.get_base64()}"


# -- connecting --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SftpLogin:
    username: str
    password: str = ""
    pkey: paramiko.PKey | None = None

    def __repr__(self) -> str:  # never show the password, even in a traceback's locals
        return f"SftpLogin(username={self.username!r})"


class _Refused(paramiko.SSHException):
    """The server offered a key that is not pinned."""

    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__("host key not pinned")
        self.key = key


class PinnedKeyPolicy(paramiko.RejectPolicy):
    """RejectPolicy that accepts exactly one key: the pinned SHA256 fingerprint."""

    def __init__(self, pinned_fingerprint: str = "") -> None:
        self.pinned_fingerprint = pinned_fingerprint

    def missing_host_key(self, client, hostname, key) -> None:
        if self.pinned_fingerprint and fingerprint(key) == self.pinned_fingerprint:
            return
        raise _Refused(key)


class _Transient(Exception):
    def __init__(self, error: ConnectorError) -> None:
        self.error = error


def _unreachable(exc: BaseException, host_port: str) -> ConnectorError:
    if isinstance(exc, socket.gaierror):
        why = "the host name could not be found. Check the address in the connection settings"
    elif isinstance(exc, NoValidConnectionsError | ConnectionRefusedError):
        why = "the connection was refused. Check the host and port"
    elif isinstance(exc, TimeoutError | socket.timeout):
        why = "the connection timed out"
    elif isinstance(exc, EOFError) or (
        isinstance(exc, paramiko.SSHException) and "banner" in str(exc).lower()
    ):
        why = "it did not answer as an SSH server. Check the port"
    else:
        why = f"the connection failed ({type(exc).__name__})"
    return ConnectorError(
        f"Could not reach {host_port}: {why}. hrsync will try again at the next sync.", permanent=False
    )


def _mismatch(expected: str, offered: str) -> ConnectorError:
    return ConnectorError(
        f"The SFTP server's host key has changed: expected {expected}, offered {offered}. "
        "If the server was rebuilt, pin the new key.",
        permanent=True,
    )


def _not_pinned(host_port: str, key: paramiko.PKey) -> ConnectorError:
    return ConnectorError(
        f"The SFTP server's host key is not pinned yet, so hrsync did not log in. {host_port} offered "
        f"the {key.get_name()} key {fingerprint(key)}. Check this fingerprint with the server's "
        "administrator, then pin it (Pin this key, or set host_key).",
        permanent=True,
    )


#: Where paramiko's transport logs while hrsync asks the server for another
#: kind of host key: a child of paramiko's own channel, so its levels apply.
KEY_TYPE_RETRY_LOG = "paramiko.transport.key_type_retry"


class _ExpectedIncompatiblePeer(logging.Filter):
    """Drops paramiko's report of a key type the server does not have.

    The transport thread logs the refusal at ERROR, its traceback one line
    per record, before ``connect()`` raises it; during the key-type retry the
    refusal is expected and handled. A filter runs in the thread that logs,
    inside paramiko's ``except`` block, so the exception being handled says
    which records report it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not isinstance(sys.exc_info()[1], IncompatiblePeer)


logging.getLogger(KEY_TYPE_RETRY_LOG).addFilter(_ExpectedIncompatiblePeer())


def _connect_once(host: str, port: int, login: SftpLogin, pin: HostPin, disabled_keys: list[str] | None):
    client = paramiko.SSHClient()
    if disabled_keys:  # only the key-type retry narrows the key types
        client.set_log_channel(KEY_TYPE_RETRY_LOG)
    client.set_missing_host_key_policy(PinnedKeyPolicy(pin.fingerprint))
    for key in pin.keys:
        client.get_host_keys().add(hostkey_name(host, port), key.get_name(), key)
    try:
        client.connect(
            hostname=host,
            port=port,
            username=login.username,
            password=login.password or None,
            pkey=login.pkey,
            look_for_keys=False,
            allow_agent=False,
            # Opened here, not by paramiko, so that the address rules apply.
            sock=outbound.socket_connect((host, port), timeout=outbound.within_deadline(CONNECT_TIMEOUT)),
            banner_timeout=outbound.within_deadline(CONNECT_TIMEOUT),
            auth_timeout=outbound.within_deadline(AUTH_TIMEOUT),
            channel_timeout=outbound.within_deadline(READ_TIMEOUT),
            disabled_algorithms={"keys": disabled_keys} if disabled_keys else None,
        )
    except BaseException:
        client.close()
        raise
    return client


def _family(key_name: str) -> str | None:
    for family, prefixes in _FAMILIES.items():
        if key_name.startswith(prefixes):
            return family
    return None


def _connect_classified(host: str, port: int, login: SftpLogin, pin: HostPin) -> paramiko.SSHClient:
    host_port = f"{host}:{port}"
    try:
        try:
            return _connect_once(host, port, login, pin, None)
        except _Refused as refused:
            if not pin.fingerprint:
                raise _not_pinned(host_port, refused.key) from None
            # The fingerprint may be of another of the server's keys (say its
            # RSA key, while paramiko negotiated Ed25519): ask for each kind.
            offered = fingerprint(refused.key)
            tried = {_family(refused.key.get_name())}
            for family, prefixes in _FAMILIES.items():
                if family in tried:
                    continue
                disabled = [k for k in paramiko.Transport._preferred_keys if not k.startswith(prefixes)]
                try:
                    return _connect_once(host, port, login, pin, disabled)
                except _Refused:
                    continue
                except IncompatiblePeer:
                    logger.debug("%s has no %s host key", host_port, family)
                    continue
            raise _mismatch(pin.fingerprint, offered) from None
    except ConnectorError:
        raise
    except paramiko.BadHostKeyException as exc:
        raise _mismatch(fingerprint(exc.expected_key), fingerprint(exc.key)) from None
    except paramiko.AuthenticationException:
        raise ConnectorError(
            "The SFTP server rejected the username, password or key. "
            "Check them in the connection settings.",
            permanent=True,
        ) from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise _Transient(_unreachable(exc, host_port)) from None


def sftp_connect(host: str, port: int, login: SftpLogin, pin: HostPin) -> paramiko.SSHClient:
    """A logged-in client, or a ConnectorError an admin can act on.

    Unreachable servers are tried ``CONNECT_ATTEMPTS`` times with backoff
    (within a web page's deadline); host key and login failures are
    permanent and not retried.
    """
    return _retried(lambda: _connect_classified(host, port, login, pin), host_port=f"{host}:{port}")


def _retried(attempt_once: Callable[[], T], *, host_port: str) -> T:
    """``attempt_once()``, tried up to ``CONNECT_ATTEMPTS`` times while it
    fails in a way that may clear up (it raises :class:`_Transient`), waiting
    ``CONNECT_BACKOFF``, then twice as long… between tries, and never past a
    web page's deadline."""
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return attempt_once()
        except _Transient as transient:
            delay = http.backoff_delay(attempt, base=CONNECT_BACKOFF)
            if attempt >= CONNECT_ATTEMPTS or not outbound.deadline_allows(delay):
                raise outbound.deadline_or(transient.error, where=host_port) from None
            logger.info("SFTP %s unreachable; retrying in %.0f s", host_port, delay)
            http.backoff_sleep(delay)
    raise AssertionError("unreachable")


@contextmanager
def open_sftp_file(host: str, port: int, path: str, login: SftpLogin, pin: HostPin) -> Iterator[IteratorStream]:
    """The remote file as a binary stream, read in bounded windows."""
    client = sftp_connect(host, port, login, pin)
    where = f"{path} on {host}"
    try:
        try:
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(outbound.within_deadline(READ_TIMEOUT))
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise outbound.deadline_or(ConnectorError(
                f"{host}:{port} accepted the login but did not start SFTP ({type(exc).__name__}). "
                "Check that the account may use SFTP.",
                permanent=True,
            ), where=f"{host}:{port}") from None
        try:
            attrs = sftp.stat(path)
            if stat.S_ISDIR(attrs.st_mode or 0):
                raise ConnectorError(f"{path} on {host} is a folder, not a file.", permanent=True)
            handle = sftp.open(path, "rb")
        except FileNotFoundError:
            raise ConnectorError(f"No file at {path} on {host}.", permanent=True) from None
        except PermissionError:
            raise ConnectorError(
                f"The SFTP account may not read {path} on {host} (permission denied). "
                "Ask the server's administrator to let it read the file.",
                permanent=True,
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise outbound.deadline_or(ConnectorError(
                f"Could not open {where} ({type(exc).__name__}). hrsync will try again at the next sync.",
                permanent=False,
            ), where=f"{host}:{port}") from None
        with handle:
            yield IteratorStream(_sftp_chunks(handle, attrs, where, host_port=f"{host}:{port}"))
    finally:
        client.close()


def _sftp_chunks(
    handle: paramiko.SFTPFile, attrs: paramiko.SFTPAttributes, where: str, *, host_port: str
) -> Iterator[bytes]:
    size = attrs.st_size or 0
    offset = 0
    try:
        while offset < size:
            end = min(size, offset + READ_WINDOW)
            window = [(o, min(READ_REQUEST, end - o)) for o in range(offset, end, READ_REQUEST)]
            for data in handle.readv(window):
                if not data:
                    break
                offset += len(data)
                yield data
            else:
                continue
            break
        after = handle.stat()
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise outbound.deadline_or(ConnectorError(
            f"The SFTP download of {where} broke off part way ({type(exc).__name__}). "
            "hrsync will try again at the next sync.",
            permanent=False,
        ), where=host_port) from None
    if offset < size or after.st_size != attrs.st_size or after.st_mtime != attrs.st_mtime:
        raise ConnectorError(
            f"{where} changed while hrsync was reading it (it is probably being written). "
            "hrsync will try again at the next sync.",
            permanent=False,
        )


def fetch_host_key(host: str, port: int) -> paramiko.PKey:
    """The key the server offers, without logging in or trusting it."""
    host_port = f"{host}:{port}"

    def offered_key() -> paramiko.PKey:
        transport = None
        try:
            sock = outbound.socket_connect((host, port), timeout=outbound.within_deadline(CONNECT_TIMEOUT))
            transport = paramiko.Transport(sock)
            transport.banner_timeout = outbound.within_deadline(CONNECT_TIMEOUT)
            transport.start_client(timeout=outbound.within_deadline(CONNECT_TIMEOUT))
            return transport.get_remote_server_key()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise _Transient(_unreachable(exc, host_port)) from None
        finally:
            if transport is not None:
                transport.close()

    return _retried(offered_key, host_port=host_port)
