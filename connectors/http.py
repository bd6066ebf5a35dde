"""The one way connectors talk HTTP.

Every connector builds its session with :func:`http_session` (one per sync
run) and turns responses into data or a :class:`ConnectorError` with
:func:`request_json` / :func:`raise_for_status` / :func:`response_json`.

What the session guarantees:

* a ``User-Agent`` naming hrsync (``hrsync/<version> <suffix>``);
* a timeout on every request (``(connect, read)`` seconds; an explicit
  ``timeout=None`` is replaced by the default: nothing waits forever);
* retries with exponential backoff (``backoff_base * 2**n`` seconds, capped at
  ``max_backoff``; :func:`backoff_delay`) on 429, on 5xx and on connection
  errors / timeouts, up to ``max_attempts`` tries in all. A ``Retry-After``
  header (seconds or an HTTP-date) on a 429 or 5xx is honoured instead of the backoff, capped at
  ``max_retry_after`` (300 s by default) so a confused server cannot park a
  worker for hours. Other 4xx are never retried.
* Requests that may not be safe to repeat (POST, PATCH) are retried only when
  the server cannot have acted on them: a 429, or a connection that never
  opened. Pass ``idempotent=True`` to a request to retry it like a GET (e.g. a
  token request), or ``idempotent=False`` to be stricter.
* When the tries run out, the last 429/5xx response is returned, or the last
  connection error is re-raised; :func:`raise_for_status` and
  :func:`unreachable_error` turn those into messages an admin can act on.

Answers that say "not now" (429, 5xx) are retried by :class:`HttpRetry`, a
``urllib3.util.Retry`` mounted on the session's adapters. A request that got
no answer at all (a refused or broken connection, a timeout) is retried by
:meth:`HttpSession.request` under the same rules and the same count of tries:
``responses``, which the tests mock vendors with, raises such failures
without ever consulting the adapter's Retry. Sleeping goes through
``session.sleep`` (:func:`backoff_sleep` by default) so tests can record the
delays instead of waiting.

Every connection is opened through :func:`connectors.outbound.socket_connect`
(the address rules of this deployment, checked on the address actually
connected to, so also after a redirect), and a redirect from https to plain
http is refused. Inside a web page's :func:`connectors.outbound.deadline` the
timeouts shrink to what is left and no retry waits past it.

Nothing here logs or puts in a message a header, a body, a query string or
URL user-info: only the method, host, path and status. Text the vendor sent
(a reason phrase, an excerpt of an error page) goes through the caller's
``scrub`` before it is shortened, so a server that echoes a password cannot
leave a piece of it in a message.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import importlib.metadata
import json
import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ResponseError,
)
from urllib3.util import Retry, Timeout
from urllib3.util.retry import RequestHistory

from connectors import outbound
from connectors.base import SCRUBBED, ConnectorError, address_split

logger = logging.getLogger(__name__)

#: Seconds: (connect, read).

def backoff_sleep(seconds: float) -> None:
    """How sessions wait between tries (tests replace it to run instantly)."""
    time.sleep(seconds)

DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
#: The longest Retry-After we will wait for, in seconds.
MAX_RETRY_AFTER: float = 300.0
#: Methods that are safe to send twice.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

try:
    VERSION = importlib.metadata.version("hrsync")
except importlib.metadata.PackageNotFoundError:  # running from a bare checkout
    VERSION = "0+unknown"


def user_agent(suffix: str = "") -> str:
    """``hrsync/<version>``, plus e.g. the connector kind."""
    base = f"hrsync/{VERSION}"
    return f"{base} {suffix.strip()}" if suffix.strip() else base


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def backoff_delay(attempt: int, *, base: float, cap: float | None = None) -> float:
    """Seconds to wait after the ``attempt``-th failed try (1-based): base,
    2·base, 4·base…, at most ``cap``. Every outbound retry (HTTP and SFTP)
    waits by this schedule."""
    delay = base * 2 ** (attempt - 1)
    return delay if cap is None else min(cap, delay)


def seconds_phrase(seconds: float) -> str:
    """A wait as an admin reads it: ``30 s``, ``2.5 s``."""
    if seconds >= 10 or float(seconds).is_integer():
        return f"{round(seconds)} s"
    return f"{seconds:.1f} s"


def retry_wait_sentence(*, vendor: str, status: int, seconds: float) -> str:
    """What a run's progress says before the session waits to ask again
    (``HttpSession.on_retry_wait``): a 429 or a server error ``status``.
    ``vendor``: the vendor's name as the messages spell it."""
    if status == 429:
        why = f"{vendor} asked hrsync to slow down (rate limit)."
    else:
        why = f"{vendor} had a server error (HTTP {status}); hrsync will ask again."
    return f"Waiting {seconds_phrase(seconds)}: {why}"


