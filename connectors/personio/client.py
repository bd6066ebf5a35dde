"""Personio's API v1 on the wire (VENDORS.md, "Personio").

The connector reads and writes through :class:`PersonioClient` and never
sees HTTP. What the client takes care of:

* **auth**: ``POST {base}/v1/auth`` with the client id and secret in the
  JSON body (never in a URL), then ``Authorization: Bearer <token>``; the
  ``X-Personio-Partner-ID`` and ``X-Personio-App-ID`` headers go on every
  call, the auth call included;
* **the token cache**: a token is reused for its lifetime (less a margin) by
  every client with the same base URL and credentials, in every process, via
  Django's cache (``CACHE_URL``), encrypted with the connection secrets' key
  and filed under a digest that does not reveal the secret. A 401 on a data
  call drops the token, logs in again and repeats the call once;
* **paging**: employees by record offset (0, 100, 200…) up to
  ``metadata.total_elements``, refusing to pass a short or looping read off
  as the full list; time-offs by page number from 1, deduplicated by id;
* **rate limits**: the employees endpoint stays under 15 requests a second
  and 300 a minute (:class:`connectors.http.RateLimiter`); a 429 waits for
  ``Retry-After`` or backs off from 1 s (the session's
  :class:`~connectors.http.HttpRetry`), telling ``on_wait`` why it waits;
* **errors**: every failure is a :class:`ConnectorError` an admin can act on,
  with Personio's own message quoted (scrubbed, shortened) where it sent one.
  No message or log line carries the client secret or a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from connectors import http
from connectors.base import ConnectorError, int_or_none

logger = logging.getLogger(__name__)

PERSONIO = "Personio"
#: Personio's maximum for ``GET /v1/company/employees`` since 2025-01-31.
EMPLOYEES_PAGE_LIMIT = 100
TIME_OFFS_PAGE_LIMIT = 200
#: Personio's published limits on the employees endpoint: (requests, seconds).
EMPLOYEE_LIMITS: tuple[tuple[int, float], ...] = ((15, 1.0), (300, 60.0))
#: Tries per request in all: a 429 is Personio's ordinary way of pacing a
#: big read, so the session keeps going well past the default five.
MAX_ATTEMPTS = 8
#: A server that keeps sending pages past this is broken or ignoring paging.
MAX_PAGES = 10_000
#: Seconds before a token's stated expiry that hrsync stops reusing it, so
#: that a token read from the cache cannot expire in the middle of a run's
#: first requests.
TOKEN_MARGIN = 300
#: Rate-limiter waits up to this long go unannounced (they are the ordinary
#: pacing of a burst, not something an admin watching a run needs to read).
ANNOUNCE_WAITS_OVER = 1.0
#: The longest piece of Personio's own error text quoted in a message.
QUOTE_LIMIT = 120

_CREDENTIALS_REJECTED = (
    "Personio rejected the client ID or client secret ({status}). Check them under Settings, "
    "or create new API credentials in Personio under Settings > Integrations > API credentials."
)
_AUTH_MESSAGES: dict[int, str] = {401: _CREDENTIALS_REJECTED, 403: _CREDENTIALS_REJECTED}
_DATA_MESSAGES: dict[int, str] = {
    403: (
        "Personio accepted the API credentials but refused access to {where} (403). In Personio, "
        "under Settings > Integrations > API credentials, give these credentials access to what "
        "hrsync reads: employees and their attributes, and time-offs when absences are synced."
    ),
    404: (
        "Personio has nothing at {where} (404). Check the API address under Settings "
        "(normally https://api.personio.de)."
    ),
}
_TOKEN_REFUSED = (
    "Personio refused hrsync's access token for {where} (401), even a new one it had just issued. "
    "Check in Personio, under Settings > Integrations > API credentials, that these credentials "
    "are still active."
)
_NOT_ANSWERING = (
    "Personio is not answering: {where} returned a server error (HTTP {status}). "
    "hrsync will try again at the next sync."
)

_EMPLOYEES = "/v1/company/employees"
_ATTRIBUTES = "/v1/company/employees/attributes"
_TIME_OFF_TYPES = "/v1/company/time-off-types"
_TIME_OFFS = "/v1/company/time-offs"


def token_cache_key(*, base_url: str, client_id: str, client_secret: str) -> str:
    """The cache key of the token for these credentials at this address.

    A digest of all three: new credentials (or another Personio address)
    never reuse an old token, and the key reveals nothing of the secret.
    """
    material = json.dumps([base_url, client_id, client_secret], ensure_ascii=False)
    return "hrsync:personio:token:" + hashlib.sha256(material.encode()).hexdigest()


class PersonioClient:
    """One Personio account's API v1, for one run (one HTTP session).

    ``base_url``: ``https://api.personio.de`` (no trailing slash; validated
    by the connector's settings). ``partner_id`` / ``app_id``: the values
    of the ``X-Personio-Partner-ID`` / ``X-Personio-App-ID`` headers.
    ``scrub``: the connector's ``scrub`` (removes the connection's secrets
    from text a server sent; the client also removes its tokens).
    ``on_wait(sentence)``: told before each wait on a 429 or a server error,
    and before a rate-limiter wait longer than a second (run progress).
    ``session`` / ``limiter``: for tests; by default a session from
    :func:`connectors.http.http_session` and a limiter with
    :data:`EMPLOYEE_LIMITS`. Tests record the waits by replacing
    ``client.session.sleep`` (and pass a limiter on a fake clock).
    """

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        partner_id: str,
        app_id: str,
        scrub: Callable[[str], str],
        on_wait: Callable[[str], None] | None = None,
        session: http.HttpSession | None = None,
        limiter: http.RateLimiter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._scrub_secrets = scrub
        self.on_wait = on_wait
        self._token: str | None = None
        self._tokens: set[str] = set()  # every token seen, to scrub from messages
        self._cache_key = token_cache_key(
            base_url=self.base_url, client_id=client_id, client_secret=client_secret
        )
        self.session = session or http.http_session(user_agent_suffix="personio", max_attempts=MAX_ATTEMPTS)
        self.session.headers["X-Personio-Partner-ID"] = partner_id
        self.session.headers["X-Personio-App-ID"] = app_id
        self.session.on_retry_wait = self._retry_waits
        self.limiter = limiter or http.RateLimiter(EMPLOYEE_LIMITS)
        if self.limiter.on_wait is None:
            self.limiter.on_wait = self._limiter_waits

    def __repr__(self) -> str:
        return f"<PersonioClient {http.safe_host(self.base_url)}>"

    def __enter__(self) -> PersonioClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP session's connections (the cached token stays)."""
        self.session.close()

    # -- reading -----------------------------------------------------------

    def attributes(self) -> list[dict[str, Any]]:
        """The employee attributes these credentials may read
        (``{"key", "label", "type", "universal_id", "options"?}``)."""
        payload = self._call("GET", _ATTRIBUTES, limited=True)
        return self._list(payload, _ATTRIBUTES)

    def employees(
        self, *, attributes: Sequence[str], updated_since: dt.datetime | None = None
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every employee as ``(page number from 1, raw item)``, the item as
        Personio sends it (``{"type": "Employee", "attributes": {…}}``).

        ``attributes``: the attribute keys to ask for (``attributes[]``);
        ``updated_since``: only employees changed since then (a delta).
        Raises a ConnectorError rather than end early: a short read must
        never pass for the full list, whose absentees become leavers.
        """
        where = self._where(_EMPLOYEES)
        params: dict[str, Any] = {"limit": EMPLOYEES_PAGE_LIMIT}
        if attributes:
            params["attributes[]"] = list(attributes)
        if updated_since is not None:
            params["updated_since"] = updated_since.replace(microsecond=0).isoformat()
        read = 0
        offset = 0
        total: int | None = None
        previous: tuple[list[str], int] | None = None  # ids and offset of the last page
        for page in itertools.count(1):
            if page > MAX_PAGES:
                raise ConnectorError(
                    f"Personio kept sending employees past page {MAX_PAGES} of {where}; hrsync stopped "
                    "rather than read forever. Check the API address under Settings.",
                    permanent=True,
                )
            payload = self._call("GET", _EMPLOYEES, params={**params, "offset": offset}, limited=True)
            items = self._list(payload, _EMPLOYEES)
            total = _metadata_int(payload, "total_elements", default=total)
            if not items:
                if total is not None and read < total:
                    raise ConnectorError(
                        f"Personio sent no employees for offset {offset} of {where} after {read} of "
                        f"the {total} it said there are. hrsync stopped so that a partial list is not "
                        "taken for the full one, and will try again at the next sync.",
                        permanent=False,
                    )
                return
            ids = [_employee_id(item) for item in items]
            if previous is not None and ids == previous[0] and any(ids):
                raise ConnectorError(
                    f"Personio sent the same employees for offset {offset} as for offset {previous[1]} "
                    f"of {where}. hrsync stopped so that a list with gaps is not taken for the full "
                    "one, and will try again at the next sync.",
                    permanent=False,
                )
            previous = (ids, offset)
            for item in items:
                yield page, item
            read += len(items)
            # Offsets count records: a server that sends fewer than asked is
            # followed record for record, never skipped past.
            offset += len(items)
            if total is not None:
                if read >= total:
                    return
            elif len(items) < EMPLOYEES_PAGE_LIMIT:
                return  # no total: a short page is the last one

    def time_off_types(self) -> list[dict[str, Any]]:
        """The absence types (``{"type": "TimeOffType", "attributes": {id, name, category…}}``)."""
        payload = self._call("GET", _TIME_OFF_TYPES)
        items = self._list(payload, _TIME_OFF_TYPES)
        total_pages = _metadata_int(payload, "total_pages", default=None)
        if total_pages is not None and total_pages > 1:
            logger.warning("Personio has %d pages of time-off types; hrsync read the first", total_pages)
        return items

    def time_offs(
        self, *, start_date: dt.date, end_date: dt.date, updated_from: dt.date | None = None
    ) -> Iterator[dict[str, Any]]:
        """The time-offs overlapping ``start_date``–``end_date`` (inclusive),
        raw ``TimeOffPeriod`` items, each id once.

        ``updated_from``: only those changed since (a delta). Pages are
        numbered from 1 (Personio reads 0 as 1, so starting at 0 would read
        the first page twice); the read ends on the last page by the
        metadata, on an empty page, or on a page that repeats the previous.
        """
        params: dict[str, Any] = {
            "start_date": start_date.isoformat(),
            "end_date": end_date.isoformat(),
            "limit": TIME_OFFS_PAGE_LIMIT,
        }
        if updated_from is not None:
            params["updated_from"] = updated_from.isoformat()
        seen: set[str] = set()
        previous: list[str] | None = None
        for page in itertools.count(1):
            if page > MAX_PAGES:
                raise ConnectorError(
                    f"Personio kept sending time-offs past page {MAX_PAGES} of {self._where(_TIME_OFFS)}; "
                    "hrsync stopped rather than read forever. Check the API address under Settings.",
                    permanent=True,
                )
            payload = self._call("GET", _TIME_OFFS, params={**params, "offset": page})
            items = self._list(payload, _TIME_OFFS)
            if not items:
                return
            ids = [_time_off_id(item) for item in items]
            if ids == previous and any(ids):
                logger.warning("Personio repeated time-offs page %d as page %d; stopped there", page - 1, page)
                return
            previous = ids
            for remote_id, item in zip(ids, items, strict=True):
                if remote_id:
                    if remote_id in seen:
                        continue  # Personio has been seen to repeat items across pages
                    seen.add(remote_id)
                yield item
            current = _metadata_int(payload, "current_page", default=None)
            total_pages = _metadata_int(payload, "total_pages", default=None)
            if current is not None and total_pages is not None:
                if current >= total_pages:
                    return
            elif len(items) < TIME_OFFS_PAGE_LIMIT:
                return  # no metadata: a short page is the last one

    # -- writing -----------------------------------------------------------

    def time_off_create(
        self,
        *,
        employee_id: str,
        time_off_type_id: str,
        start_date: dt.date,
        end_date: dt.date,
        half_day_start: bool,
        half_day_end: bool,
        comment: str = "",
    ) -> dict[str, Any]:
        """Create a time-off in Personio and return the created item.

        Not repeated after a server error (Personio may have created it);
        repeated after a 429, which Personio sends before acting.
        """
        body = {
            "employee_id": _id_value(employee_id),
            "time_off_type_id": _id_value(time_off_type_id),
            "start_date": start_date.isoformat(),
            "end_date": end_date.isoformat(),
            "half_day_start": bool(half_day_start),
            "half_day_end": bool(half_day_end),
            "comment": comment,
        }
        payload = self._call("POST", _TIME_OFFS, body=body)
        created = payload.get("data")
        if not isinstance(created, dict):
            raise ConnectorError(
                f"Personio's answer from {self._where(_TIME_OFFS)} does not describe the time-off it "
                "created; check in Personio whether it exists before sending it again.",
                permanent=True,
            )
        return created

    def time_off_delete(self, *, time_off_id: str) -> bool:
        """Delete a time-off: True when deleted, False when Personio has no
        such time-off (already deleted: the outcome asked for)."""
        path = f"{_TIME_OFFS}/{quote(str(time_off_id), safe='')}"
        return self._call("DELETE", path, missing_ok=True, needs_data=False) is not None

    # -- the wire ----------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        limited: bool = False,
        missing_ok: bool = False,
        needs_data: bool = True,
    ) -> dict[str, Any] | None:
        """Send an authorised request; its JSON envelope, or a ConnectorError.

        ``limited``: goes through the employees rate limiter. ``missing_ok``:
        a 404 returns None. A 401 renews the token and repeats the request,
        once: a second 401 is an error.
        """
        url = self.base_url + path
        renewed = False
        try:
            while True:
                token = self._access_token()
                response = self._send(
                    method, url, params=params, json=body, limited=limited,
                    headers={"Authorization": f"Bearer {token}"},
                )
                if response.status_code == 401:
                    if renewed:
                        raise ConnectorError(_TOKEN_REFUSED.format(where=self._where(path)), permanent=True)
                    logger.info("Personio refused the access token for %s %s; logging in again", method, path)
                    self._forget_token(token)
                    renewed = True
                    continue
                if missing_ok and response.status_code == 404:
                    return None
                return self._envelope(response, path, messages=_DATA_MESSAGES, needs_data=needs_data)
        except ConnectorError as exc:
            raise self._scrubbed(exc) from exc.__cause__

    def _send(self, method: str, url: str, *, limited: bool = False, **kwargs: Any) -> requests.Response:
        try:
            if limited:
                with self.limiter.slot():
                    return self.session.request(method, url, **kwargs)
            return self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            error = http.unreachable_error(exc, url=url)
            if error.permanent:
                raise error from exc
            raise ConnectorError(
                f"Personio is not answering ({error.message.rstrip('.')}). "
                "hrsync will try again at the next sync.",
                permanent=False,
            ) from exc

    def _envelope(
        self, response: requests.Response, path: str, *, messages: Mapping[int, str], needs_data: bool = True
    ) -> dict[str, Any]:
        """The ``{"success": true, "data": …}`` body of ``response``."""
        where = self._where(path)
        status = response.status_code
        if status >= 500:
            raise ConnectorError(_NOT_ANSWERING.format(where=where, status=status), permanent=False)
        if status >= 400 and status not in (401, 403, 404, 429):
            said = self._error_text(response)
            if said:
                raise ConnectorError(
                    f"Personio refused {response.request.method} {where} (HTTP {status}): {said}",
                    permanent=True,
                    status=status,
                )
        if not needs_data and status < 300 and not (response.content or b"").strip():
            return {}  # a DELETE answered 204, or 200 with nothing to say
        payload = http.response_json(response, vendor=PERSONIO, messages=messages, scrub=self._scrub)
        if not isinstance(payload, dict):
            raise ConnectorError(
                f"Personio's answer from {where} is not the JSON object its API sends; "
                "check the API address under Settings.",
                permanent=True,
            )
        if payload.get("success") is False:
            said = _envelope_error(payload)
            detail = f": {self._quoted(said)}" if said else " without saying why"
            raise ConnectorError(f"Personio answered {where} with an error{detail}", permanent=True)
        if needs_data and "data" not in payload:
            raise ConnectorError(
                f"Personio's answer from {where} has no \"data\"; check the API address under Settings.",
                permanent=True,
            )
        return payload

    def _list(self, payload: Mapping[str, Any] | None, path: str) -> list[dict[str, Any]]:
        items = (payload or {}).get("data")
        if not isinstance(items, list):
            raise ConnectorError(
                f"Personio's answer from {self._where(path)} has no \"data\" list; "
                "check the API address under Settings.",
                permanent=True,
            )
        return items

    # -- the token -----------------------------------------------------------

    def _access_token(self) -> str:
        if self._token is None:
            self._token = self._cached_token() or self._authenticate()
            self._tokens.add(self._token)
        return self._token

    def _authenticate(self) -> str:
        if not self._client_id or not self._client_secret:
            raise ConnectorError(
                "The Personio connection has no client ID or client secret. Enter them under Settings.",
                permanent=True,
            )
        url = self.base_url + "/v1/auth"
        body = {"client_id": self._client_id, "client_secret": self._client_secret}
        # Asking for a token twice is harmless, so it is retried like a GET.
        response = self._send("POST", url, json=body, idempotent=True)
        payload = self._envelope(response, "/v1/auth", messages=_AUTH_MESSAGES)
        data = payload.get("data")
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise ConnectorError(
                f"Personio's answer from {self._where('/v1/auth')} has no access token; "
                "check the API address under Settings.",
                permanent=True,
            )
        token = token.strip()
        self._tokens.add(token)
        self._store_token(token, data.get("expires_in"))
        return token

    def _cached_token(self) -> str | None:
        from django.core.cache import cache

        from hrsync.crypto import decrypt_text

        try:
            stored = cache.get(self._cache_key)
            if not stored:
                return None
            entry = json.loads(decrypt_text(stored))
            if float(entry["expires_at"]) > time.time() and isinstance(entry["token"], str):
                return entry["token"]
        except Exception as exc:  # noqa: BLE001 - a broken cache costs one login, never the run
            logger.warning("Personio token cache unreadable (%s); logging in again", type(exc).__name__)
        self._cache_delete()
        return None

    def _store_token(self, token: str, expires_in: Any) -> None:
        from django.core.cache import cache

        from hrsync.crypto import encrypt_text

        seconds = int_or_none(expires_in)
        if seconds is None or seconds <= 0:
            return  # no stated lifetime: this client keeps it, nobody else reuses it
        lifetime = seconds - TOKEN_MARGIN if seconds > 2 * TOKEN_MARGIN else seconds // 2
        if lifetime <= 0:
            return
        entry = json.dumps({"token": token, "expires_at": time.time() + lifetime})
        try:
            cache.set(self._cache_key, encrypt_text(entry), timeout=lifetime)
        except Exception as exc:  # noqa: BLE001 - the next run just logs in again
            logger.warning("Personio token cache not writable (%s)", type(exc).__name__)

    def _forget_token(self, token: str) -> None:
        """Drop a refused token, here and in the cache (unless another
        process has already put a newer one there)."""
        self._token = None
        if self._cached_token() == token:
            self._cache_delete()

    def _cache_delete(self) -> None:
        from django.core.cache import cache

        try:
            cache.delete(self._cache_key)
        except Exception as exc:  # noqa: BLE001
            logger.warning("Personio token cache not writable (%s)", type(exc).__name__)

    # -- words -------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without the connection's secrets or any token of this client."""
        return http.secrets_scrub(self._scrub_secrets(text), secrets={self._client_secret, *self._tokens})

    def _scrubbed(self, exc: ConnectorError) -> ConnectorError:
        message = self._scrub(exc.message)
        return exc if message == exc.message else ConnectorError(message, permanent=exc.permanent, status=exc.status)

    def _quoted(self, text: str) -> str:
        return f"“{http.quoted_words(self._scrub(text), limit=QUOTE_LIMIT)}”"

    def _error_text(self, response: requests.Response) -> str:
        """Personio's own words in an error body, quoted; "" when it has none."""
        try:
            said = _envelope_error(response.json())
        except ValueError:
            return ""
        return self._quoted(said) if said else ""

    def _where(self, path: str) -> str:
        return http.safe_url(self.base_url + path)

    # -- waiting -----------------------------------------------------------

    def _retry_waits(self, status: int, seconds: float) -> None:
        self._announce(http.retry_wait_sentence(vendor=PERSONIO, status=status, seconds=seconds))

    def _limiter_waits(self, seconds: float) -> None:
        if seconds > ANNOUNCE_WAITS_OVER:
            self._announce(
                f"Waiting {http.seconds_phrase(seconds)} to stay within Personio's rate limit for employee requests."
            )

    def _announce(self, sentence: str) -> None:
        logger.info("%s", sentence)
        if self.on_wait is not None:
            self.on_wait(sentence)


# -- value helpers -------------------------------------------------------------


def _metadata_int(payload: Mapping[str, Any] | None, name: str, *, default: int | None) -> int | None:
    metadata = (payload or {}).get("metadata")
    value = int_or_none(metadata.get(name)) if isinstance(metadata, dict) else None
    return default if value is None else value


def _envelope_error(payload: Any) -> str:
    """The message of a v1 error body ``{"success": false, "error": {"message": …}}``."""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        return message.strip() if isinstance(message, str) else ""
    return error.strip() if isinstance(error, str) else ""


def _attribute_value(attributes: Any, key: str) -> Any:
    value = attributes.get(key) if isinstance(attributes, dict) else None
    if isinstance(value, dict) and "value" in value:
        return value["value"]  # an employee attribute object {"label", "value", …}
    return value


def _employee_id(item: Any) -> str:
    value = _attribute_value(item.get("attributes") if isinstance(item, dict) else None, "id")
    return "" if value is None or isinstance(value, dict | list | bool) else str(value)


def _time_off_id(item: Any) -> str:
    attributes = item.get("attributes") if isinstance(item, dict) else None
    value = attributes.get("id") if isinstance(attributes, dict) else None
    return "" if value is None or isinstance(value, dict | list | bool) else str(value)


def _id_value(text: str) -> int | str:
    """Personio's ids are integers: a numeric id goes as a JSON number."""
    text = str(text).strip()
    return int(text) if text.isdigit() else text


__all__ = [
    "EMPLOYEES_PAGE_LIMIT",
    "EMPLOYEE_LIMITS",
    "MAX_ATTEMPTS",
    "MAX_PAGES",
    "PERSONIO",
    "TIME_OFFS_PAGE_LIMIT",
    "PersonioClient",
    "token_cache_key",
]
