"""Where hrsync may connect, and how long a web page may wait for it.

**Addresses.** Every outbound connection (HTTP through :mod:`connectors.http`,
SFTP through :mod:`connectors.csv_file.ssh`) opens its socket with
:func:`socket_connect`. It resolves the host, checks every address against
the rules below *before* connecting, connects only to an address it checked,
and checks the address the socket is then connected to. Checking resolved
addresses at connect time, rather than the host name when the settings are
saved, is what stops DNS rebinding and spellings such as ``2130706433``,
``127.1`` or ``[::ffff:127.0.0.1]``.

In deployed mode (``settings.EMBEDDED`` False):

* loopback, link-local (the cloud metadata address 169.254.169.254 among
  them), unspecified and multicast addresses are refused, IPv4 and IPv6
  alike; an IPv4-mapped IPv6 address counts as its IPv4 address. In
  development and tests, :func:`connectors.http.insecure_loopback_allowed`
  lifts the loopback refusal (stand-in servers on 127.0.0.1);
* private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are
  allowed, so a self-hosted hrsync reaches the HR system beside it, unless
  ``HRSYNC_OUTBOUND_PRIVATE`` is ``deny`` (shared deployments);
* ``HRSYNC_OUTBOUND_ALLOW`` lists exceptions: networks (``10.2.0.0/16``,
  ``127.0.0.1``) or host names (``files.internal.example.com``).

The embedded mode (one machine, trying hrsync out) connects anywhere.

A refusal is a permanent :class:`OutboundRefused` raised before any packet
is sent, in the same words whatever listens at the address: the answer to
"Test connection" tells nobody what runs inside the network.

**Deadline.** A web request must not wait on a vendor for longer than the
web worker lets it live. A page that checks a connection runs the check
inside :func:`deadline`; the HTTP session and the SFTP client shrink their
timeouts to what is left, retry only while time is left, and raise
:func:`deadline_error` when it has run out. Syncs in the worker set no
deadline and keep the full timeouts and retries.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from connectors.base import ConnectorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


#: Never reached in deployed mode (loopback only with insecure_loopback_allowed()).
_INTERNAL: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    ("loopback", _networks("127.0.0.0/8", "::1/128")),
    ("link-local", _networks("169.254.0.0/16", "fe80::/10")),
    # 0.0.0.0/8 is "this host": connecting to 0.0.0.0 reaches the loopback.
    ("unspecified", _networks("0.0.0.0/8", "::/128")),
    ("multicast", _networks("224.0.0.0/4", "ff00::/8")),
)
#: Reached unless HRSYNC_OUTBOUND_PRIVATE=deny.
_PRIVATE = _networks(
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fec0::/10"
)
_SETTINGS_READ = frozenset({
    "EMBEDDED", "DEBUG", "HRSYNC_ALLOW_INSECURE_LOOPBACK", "HRSYNC_OUTBOUND_PRIVATE", "HRSYNC_OUTBOUND_ALLOW",
})


class OutboundRefused(ConnectorError):
    """A connection to an address the rules refuse; nothing was sent."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        named = host if _same_address(host, address) else f"{host} ({address})"
        super().__init__(
            f"hrsync does not connect to {named}: it is an internal address ({reason}). "
            "Check the address in the connection settings; if this server really is the one to use, "
            "ask the person who runs hrsync to allow it (HRSYNC_OUTBOUND_ALLOW).",
            permanent=True,
        )


def _same_address(host: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) == ipaddress.ip_address(address)
    except ValueError:
        return False