def safe_url(url: str) -> str:
    """``host[:port]/path`` of ``url``: no scheme, user-info, query or fragment.

    The form used in every log line and error message.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    if port is not None:
        host = f"{host}:{port}"
    return f"{host}{parts.path}"


def safe_host(url: str) -> str:
    """``host[:port]`` of ``url``, without user-info."""
    return safe_url(url).split("/", 1)[0]


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value.

    Accepts delay-seconds (``"120"``) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``). A date in the past means 0.
    Returns None when the header is absent or unreadable (the caller then
    uses its own backoff). Not capped: the session applies its cap.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" dates parse as naive; HTTP-dates are UTC
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


_RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # the body broke off part way
)


class _CheckedConnect:
    """urllib3's ``_new_conn`` with the socket opened by the address rules."""

    def _new_conn(self) -> socket.socket:
        try:
            return outbound.socket_connect(
                (self._dns_host, self.port),
                timeout=self.timeout if isinstance(self.timeout, int | float) else None,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc


class _CheckedHTTPConnection(_CheckedConnect, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnect, HTTPSConnection):
    pass


class _DeadlineTimeouts:
    """urllib3's ``_get_timeout`` shortened to what is left of a web page's
    deadline, on every try: the retries :class:`HttpRetry` asks for reuse the
    timeouts the request started with."""

    def _get_timeout(self, timeout: Any) -> Timeout:
        timeout = super()._get_timeout(timeout)
        if outbound.deadline_left() is None:
            return timeout
        return Timeout(
            connect=outbound.within_deadline(Timeout.resolve_default_timeout(timeout.connect_timeout)),
            read=outbound.within_deadline(Timeout.resolve_default_timeout(timeout.read_timeout)),
        )


class _CheckedHTTPConnectionPool(_DeadlineTimeouts, HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(_DeadlineTimeouts, HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    """The transport adapter every HttpSession mounts: its pools open
    connections through :func:`connectors.outbound.socket_connect`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }


@dataclass(slots=True)
class _Request:
    """The request an HttpSession is sending, as its retries see it."""

    method: str
    where: str  # safe_url(): fit for a log line
    idempotent: bool
    tries: int = 1  # made so far, answered or not


_request: ContextVar[_Request | None] = ContextVar("hrsync_http_request", default=None)


#: Failures without an answer raise at once (HttpSession.request retries
#: them); answers are counted by HttpRetry itself.
_HTTP_RETRY_COUNTS: dict[str, Any] = {
    "total": None,
    "connect": 0,
    "read": False,
    "other": 0,
    "status": None,
    "redirect": None,
    "raise_on_status": False,
    "raise_on_redirect": False,
}


class HttpRetry(Retry):
    """The ``urllib3.util.Retry`` every HttpSession mounts: hrsync's rules for
    an answer that says "not now" (see the module docstring).

    * 429 is retried whatever the method (the server did not act on it), 5xx
      only when the request is safe to repeat;
    * the wait is ``Retry-After`` (seconds or an HTTP-date) capped at the
      session's ``max_retry_after``, or else the session's backoff; when the
      tries run out, or the wait would run past a web page's deadline, the
      last answer is returned;
    * the wait happens in :meth:`increment`, through ``session.sleep``, and
      :meth:`sleep` does nothing: ``responses`` replays urllib3's status
      retries through ``is_retry`` and ``increment`` but never calls
      ``sleep``, so a wait there would be skipped under the tests' mocks.

    Failures without an answer are not retried here (``connect=0``,
    ``read=False`` make urllib3 raise them as requests expects, as its
    default Retry does); :meth:`HttpSession.request` retries those.
    """

    def __init__(self, *, session: HttpSession | None = None, **kwargs: Any) -> None:
        for name, value in _HTTP_RETRY_COUNTS.items():
            kwargs.setdefault(name, value)
        super().__init__(**kwargs)
        self.session = session

    def new(self, **kwargs: Any) -> HttpRetry:
        retry = super().new(**kwargs)
        retry.session = self.session
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        request = _request.get()
        return (
            request is not None
            and is_retryable_status(status_code)
            and (status_code == 429 or request.idempotent)
        )

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> HttpRetry:
        request = _request.get()
        if error is not None or response is None or request is None or self.session is None:
            return super().increment(method, url, response, error, _pool, _stacktrace)
        session, status = self.session, response.status
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if retry_after is not None:
            delay, why = min(retry_after, session.max_retry_after), "as Retry-After asked"
        else:
            delay, why = session.backoff(request.tries), "backing off"
        if request.tries >= session.max_attempts or not outbound.deadline_allows(delay):
            logger.warning(
                "%s %s returned %d; giving up after %d tries",
                request.method, request.where, status, request.tries,
            )
            # With raise_on_status off, urllib3 (and responses) return the answer.
            raise MaxRetryError(_pool, url, ResponseError(ResponseError.SPECIFIC_ERROR.format(status_code=status)))
        logger.info(
            "%s %s returned %d; retrying in %.1f s, %s (try %d of %d)",
            request.method, request.where, status, delay, why, request.tries + 1, session.max_attempts,
        )
        # Not super().increment(): urllib3 would log the URL, query string included.
        retry = self.new(history=(*self.history, RequestHistory(method, None, None, status, None)))
        response.drain_conn()  # the connection goes back to the pool while we wait
        request.tries += 1
        if session.on_retry_wait is not None:
            session.on_retry_wait(status, delay)
        session.sleep(delay)
        return retry

    def sleep(self, response: Any = None) -> None:
        """Nothing: :meth:`increment` has already waited."""


class HttpSession(requests.Session):
    """A ``requests.Session`` with default timeouts and retries.

    Build it with :func:`http_session`. The attributes can be adjusted after
    construction (tests replace ``sleep``).
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        super().__init__()
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.sleep: Callable[[float], None] = backoff_sleep
        #: Told ``(status, seconds)`` before each wait on an answer that said
        #: "not now" (429, 5xx): a connector shows it on the run's progress.
        self.on_retry_wait: Callable[[int, float], None] | None = None
        for prefix in ("https://", "http://"):
            self.mount(prefix, _CheckedAdapter(max_retries=HttpRetry(session=self)))

    def __repr__(self) -> str:
        return f"<HttpSession max_attempts={self.max_attempts} timeout={self.timeout!r}>"

    def backoff(self, attempt: int) -> float:
        """Delay after the ``attempt``-th failed try (1-based): base, 2·base, 4·base…"""
        return backoff_delay(attempt, base=self.backoff_base, cap=self.max_backoff)

    def request(  # type: ignore[override]
        self,
        method: str | bytes,
        url: str | bytes,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request with retries; see the module docstring.

        Arguments after ``url`` are keyword-only (as ``get()``/``post()`` pass
        them), so the default timeout can always be applied.
        """
        timeout = self.timeout if kwargs.get("timeout") is None else kwargs["timeout"]
        method_name = method.decode() if isinstance(method, bytes) else str(method)
        method_name = method_name.upper()
        url_text = url.decode() if isinstance(url, bytes) else str(url)
        where = safe_url(url_text)
        if idempotent is None:
            idempotent = method_name in IDEMPOTENT_METHODS

        request = _Request(method=method_name, where=where, idempotent=idempotent)
        token = _request.set(request)
        try:
            return self._request_until_answered(request, method_name, url_text, timeout, kwargs)
        finally:
            _request.reset(token)

    def _request_until_answered(
        self, request: _Request, method: str, url: str, timeout: Any, kwargs: dict[str, Any]
    ) -> requests.Response:
        # The adapter's HttpRetry retries answers; this retries the absence of one.
        while True:
            if outbound.deadline_passed():
                raise outbound.deadline_error(safe_host(url))
            kwargs["timeout"] = _within_deadline(timeout)
            started = time.monotonic()
            try:
                response = super().request(method, url, **kwargs)
            except requests.RequestException as exc:
                if isinstance(exc, requests.Timeout) and outbound.deadline_passed():
                    raise outbound.deadline_error(safe_host(url)) from None
                delay = self.backoff(request.tries)
                if (
                    not self._may_retry_exception(exc, request.idempotent)
                    or request.tries >= self.max_attempts
                    or not outbound.deadline_allows(delay)
                ):
                    if request.tries > 1:
                        logger.warning(
                            "%s %s failed (%s); giving up after %d tries",
                            method, request.where, type(exc).__name__, request.tries,
                        )
                    raise
                logger.info(
                    "%s %s failed (%s); retrying in %.1f s (try %d of %d)",
                    method, request.where, type(exc).__name__, delay, request.tries + 1, self.max_attempts,
                )
                request.tries += 1
                self.sleep(delay)
                continue
            logger.debug(
                "%s %s -> %d (%.2f s)", method, request.where, response.status_code, time.monotonic() - started
            )
            return response

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """Where a redirect leads; refused when it leaves https for plain http
        (the credentials and the data would then travel unencrypted)."""
        target = super().get_redirect_target(resp)
        if target and urlsplit(resp.url or "").scheme == "https":
            if urlsplit(urljoin(resp.url, target)).scheme != "https":
                raise ConnectorError(
                    f"{safe_host(resp.url)} redirected hrsync from https to plain http, so hrsync "
                    "stopped: the login and the data would have travelled unencrypted. Check the "
                    "address in the connection settings, or ask the vendor for its https address.",
                    permanent=True,
                )
        return target

    @staticmethod
    def _may_retry_exception(exc: requests.RequestException, idempotent: bool) -> bool:
        if isinstance(exc, requests.exceptions.SSLError):
            return False  # a certificate problem does not fix itself in seconds
        if isinstance(exc, requests.ConnectTimeout):
            return True  # never connected, so the server did nothing
        return idempotent and isinstance(exc, _RETRYABLE_EXCEPTIONS)


def _within_deadline(timeout: Any) -> Any:
    """``timeout`` (seconds, or ``(connect, read)``) shortened to what is left
    of a web page's deadline."""
    if outbound.deadline_left() is None:
        return timeout
    if isinstance(timeout, tuple):
        return tuple(outbound.within_deadline(part) for part in timeout)
    return outbound.within_deadline(timeout)


def http_session(
    *,
    user_agent_suffix: str = "",
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    max_attempts: int = 5,
    backoff_base: float = 1.0,
    max_backoff: float = 60.0,
    max_retry_after: float = MAX_RETRY_AFTER,
) -> HttpSession:
    """The HTTP session a connector uses for one run.

    ``user_agent_suffix`` is appended to ``hrsync/<version>`` (use the
    connector kind). ``timeout`` is (connect, read) seconds. ``max_attempts``
    counts the first try. Set ``auth`` and other headers on the returned
    session as usual.
    """
    session = HttpSession(
        timeout=timeout,
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        max_backoff=max_backoff,
        max_retry_after=max_retry_after,
    )
    session.headers["User-Agent"] = user_agent(user_agent_suffix)
    session.headers["Accept"] = "application/json"
    return session


# -- turning responses into data or ConnectorError ---------------------------

_DEFAULT_MESSAGES: dict[int, str] = {
    401: (
        "{vendor} rejected the credentials (401). "
        "Check the credentials in the connection settings."
    ),
    403: (
        "{vendor} accepted the credentials but refused access to {where} (403). "
        "Ask your {vendor} administrator to give this API user permission to read it."
    ),
    404: (
        "{vendor} has nothing at {where} (404). "
        "Check the address and path in the connection settings."
    ),
    429: (
        "{vendor} kept turning hrsync away as rate limited (HTTP 429) on every try. "
        "hrsync will try again at the next sync."
    ),
}
_SERVER_ERROR = (
    "{vendor} had a server error (HTTP {status}) on every try. "
    "hrsync will try again at the next sync."
)
_OTHER_CLIENT_ERROR = (
    "{vendor} refused the request {method} {where} ({status_line}). "
    "Check the connection settings."
)


def _method_of(response: requests.Response) -> str:
    request = getattr(response, "request", None)
    return str(getattr(request, "method", "") or "GET").upper()


def _unscrubbed(text: str) -> str:
    return text


def raise_for_status(
    response: requests.Response,
    *,
    vendor: str,
    messages: Mapping[int, str] | None = None,
    scrub: Callable[[str], str] = _unscrubbed,
) -> None:
    """Raise a ConnectorError for a 4xx/5xx response; do nothing otherwise.

    401, 403, 404 and other 4xx are permanent (an admin must change
    something); 429 and 5xx are transient (the session has already retried).
    ``messages`` overrides the wording per status code; templates may use
    ``{vendor}``, ``{status}`` (503), ``{reason}`` (Service Unavailable),
    ``{status_line}`` (HTTP 503 Service Unavailable), ``{method}``,
    ``{where}`` (host and path, no query) and ``{host}``. ``scrub``
    (``Connector.scrub``) removes the connection's secrets from the server's
    text before it is shortened.
    """
    status = response.status_code
    if status < 400:
        return
    method = _method_of(response)
    reason = _clean_reason(scrub(response.reason or ""))
    fields = {
        "vendor": vendor,
        "status": status,
        "reason": reason,
        "status_line": " ".join(filter(None, (f"HTTP {status}", reason))),
        "method": method,
        "where": scrub(safe_url(response.url or "")),
        "host": scrub(safe_host(response.url or "")),
    }
    template = (messages or {}).get(status) or _DEFAULT_MESSAGES.get(status)
    if template is None:
        template = _SERVER_ERROR if status >= 500 else _OTHER_CLIENT_ERROR
    message = template.format_map(fields)
    raise ConnectorError(message, permanent=not is_retryable_status(status), status=status)


def _clean_reason(reason: str | None) -> str:
    # The reason phrase is the server's text: keep it short and printable.
    text = re.sub(r"[^\x20-\x7e]", "", reason or "").strip()
    return text[:60]


def response_json(
    response: requests.Response,
    *,
    vendor: str,
    messages: Mapping[int, str] | None = None,
    scrub: Callable[[str], str] = _unscrubbed,
) -> Any:
    """The JSON body of a successful response, or a ConnectorError saying why not.

    Calls :func:`raise_for_status` first. A body that is not JSON (an HTML
    error or login page, an empty body, truncated JSON) is a permanent error
    pointing at the base URL, quoting at most a few words of the body
    (scrubbed first, as in :func:`raise_for_status`).
    """
    raise_for_status(response, vendor=vendor, messages=messages, scrub=scrub)
    where = scrub(safe_url(response.url or ""))
    content = response.content or b""
    if not content.strip():
        raise ConnectorError(
            f"{vendor} returned an empty response from {where} (HTTP {response.status_code}) "
            "where JSON was expected; check the base URL and path.",
            permanent=True,
        )
    try:
        return json.loads(content)  # bytes: UTF-8/16/32 detected, a BOM skipped
    except UnicodeDecodeError:
        pass
    except json.JSONDecodeError as exc:
        text = response.text.lstrip()
        if text[:1] in "{[":
            raise ConnectorError(
                f"{vendor} returned broken JSON from {where} "
                f"({exc.msg} at line {exc.lineno} column {exc.colno}); "
                "the response may have been cut short. hrsync will try again at the next sync.",
                permanent=False,
            ) from None
    raise ConnectorError(
        f"{vendor} returned something that is not JSON from {where} ({_describe_body(response, scrub)}); "
        "check the base URL and path.",
        permanent=True,
    )


def _describe_body(response: requests.Response, scrub: Callable[[str], str]) -> str:
    text = scrub(response.text).lstrip("\ufeff \t\r\n")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    is_html = content_type in {"text/html", "application/xhtml+xml"} or text[:1] == "<"
    if is_html:
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        words = title.group(1) if title else re.sub(r"<[^>]*>", " ", text)
        return f"an HTML page starting {_excerpt(words)!r}…" if _excerpt(words) else "an HTML page"
    excerpt = _excerpt(text)
    return f"text starting {excerpt!r}…" if excerpt else "an unreadable body"


def quoted_words(text: str, *, limit: int) -> str:
    """A vendor's own words from an error body, fit to quote in a message:
    control characters out, white space collapsed, cut at ``limit``
    characters (an ellipsis says so). ``text`` must be scrubbed already, so
    that no prefix of a secret survives the cut. Without the quote marks,
    which the caller adds."""
    words = " ".join(re.sub(r"[^\x20-\x7e\u00a0-\uffff]", " ", text).split())
    if len(words) > limit:
        words = words[:limit].rstrip() + "…"
    return words


def secrets_scrub(text: str, *, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (the blank ones ignored) replaced by
    ``SCRUBBED``, the longest first so that a secret holding another is
    replaced whole."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, SCRUBBED)
    return text


def _excerpt(text: str, limit: int = 40) -> str:
    # "*" survives so that a scrubbed secret still shows where it was.
    words = " ".join(re.sub(r"[^\w .,:;!?'()/*-]", " ", text).split())
    return words[:limit].rstrip()


def unreachable_error(exc: requests.RequestException, *, url: str) -> ConnectorError:
    """A transient ConnectorError for a request that got no HTTP response.

    Names the host and the kind of failure, never the exception text (which
    can carry the query string).
    """
    host = safe_host(url) or "the server"
    text = f"{exc!r} {exc.__context__!r}" if exc.__context__ else repr(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        why = "its TLS certificate could not be verified. Check the address, or ask the vendor"
    elif isinstance(exc, requests.ConnectTimeout):
        why = "the connection timed out on every try"
    elif isinstance(exc, requests.ReadTimeout):
        why = "it stopped answering (read timeout) on every try"
    elif isinstance(exc, requests.exceptions.ProxyError):
        why = "the proxy refused or failed the connection"
    elif re.search(r"NameResolution|Name or service not known|getaddrinfo|nodename", text):
        why = "the host name could not be found. Check the address in the connection settings"
    elif re.search(r"Connection refused|ECONNREFUSED", text):
        why = "the connection was refused"
    elif isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return ConnectorError(
            "The address in the connection settings is not a valid URL. Check it.",
            permanent=True,
        )
    elif isinstance(exc, requests.TooManyRedirects):
        return ConnectorError(
            f"{host} redirected too many times. Check the address in the connection settings.",
            permanent=True,
        )
    else:
        why = f"the connection failed ({type(exc).__name__})"
    return ConnectorError(f"Could not reach {host}: {why}.", permanent=False)


def request_json(
    session: requests.Session,
    method: str,
    url: str,
    *,
    vendor: str,
    messages: Mapping[int, str] | None = None,
    scrub: Callable[[str], str] = _unscrubbed,
    **kwargs: Any,
) -> Any:
    """Send a request through ``session`` and return its JSON body.

    Every failure comes out as a ConnectorError (see :func:`raise_for_status`,
    :func:`response_json`, :func:`unreachable_error`). ``kwargs`` go to
    ``session.request`` (``params``, ``json``, ``idempotent``…).
    """
    try:
        response = session.request(method, url, **kwargs)
    except requests.RequestException as exc:
        raise unreachable_error(exc, url=url) from exc
    return response_json(response, vendor=vendor, messages=messages, scrub=scrub)


# -- client-side rate limiting ------------------------------------------------


class RateLimiter:
    """Keeps requests under a vendor's published limits, before it says 429.

    ``limits`` are ``(count, seconds)`` pairs: at most ``count`` requests in
    any window of ``seconds``, for every pair at once (Personio: 15 a second
    and 300 a minute). The windows slide: :meth:`acquire` remembers when each
    recent request went and waits until the oldest one that blocks has left
    its window, so a burst at the end of one minute and another at the start
    of the next still cannot exceed the limit.

    ``clock`` (seconds, monotonic) and ``sleep`` are injectable so tests run
    on a fake clock; ``on_wait(seconds)`` is told before each wait (a
    connector turns it into progress an admin sees). One limiter can be
    shared by threads: waiters queue on its lock.
    """

    def __init__(
        self,
        limits: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        if not limits:
            raise ValueError("a RateLimiter needs at least one (count, seconds) limit")
        for count, seconds in limits:
            if int(count) < 1 or float(seconds) <= 0:
                raise ValueError(f"a rate limit needs a count of 1 or more and seconds above 0, not {count}/{seconds}")
        self.limits: tuple[tuple[int, float], ...] = tuple((int(c), float(s)) for c, s in limits)
        self.clock = clock
        self.sleep = sleep
        self.on_wait = on_wait
        self._longest = max(seconds for _, seconds in self.limits)
        self._sent: deque[float] = deque()  # when recent requests went, oldest first
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        limits = ", ".join(f"{count}/{seconds:g}s" for count, seconds in self.limits)
        return f"<RateLimiter {limits}>"

    def acquire(self) -> float:
        """Block until one more request may go, and count it as sent.

        Returns the seconds waited (0.0 when under every limit).
        """
        return self._acquire()[1]

    @contextmanager
    def slot(self) -> Iterator[None]:
        """:meth:`acquire`, for a request sent inside the ``with`` block,
        which then counts from when the block ends (its answer came), not
        from when it began.

        A vendor counts a request when it arrives, and the network may hold
        one request back longer than the next: counted from its answer, the
        latest moment it can have arrived, a window holds no more requests
        at the vendor's end than at ours.
        """
        sent_at, _ = self._acquire()
        try:
            yield
        finally:
            with self._lock:
                if sent_at in self._sent:  # unless the request outlasted every window
                    self._sent.remove(sent_at)
                self._sent.append(self.clock())  # monotonic: the deque stays in order

    def _acquire(self) -> tuple[float, float]:
        """(when the request was counted, seconds waited for it)."""
        with self._lock:
            started = None
            while True:
                now = self.clock()
                started = now if started is None else started
                ready_at = self._ready_at(now)
                if ready_at <= now:
                    self._sent.append(now)
                    return now, now - started
                # The clock is read again after the sleep: a sleep may end
                # early, and the next pass then waits for the rest.
                delay = ready_at - now
                if self.on_wait is not None:
                    self.on_wait(delay)
                self.sleep(delay)

    def _ready_at(self, now: float) -> float:
        """The earliest time a request may go without overfilling any window."""
        sent = self._sent
        # A request blocks while ``sent_at + seconds > now``: the same
        # expression as the time it stops blocking, so the comparison and
        # the wait agree to the last bit of a float.
        while sent and sent[0] + self._longest <= now:
            sent.popleft()
        ready_at = now
        for count, seconds in self.limits:
            if len(sent) < count:
                continue
            # The count-th most recent request must have left the window.
            free_at = sent[-count] + seconds
            if free_at > now:
                ready_at = max(ready_at, free_at)
        return ready_at


def insecure_loopback_allowed() -> bool:
    """Whether a connector may use plain ``http://`` to this machine's loopback.

    Only for development and tests (a stand-in vendor on 127.0.0.1): on with
    DEBUG, or with the setting ``HRSYNC_ALLOW_INSECURE_LOOPBACK`` (the browser
    tests turn it on). Real vendors are always reached over https. In
    deployed mode it also lifts the address rules' loopback refusal
    (:mod:`connectors.outbound`).
    """
    from django.conf import settings

    return bool(settings.DEBUG or getattr(settings, "HRSYNC_ALLOW_INSECURE_LOOPBACK", False))


def https_base_url_normalise(value: str, *, example: str, sign_in: str) -> str:
    """A vendor API's base URL as the admin typed it, normalised: https with
    a host and no user-info, query or fragment; no trailing slash.

    Plain http is accepted only for a loopback host when
    :func:`insecure_loopback_allowed` (a stand-in server in development and
    tests). ``example``: an address of this vendor, for the messages;
    ``sign_in``: where the credentials go instead ("the API username and
    password fields"). Raises ValueError; the messages never repeat the URL
    (it might carry a password).
    """
    text = value.strip()
    invalid = f"Enter a valid URL, such as {example}."
    parts = address_split(text, invalid=invalid)
    scheme = parts.scheme.lower()
    insecure_ok = (
        scheme == "http"
        and outbound.is_local_host(parts.hostname or "")
        and insecure_loopback_allowed()
    )
    if scheme != "https" and not insecure_ok:
        raise ValueError("The base URL must start with https://.")
    if not parts.hostname:
        raise ValueError(invalid)
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"Do not put a user name or password in the base URL; use {sign_in}.")
    if parts.query or parts.fragment:
        raise ValueError("The base URL cannot have a query (?…) or fragment (#…).")
    return f"{scheme}://{parts.netloc}{parts.path}".rstrip("/")
