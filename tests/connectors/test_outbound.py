"""connectors.outbound: the addresses a deployed hrsync refuses to connect to.

Every test here runs in deployed mode (``EMBEDDED`` False) unless it says
otherwise. A real listener on this machine's loopback counts every
connection made to it, and no test sends a packet beyond the loopback: the
``outside`` fixture refuses (and records) any other connection attempt.
"""

from __future__ import annotations

import http.server
import ipaddress
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from connections import services
from connections.models import Connection
from connectors import http as hrsync_http
from connectors.base import ConnectorError
from connectors.outbound import OutboundRefused, outbound_policy

PASSWORD = "Outbound-Pw-5tG7-unmistakable"
SHA256_PIN = "SHA256:" + "Q" * 43

# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def deployed(settings):
    settings.EMBEDDED = False
    settings.DEBUG = False
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = False
    settings.HRSYNC_OUTBOUND_PRIVATE = "allow"
    settings.HRSYNC_OUTBOUND_ALLOW = []
    return settings


def _is_this_machine(host: str) -> bool:
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@pytest.fixture(autouse=True)
def outside(monkeypatch) -> list[str]:
    """Addresses beyond the loopback that something tried to connect to
    (each refused here, so nothing leaves this machine)."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_this_machine(address[0]):
            attempts.append(address[0])
            raise ConnectionRefusedError(111, "Connection refused (outside the test machine)")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


class Listener:
    """A TCP port on 127.0.0.1 and ::1 that counts connections and closes each."""

    def __init__(self) -> None:
        self.accepted = 0
        self._stop = threading.Event()
        for _ in range(20):
            first = socket.create_server(("127.0.0.1", 0))
            self.port = first.getsockname()[1]
            try:
                second = socket.create_server(("::1", self.port), family=socket.AF_INET6)
            except OSError:
                first.close()
                continue
            self._sockets = [first, second]
            break
        else:
            raise RuntimeError("no port free on both 127.0.0.1 and ::1")
        for sock in self._sockets:
            sock.settimeout(0.1)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def resolve(monkeypatch):
    """resolve(name, address): the resolver answers ``address`` for ``name``."""
    names: dict[str, str] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
        if host in names:
            address = ipaddress.ip_address(names[host])
            af = socket.AF_INET if address.version == 4 else socket.AF_INET6
            sockaddr = (str(address), int(port)) if address.version == 4 else (str(address), int(port), 0, 0)
            return [(af, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        return real_getaddrinfo(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names.__setitem__


# -- the three kinds of outbound connection ------------------------------------------


def actionhrm(host: str, port: int) -> Connection:
    return services.connection_create(kind="actionhrm", name="ActionHRM",
        config={"base_url": f"https://{host}:{port}", "username": "api-user"},
        secrets={"password": PASSWORD},
    )


def csv_https(host: str, port: int) -> Connection:
    return services.connection_create(kind="csv_file", name="CSV over HTTPS",
        config={"uri": f"https://{host}:{port}/exports/staff.csv", "username": "csvuser"},
        secrets={"password": PASSWORD},
    )


def csv_sftp(host: str, port: int) -> Connection:
    return services.connection_create(kind="csv_file", name="CSV over SFTP",
        config={"uri": f"sftp://{host}:{port}/exports/staff.csv", "username": "hrsync", "host_key": SHA256_PIN},
        secrets={"password": PASSWORD},
    )


CONNECTIONS = [pytest.param(actionhrm, id="actionhrm"), pytest.param(csv_https, id="csv-https"),
               pytest.param(csv_sftp, id="csv-sftp")]


def checked(connection: Connection) -> Connection:
    services.connection_check(connection=connection)
    return Connection.objects.get(pk=connection.pk)


def refusal(named: str, reason: str) -> str:
    return f"hrsync does not connect to {named}: it is an internal address ({reason})."


# -- refused -------------------------------------------------------------------------


SPELLINGS = [
    pytest.param("127.0.0.1", "127.0.0.1", "loopback", id="127.0.0.1"),
    pytest.param("[::1]", "::1", "loopback", id="ipv6-loopback"),
    pytest.param("0.0.0.0", "0.0.0.0", "unspecified", id="0.0.0.0"),
    pytest.param("2130706433", "2130706433 (127.0.0.1)", "loopback", id="decimal"),
    pytest.param("127.1", "127.1 (127.0.0.1)", "loopback", id="short"),
    pytest.param("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "loopback", id="ipv4-mapped"),
    pytest.param("169.254.169.254", "169.254.169.254", "link-local", id="metadata"),
    pytest.param("224.0.0.1", "224.0.0.1", "multicast", id="multicast"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("make", CONNECTIONS)
@pytest.mark.parametrize(("host", "named", "reason"), SPELLINGS)
def test_every_spelling_of_an_internal_address_is_refused_before_connecting(
    make, host, named, reason, listener, outside
):
    saved = checked(make(host, listener.port))

    assert saved.last_check_ok is False
    assert saved.last_check_message.startswith(refusal(named, reason))
    assert "HRSYNC_OUTBOUND_ALLOW" in saved.last_check_message
    assert PASSWORD not in saved.last_check_message
    assert listener.accepted == 0
    assert outside == []


@pytest.mark.django_db
@pytest.mark.parametrize("make", CONNECTIONS)
def test_a_host_name_that_resolves_to_the_loopback_is_refused(make, listener, resolve):
    resolve("hr.example.com", "127.0.0.1")

    saved = checked(make("hr.example.com", listener.port))

    assert saved.last_check_message.startswith(refusal("hr.example.com (127.0.0.1)", "loopback"))
    assert listener.accepted == 0


@pytest.mark.django_db
def test_localhost_is_refused(listener):
    saved = checked(actionhrm("localhost", listener.port))

    assert saved.last_check_message.startswith("hrsync does not connect to localhost (")
    assert "it is an internal address (loopback)." in saved.last_check_message
    assert listener.accepted == 0


@pytest.mark.django_db
@pytest.mark.parametrize("make", CONNECTIONS)
def test_the_refusal_is_the_same_whether_or_not_anything_listens(make, listener):
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()

    listening = checked(make("127.0.0.1", listener.port))
    Connection.objects.all().delete()
    nothing = checked(make("127.0.0.1", closed_port))

    assert listening.last_check_message == nothing.last_check_message
    assert listening.last_check_message.startswith(refusal("127.0.0.1", "loopback"))


# -- private ranges and exceptions ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("make", CONNECTIONS)
def test_a_private_address_is_reached_by_default(make, resolve, outside):
    resolve("hr.internal.example", "10.20.30.40")

    saved = checked(make("hr.internal.example", 8443))

    assert "10.20.30.40" in outside  # hrsync tried it (the test machine refused it)
    assert "internal address" not in saved.last_check_message


@pytest.mark.django_db
@pytest.mark.parametrize("make", CONNECTIONS)
@pytest.mark.parametrize("address", ["10.20.30.40", "172.16.5.4", "192.168.1.10", "100.64.0.7", "fd12:3456::1"])
def test_a_private_address_is_refused_when_private_ranges_are_denied(make, address, resolve, outside, settings):
    settings.HRSYNC_OUTBOUND_PRIVATE = "deny"
    resolve("hr.internal.example", address)

    saved = checked(make("hr.internal.example", 8443))

    assert saved.last_check_message.startswith(refusal(f"hr.internal.example ({address})", "private network"))
    assert outside == []


@pytest.mark.django_db
@pytest.mark.parametrize("make", CONNECTIONS)
@pytest.mark.parametrize(
    ("host", "allow"),
    [("127.0.0.1", "127.0.0.1"), ("127.0.0.1", "127.0.0.0/8"), ("localhost", "LOCALHOST"), ("[::1]", "::1")],
)
def test_an_address_or_host_the_operator_allows_is_reached(make, host, allow, listener, settings):
    settings.HRSYNC_OUTBOUND_ALLOW = [allow]

    saved = checked(make(host, listener.port))

    assert listener.accepted >= 1
    assert "internal address" not in saved.last_check_message


@pytest.mark.django_db
@pytest.mark.parametrize("make", CONNECTIONS)
def test_the_embedded_mode_reaches_the_loopback(make, listener, settings):
    settings.EMBEDDED = True

    saved = checked(make("127.0.0.1", listener.port))

    assert listener.accepted >= 1
    assert "internal address" not in saved.last_check_message


@pytest.mark.django_db
@pytest.mark.parametrize("make", CONNECTIONS)
def test_insecure_loopback_lifts_only_the_loopback_refusal(make, listener, resolve, settings):
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True
    resolve("metadata.example", "169.254.169.254")

    reached = checked(make("127.0.0.1", listener.port))
    Connection.objects.all().delete()
    refused = checked(make("metadata.example", 80))

    assert listener.accepted >= 1
    assert "internal address" not in reached.last_check_message
    assert refused.last_check_message.startswith(refusal("metadata.example (169.254.169.254)", "link-local"))


def test_the_rules_follow_the_settings(settings):
    assert outbound_policy().refusal("hr.internal.example", "10.1.2.3") is None
    settings.HRSYNC_OUTBOUND_PRIVATE = "deny"
    assert outbound_policy().refusal("hr.internal.example", "10.1.2.3") == "private network"
    settings.HRSYNC_OUTBOUND_ALLOW = ["10.1.0.0/16"]
    assert outbound_policy().refusal("hr.internal.example", "10.1.2.3") is None
    assert outbound_policy().refusal("hr.internal.example", "10.2.0.1") == "private network"
    assert outbound_policy().refusal("hr.example.com", "203.0.113.9") is None


# -- redirects -----------------------------------------------------------------------


class _Redirecting(http.server.BaseHTTPRequestHandler):
    location = ""

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):  # noqa: N802
        self.send_response(302)
        self.send_header("Location", self.location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_redirect_to_an_internal_address_is_refused(settings):
    settings.HRSYNC_OUTBOUND_ALLOW = ["127.0.0.1"]  # the first server is allowed, 127.0.0.2 is not
    inner = socket.create_server(("127.0.0.2", 0))
    inner.setblocking(False)
    handler = type("Handler", (_Redirecting,), {"location": f"http://127.0.0.2:{inner.getsockname()[1]}/"})
    outer = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=outer.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ConnectorError) as caught:
            session = hrsync_http.http_session(timeout=(2.0, 2.0), max_attempts=1)
            session.get(f"http://127.0.0.1:{outer.server_address[1]}/staff.csv")
        with pytest.raises(BlockingIOError):
            inner.accept()  # nothing connected to it
    finally:
        outer.shutdown()
        outer.server_close()
        inner.close()
    assert isinstance(caught.value, OutboundRefused)
    assert caught.value.message.startswith(refusal("127.0.0.2", "loopback"))
    assert caught.value.permanent


def test_a_mistyped_allow_list_stops_hrsync_at_start_up_saying_which_entry(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HRSYNC_", "DATABASE_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SECRET_KEY": "start-up-check-" + "k" * 40,
        "HRSYNC_ENCRYPTION_KEY": "a" * 43 + "=",
        "HRSYNC_VAR_DIR": str(tmp_path),
        "HRSYNC_OUTBOUND_ALLOW": "10.2.0.0/16,10.0.0.0/33",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: HRSYNC_OUTBOUND_ALLOW: '10.0.0.0/33' is neither "
        "a network (such as 10.2.0.0/16) nor a host name."
    )
    env["HRSYNC_OUTBOUND_ALLOW"] = "10.2.0.0/16,files.internal.example.com"
    fixed = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert fixed.returncode == 0, fixed.stderr