def _address_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells without a DNS lookup: ``127.0.0.1``,
    ``[::1]``, and the old forms the resolver also accepts (``127.1``,
    ``2130706433``, ``0x7f.1``); None for a host name."""
    text = host.strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_LOCAL_ADDRESSES = frozenset({ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")})


def is_local_host(host: str) -> bool:
    """Whether ``host`` is how a stand-in server on this machine is
    addressed: ``localhost``, or 127.0.0.1 or ::1 in any spelling (no DNS).
    The connector forms accept plain http for exactly these when
    :func:`connectors.http.insecure_loopback_allowed`."""
    if _host_key(host) == "localhost":
        return True
    address = _address_literal(host)
    return address is not None and _unmapped(address) in _LOCAL_ADDRESSES


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """The address rules of this deployment (see the module docstring)."""

    enforced: bool
    loopback_allowed: bool = False
    private_allowed: bool = True
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()

    def refusal(self, host: str, address: str) -> str | None:
        """Why hrsync may not connect to ``address`` (resolved from
        ``host``): "loopback", "private network"…; None when it may."""
        if not self.enforced or _host_key(host) in self.allowed_hosts:
            return None
        ip = _unmapped(ipaddress.ip_address(address.split("%", 1)[0]))
        if any(ip in network for network in self.allowed_networks if network.version == ip.version):
            return None
        for reason, networks in _INTERNAL:
            if any(ip in network for network in networks if network.version == ip.version):
                return None if reason == "loopback" and self.loopback_allowed else reason
        if not self.private_allowed and any(ip in n for n in _PRIVATE if n.version == ip.version):
            return "private network"
        return None

    def check(self, host: str, address: str) -> None:
        reason = self.refusal(host, address)
        if reason is not None:
            raise OutboundRefused(host, address, reason)


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _parse_allow(entries: Sequence[str]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
        except ValueError:
            if "/" in text or not all(part for part in _host_key(text).split(".")):
                raise ImproperlyConfigured(
                    f"HRSYNC_OUTBOUND_ALLOW: {text!r} is neither a network (such as 10.2.0.0/16) "
                    "nor a host name."
                ) from None
            hosts.add(_host_key(text))
    return tuple(networks), frozenset(hosts)


@functools.cache
def outbound_policy() -> OutboundPolicy:
    """The rules, read from the settings once (again after a setting changes)."""
    from connectors.http import insecure_loopback_allowed

    if getattr(settings, "EMBEDDED", False):
        return OutboundPolicy(enforced=False)
    private = str(getattr(settings, "HRSYNC_OUTBOUND_PRIVATE", "allow")).strip().lower()
    if private not in {"allow", "deny"}:
        raise ImproperlyConfigured("HRSYNC_OUTBOUND_PRIVATE must be allow or deny.")
    networks, hosts = _parse_allow(getattr(settings, "HRSYNC_OUTBOUND_ALLOW", ()) or ())
    return OutboundPolicy(
        enforced=True,
        loopback_allowed=insecure_loopback_allowed(),
        private_allowed=private == "allow",
        allowed_networks=networks,
        allowed_hosts=hosts,
    )


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting in _SETTINGS_READ:
        outbound_policy.cache_clear()


def socket_connect(
    address: tuple[str, int],
    *,
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    socket_options: Sequence[tuple] | None = None,
) -> socket.socket:
    """A TCP socket connected to ``(host, port)``, under the address rules.

    Like ``socket.create_connection``: each resolved address is tried in
    turn and the last OSError is raised when none answers. Raises
    OutboundRefused, before connecting anywhere, when any address the host
    resolves to is refused.
    """
    host, port = address
    host = host.strip("[]")
    policy = outbound_policy()
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    for *_, sockaddr in infos:
        policy.check(host, sockaddr[0])
    error: OSError = OSError(f"{host} resolves to no address")
    for family, kind, proto, _name, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            policy.check(host, sock.getpeername()[0])
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error


# -- the deadline of a web request ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Deadline:
    seconds: float  # as configured, for the message
    ends_at: float  # time.monotonic()
    then: str  # the sentence after "… so the check stopped."


_deadline: ContextVar[Deadline | None] = ContextVar("hrsync_outbound_deadline", default=None)
#: Shorter than this is no time at all (a zero timeout would make a socket non-blocking).
_MIN_WAIT = 0.05


@contextmanager
def deadline(*, seconds: float, then: str) -> Iterator[Deadline]:
    """Every outbound wait inside the block ends ``seconds`` from now.

    ``then`` says what happens next, for the message. Nested inside another
    deadline, the block ends no later than the outer one.
    """
    ends_at = time.monotonic() + seconds
    outer = _deadline.get()
    if outer is not None:
        ends_at = min(ends_at, outer.ends_at)
    token = _deadline.set(Deadline(seconds=seconds, ends_at=ends_at, then=then))
    try:
        yield _deadline.get()
    finally:
        _deadline.reset(token)


def deadline_left() -> float | None:
    """Seconds left before the deadline; None when there is none (a sync)."""
    current = _deadline.get()
    return None if current is None else current.ends_at - time.monotonic()


def deadline_passed() -> bool:
    left = deadline_left()
    return left is not None and left < _MIN_WAIT


def deadline_allows(seconds: float) -> bool:
    """Whether waiting ``seconds`` (a retry's backoff) still leaves time to try."""
    left = deadline_left()
    return left is None or seconds + _MIN_WAIT < left


def within_deadline(seconds: float | None) -> float | None:
    """A timeout of ``seconds`` (None: no limit), shortened to what is left of the deadline."""
    left = deadline_left()
    if left is None:
        return seconds
    return max(_MIN_WAIT, left if seconds is None else min(seconds, left))


def deadline_error(where: str) -> ConnectorError:
    """What to raise when the deadline has passed while waiting on ``where``."""
    current = _deadline.get()
    seconds = current.seconds if current is not None else 0
    unit = "second" if seconds == 1 else "seconds"
    then = f" {current.then}" if current is not None and current.then else ""
    return ConnectorError(
        f"The server at {where} did not answer within {seconds:g} {unit}, so the check stopped.{then}",
        permanent=False,
    )


def deadline_or(error: ConnectorError, *, where: str) -> ConnectorError:
    """``error``, or the deadline's own error when the deadline is why it happened."""
    return deadline_error(where) if deadline_passed() else error
