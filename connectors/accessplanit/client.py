"""accessplanit's API v2 on the wire (VENDORS.md, "accessplanit (API v2)").

The connector reads and writes through :class:`AccessPlanItClient` and never
sees HTTP. What the client takes care of:

* **auth**: an API key sent as ``Authorization: Bearer <key>``, or a token
  from ``POST {base}/Token`` (form-encoded password grant), kept in memory
  for this client and asked for again a minute before it expires, and once
  when accessplanit answers 401: a second 401 is an error;
* **lists**: OData queries (``$select``, ``$filter``, ``$orderby=ID``,
  ``$top``, ``$skip``, ``$count=true``) read page by page until a page
  holds fewer than ``$top`` records, refusing to pass a repeated page or a
  malformed answer off as the end of the list;
* **filters**: built only by :func:`odata_literal` and friends, so a value
  with a quote in it (``O'Neil``) can never change the query;
* **rate limits**: v2 publishes none; a 429 waits for ``Retry-After`` (the
  session's :class:`~connectors.http.HttpRetry`), telling ``on_wait`` why;
* **errors**: every failure is a :class:`ConnectorError` an admin can act
  on. A write accessplanit refuses (a 4xx other than 401, 403 and 429)
  carries its status and accessplanit's own message, scrubbed. No message
  carries the API key, the password or a token.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import requests

from connectors import http
from connectors.base import ConnectorError, int_or_none, scalar_text

logger = logging.getLogger(__name__)

ACCESSPLANIT = "accessplanit"
#: Records asked for per page (``$top``).
PAGE_SIZE = 100
#: A server that keeps sending pages past this is broken or ignoring paging.
MAX_PAGES = 10_000
#: Seconds before a token's stated expiry that hrsync stops using it.
TOKEN_MARGIN = 60
#: A token whose answer states no lifetime is used for this long (v1
#: documented 60-minute tokens).
DEFAULT_TOKEN_SECONDS = 3600
#: The longest piece of accessplanit's own error text quoted in a message.
QUOTE_LIMIT = 160
#: How a time is written in a ``$filter`` (``DateUpdated gt …``): v2 does
#: not publish its date literal, so this is OData v4's DateTimeOffset form,
#: unquoted, in UTC to the second. Change it here if a tenant wants another.
DATE_LITERAL_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_API_KEY_REJECTED = (
    "accessplanit rejected the API key (401). Check the API key under Settings, "
    "or create a new one in accessplanit."
)
_PASSWORD_REJECTED = (
    "accessplanit rejected the username or password ({status}). Check them under Settings, "
    "and that this accessplanit user may use the API."
)
_FORBIDDEN = (
    "accessplanit signed hrsync in but refused access to {where} (403). Ask your accessplanit "
    "administrator to let this API user read and update users, delegates and awards."
)
_NOT_FOUND = (
    "accessplanit has nothing at {where} (404). Check the API address under Settings: it is the "
    "full address ending in /api/v2, such as https://acme.accessplanit.com/accessplan/api/v2."
)


def odata_literal(value: str) -> str:
    """``value`` as an OData string literal: single quotes, a quote inside
    doubled (``O'Neil`` → ``'O''Neil'``)."""
    return "'" + str(value).replace("'", "''") + "'"


def odata_any(name: str, values: Iterable[str]) -> str:
    """``(Name eq 'a' or Name eq 'b')``; "" for no values."""
    parts = [f"{name} eq {odata_literal(value)}" for value in values]
    return f"({' or '.join(parts)})" if parts else ""


def odata_all(*parts: str) -> str:
    """The non-empty ``parts`` joined with `` and ``."""
    return " and ".join(part for part in parts if part)


def odata_since(name: str, since: dt.datetime) -> str:
    """``Name gt <since in UTC>`` (:data:`DATE_LITERAL_FORMAT`)."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return f"{name} gt {since.astimezone(dt.UTC).strftime(DATE_LITERAL_FORMAT)}"


class AccessPlanItUnreachable(ConnectorError):
    """accessplanit gave no answer at all (the connection failed or timed
    out on every try): nothing sent after it would fare better."""


class AccessPlanItClient:
    """One accessplanit tenant's API v2, for one run (one HTTP session).

    ``base_url``: the full API base, without a trailing slash (validated by
    the connector's settings). ``auth_mode``: "api_key" or "password".
    ``scrub``: the connector's ``scrub`` (removes the connection's secrets
    from text a server sent; the client also removes its tokens).
    ``on_wait(sentence)``: told before each wait on a 429 or a server error.
    ``session`` / ``clock``: for tests.
    """

    def __init__(
        self,
        *,
        base_url: str,
        auth_mode: str,
        api_key: str = "",
        username: str = "",
        password: str = "",
        scrub: Callable[[str], str],
        on_wait: Callable[[str], None] | None = None,
        session: http.HttpSession | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth_mode = auth_mode
        self._api_key = api_key
        self._username = username
        self._password = password
        self._scrub_secrets = scrub
        self.on_wait = on_wait
        self.clock = clock
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._tokens: set[str] = set()  # every token seen, to scrub from messages
        self.session = session or http.http_session(user_agent_suffix="accessplanit")
        self.session.on_retry_wait = self._retry_waits

    def __repr__(self) -> str:
        return f"<AccessPlanItClient {http.safe_host(self.base_url)}>"

    def close(self) -> None:
        self.session.close()

    # -- reading -----------------------------------------------------------

    def records(
        self,
        module: str,
        *,
        select: Sequence[str],
        filter: str = "",
        order_by: Sequence[str] = ("ID",),
        page_size: int = PAGE_SIZE,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every record of ``module`` matching ``filter``, as ``(page number
        from 1, raw record)``, in the stable order ``order_by`` (the
        properties that key a record: paging by ``$skip`` needs one).
        Raises a ConnectorError rather than end early: a short read must
        never pass for the full list."""
        previous_first: tuple[str, ...] | None = None
        for page in itertools.count(1):
            if page > MAX_PAGES:
                raise ConnectorError(
                    f"accessplanit kept sending {module} records past page {MAX_PAGES}; hrsync stopped "
                    "rather than read forever. Check the API address under Settings.",
                    permanent=True,
                )
            skip = (page - 1) * page_size
            items, _count = self._page(
                module, select=select, filter=filter, order_by=order_by, top=page_size, skip=skip
            )
            if not items:
                return
            first = tuple(scalar_text(items[0].get(name)) for name in order_by)
            if previous_first is not None and any(first) and first == previous_first:
                raise ConnectorError(
                    f"accessplanit sent the same {module} records for $skip={skip} as for the page before. "
                    "hrsync stopped so that a list with gaps is not taken for the full one, and will try "
                    "again at the next sync.",
                    permanent=False,
                )
            previous_first = first
            for item in items:
                yield page, item
            if len(items) < page_size:
                return

    def first_page(
        self, module: str, *, select: Sequence[str], filter: str = "", top: int = 1
    ) -> tuple[list[dict[str, Any]], int | None]:
        """The first ``top`` records and the count accessplanit gives (None
        when it gives none)."""
        return self._page(module, select=select, filter=filter, top=top, skip=0)

    def record(
        self, module: str, *, select: Sequence[str], filter: str, order_by: Sequence[str] = ("ID",)
    ) -> dict[str, Any] | None:
        """The one record ``filter`` names (``ID eq '…'``), or None."""
        items, _count = self._page(
            module, select=select, filter=filter, order_by=order_by, top=2, skip=0, count=False
        )
        return items[0] if items else None

    def _page(
        self,
        module: str,
        *,
        select: Sequence[str],
        filter: str,
        top: int,
        skip: int,
        order_by: Sequence[str] = ("ID",),
        count: bool = True,
    ) -> tuple[list[dict[str, Any]], int | None]:
        params: dict[str, Any] = {"$select": ",".join(select)}
        if filter:
            params["$filter"] = filter
        params |= {"$orderby": ",".join(order_by), "$top": top, "$skip": skip}
        if count:
            params["$count"] = "true"
        payload = self._call("GET", f"/{module}", params=params)
        results = payload.get("results") if isinstance(payload, dict) else None
        if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
            raise ConnectorError(
                f"accessplanit's answer from {self._where('/' + module)} has no list of results; "
                "check the API address under Settings.",
                permanent=True,
            )
        total = int_or_none(payload.get("@odata.count", payload.get("count")))
        return results, total

    # -- writing -----------------------------------------------------------

    def create(self, module: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST {base}/{module}``: the created record as accessplanit returns it.

        Not repeated after a server error (accessplanit may have created
        it); repeated after a 429, which comes before anything is done.
        """
        payload = self._call("POST", f"/{module}", json=dict(body))
        if isinstance(payload, dict) and isinstance(payload.get("results"), list) and payload["results"]:
            payload = payload["results"][0]  # some answers wrap the record as a list does
        if not isinstance(payload, dict) or not _record_id(payload):
            raise ConnectorError(
                f"accessplanit's answer from {self._where('/' + module)} does not name the record it "
                "created; check in accessplanit whether it exists before sending it again.",
                permanent=False,
            )
        return payload

    def update(self, module: str, record_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT {base}/{module}/{id}`` with only the properties in ``body``."""
        payload = self._call("PUT", f"/{module}/{quote(str(record_id), safe='')}", json=dict(body), needs_body=False)
        return payload if isinstance(payload, dict) else {}

    # -- the wire ----------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        needs_body: bool = True,
    ) -> Any:
        url = self.base_url + path
        if params:
            # Spaces as %20 (not "+"), and OData's own characters left as
            # they are: the query reads as accessplanit documents it.
            url += "?" + urlencode(params, quote_via=quote, safe="$',()")
        renewed = False
        try:
            while True:
                response = self._send(method, url, json=json, headers={"Authorization": self._authorization()})
                status = response.status_code
                if status == 401:
                    if self._auth_mode != "password":
                        raise ConnectorError(_API_KEY_REJECTED, permanent=True, status=401)
                    if renewed:
                        raise ConnectorError(_PASSWORD_REJECTED.format(status=401), permanent=True, status=401)
                    logger.info("accessplanit refused the token for %s %s; signing in again", method, path)
                    self._token = None
                    renewed = True
                    continue
                return self._body(response, path, needs_body=needs_body)
        except ConnectorError as exc:
            raise self._scrubbed(exc) from exc.__cause__

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            error = http.unreachable_error(exc, url=url)
            if error.permanent:
                raise error from exc
            raise AccessPlanItUnreachable(
                f"accessplanit is not answering ({error.message.rstrip('.')}). "
                "hrsync will try again at the next sync.",
                permanent=False,
            ) from exc

    def _body(self, response: requests.Response, path: str, *, needs_body: bool) -> Any:
        where = self._where(path)
        status = response.status_code
        if status == 403:
            raise ConnectorError(_FORBIDDEN.format(where=where), permanent=True, status=403)
        if status == 404:
            method = response.request.method
            if method != "GET":
                # A write to one record: that record is not there (any more).
                said = self._error_text(response) or "accessplanit has no such record"
                raise ConnectorError(
                    f"accessplanit refused {method} {where} (HTTP 404): {said}",
                    permanent=True,
                    status=404,
                    vendor_said=said,
                )
            raise ConnectorError(_NOT_FOUND.format(where=where), permanent=True, status=404)
        if 400 <= status < 500 and status != 429:
            said = self._error_text(response)
            detail = f": {said}" if said else " without saying why"
            raise ConnectorError(
                f"accessplanit refused {response.request.method} {where} (HTTP {status}){detail}",
                permanent=True,
                status=status,
                vendor_said=said,
            )
        if not needs_body and status < 300 and not (response.content or b"").strip():
            return {}
        return http.response_json(response, vendor=ACCESSPLANIT, scrub=self._scrub)

    # -- the token -----------------------------------------------------------

    def _authorization(self) -> str:
        if self._auth_mode != "password":
            if not self._api_key:
                raise ConnectorError(
                    "The accessplanit connection has no API key. Enter it under Settings.", permanent=True
                )
            return f"Bearer {self._api_key}"
        if self._token is None or self.clock() >= self._token_expires_at:
            self._token = self._sign_in()
        return f"Bearer {self._token}"

    def _sign_in(self) -> str:
        if not self._username or not self._password:
            raise ConnectorError(
                "The accessplanit connection has no username or password. Enter them under Settings.",
                permanent=True,
            )
        url = self.base_url + "/Token"
        data = {"grant_type": "password", "UserName": self._username, "Password": self._password}
        # Asking for a token twice is harmless, so it is retried like a GET.
        response = self._send("POST", url, data=data, idempotent=True)
        if response.status_code in (400, 401, 403):
            # OAuth servers answer a wrong password with 400 invalid_grant.
            raise ConnectorError(
                _PASSWORD_REJECTED.format(status=response.status_code), permanent=True, status=response.status_code
            )
        payload = http.response_json(response, vendor=ACCESSPLANIT, scrub=self._scrub)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise ConnectorError(
                f"accessplanit's answer from {self._where('/Token')} has no access token; "
                "check the API address under Settings.",
                permanent=True,
            )
        token = token.strip()
        self._tokens.add(token)
        refresh = payload.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            self._tokens.add(refresh)
        seconds = int_or_none(payload.get("expires_in"))
        if seconds is None or seconds <= 0:
            seconds = DEFAULT_TOKEN_SECONDS
        # A short-lived token is used for half its life rather than not at all.
        lifetime = seconds - TOKEN_MARGIN if seconds > 2 * TOKEN_MARGIN else seconds / 2
        self._token_expires_at = self.clock() + lifetime
        return token

    # -- words -------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without the connection's secrets or any token of this client."""
        return http.secrets_scrub(self._scrub_secrets(text), secrets={self._api_key, self._password, *self._tokens})

    def _scrubbed(self, exc: ConnectorError) -> ConnectorError:
        message = self._scrub(exc.message)
        if message == exc.message:
            return exc
        return type(exc)(message, permanent=exc.permanent, status=exc.status)

    def _error_text(self, response: requests.Response) -> str:
        """accessplanit's own words in an error body, quoted; "" when it has none."""
        said = ""
        try:
            payload = response.json()
        except ValueError:
            payload = None
            content_type = response.headers.get("Content-Type", "").lower()
            if "html" not in content_type and not response.text.lstrip().startswith("<"):
                said = response.text
        if isinstance(payload, dict):
            for key in ("Message", "message", "error_description", "error"):
                value = payload.get(key)
                if isinstance(value, str) and value.strip():
                    said = value
                    break
        elif isinstance(payload, str):
            said = payload
        words = http.quoted_words(self._scrub(said), limit=QUOTE_LIMIT)
        return f"“{words}”" if words else ""

    def _where(self, path: str) -> str:
        return http.safe_url(self.base_url + path)

    # -- waiting -----------------------------------------------------------

    def _retry_waits(self, status: int, seconds: float) -> None:
        sentence = http.retry_wait_sentence(vendor=ACCESSPLANIT, status=status, seconds=seconds)
        logger.info("%s", sentence)
        if self.on_wait is not None:
            self.on_wait(sentence)


# -- value helpers -------------------------------------------------------------


def _record_id(item: Any) -> str:
    return scalar_text(item.get("ID") if isinstance(item, dict) else None)


__all__ = [
    "ACCESSPLANIT",
    "DATE_LITERAL_FORMAT",
    "PAGE_SIZE",
    "AccessPlanItClient",
    "AccessPlanItUnreachable",
    "odata_all",
    "odata_any",
    "odata_literal",
    "odata_since",
]
