"""A stand-in Personio (API v1) on this machine, for the benchmark and the browser tests.

A small threaded ``http.server`` on 127.0.0.1 at a free port that speaks the
v1 wire format VENDORS.md describes, and enforces its limits:

* ``POST /v1/auth`` with ``client_id``/``client_secret`` in a JSON or form
  body → ``{"success":true,"data":{"token":"papi-…","expires_in":86400}}``;
  wrong credentials → 401, credentials in the query string → 403 (as Personio
  answers from 2026-12-04); at most 60 a minute.
* every other call needs ``Authorization: Bearer <token>`` (else 401);
* ``GET /v1/company/employees`` (``limit`` ≤ 100, default 50; ``offset`` a
  record offset; ``attributes[]``, ``email``, ``updated_since``),
  ``GET /v1/company/employees/{id}``, ``GET /v1/company/employees/attributes``;
* ``GET /v1/company/time-off-types``; ``GET /v1/company/time-offs`` (``offset``
  a page number from 1, 0 read as 1; ``limit`` ≤ 200; ``start_date``,
  ``end_date``, ``updated_from``), ``POST /v1/company/time-offs``,
  ``DELETE /v1/company/time-offs/{id}``.
* the employees endpoints answer 429 to more than 15 requests in any second
  or 300 in any minute (a ``Retry-After`` header only when ``retry_after`` is
  set), and all of v1 to more than 2,000 a minute. Only answered requests
  count towards a window: a client that backs off gets in again.

Errors are v1's envelope ``{"success":false,"error":{"code":…,"message":…}}``.

The data is plain and may be changed between syncs: ``fake.employees`` (dicts
from :func:`fake_personio_roster`; the wire shape is made per request),
``fake.time_offs``, ``fake.time_off_types``, ``fake.whitelist`` (the
attribute keys the API credential may read; ``None`` is all of them). Every
request is recorded in ``fake.requests``, the client secret masked; nothing
is printed.

    with FakePersonio(client_id="hrsync", client_secret="s3cret",
                      employees=fake_personio_roster(10_000)) as personio:
        personio.url  # "http://127.0.0.1:54321", the connection's base URL
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

AUTH_PATH = "/v1/auth"
EMPLOYEES_PATH = "/v1/company/employees"
ATTRIBUTES_PATH = "/v1/company/employees/attributes"
TIME_OFF_TYPES_PATH = "/v1/company/time-off-types"
TIME_OFFS_PATH = "/v1/company/time-offs"

EMPLOYEES_DEFAULT_LIMIT = 50
EMPLOYEES_MAX_LIMIT = 100
TIME_OFFS_MAX_LIMIT = 200
TOKEN_SECONDS = 86400
#: (requests, seconds) windows Personio publishes.
EMPLOYEES_LIMITS = ((15, 1.0), (300, 60.0))
AUTH_LIMITS = ((60, 60.0),)
ALL_V1_LIMITS = ((2000, 60.0),)
#: The headers a partner integration sends on every call, and the few others worth recording.
RECORDED_HEADERS = ("X-Personio-Partner-ID", "X-Personio-App-ID", "User-Agent", "Content-Type", "Accept")

#: The company's time zone: Personio writes dates as midnight there, "2014-11-09T00:00:00+01:00".
TZ = dt.timezone(dt.timedelta(hours=1))

#: key → (label, type, universal_id, options). Order is Personio's attribute list order.
ATTRIBUTES: dict[str, tuple[str, str, str | None, list[str] | None]] = {
    "id": ("ID", "integer", "id", None),
    "first_name": ("First name", "standard", "first_name", None),
    "last_name": ("Last name", "standard", "last_name", None),
    "preferred_name": ("Preferred name", "standard", "preferred_name", None),
    "email": ("Email", "standard", "email", None),
    "gender": ("Gender", "standard", "gender", None),
    "status": ("Status", "standard", "status", None),
    "position": ("Position", "standard", "position", None),
    "hire_date": ("Hire date", "date", "hire_date", None),
    "termination_date": ("Termination date", "date", "termination_date", None),
    "last_working_day": ("Last day of work", "date", "last_working_day", None),
    "supervisor": ("Supervisor", "standard", "supervisor", None),
    "office": ("Office", "standard", "office", None),
    "department": ("Department", "standard", "department", None),
    "dynamic_21": ("Employee number", "standard", None, None),
    "dynamic_2": ("Marital status", "list", None, ["married", "single"]),
}
DATE_KEYS = frozenset(key for key, (_, kind, _, _) in ATTRIBUTES.items() if kind == "date")
#: What a nested supervisor carries (each as a full attribute).
SUPERVISOR_KEYS = ("id", "first_name", "last_name", "email")

OFFICES = ("Munich", "Berlin", "Madrid", "London", "Amsterdam")
DEPARTMENTS = ("Operations", "Sales", "Engineering", "People", "Finance", "Customer Success")
POSITIONS = (
    "Account Executive", "Backend Engineer", "Customer Success Manager", "Data Analyst", "Designer",
    "Finance Manager", "HR Generalist", "Office Manager", "Operations Lead", "Product Manager",
    "Recruiter", "Support Specialist", "Team Lead", "Warehouse Associate",
)
FIRST_NAMES = (
    "Andreas Anna Ben Carla Chen Clara David Elena Emil Eva Felix Fatma Hannah Ines Jakob Jana "
    "Jonas Julia Kai Laura Leon Lina Lukas Maria Mateo Mia Noah Nora Omar Paul Sara Sofia Tim Yara"
).split()
LAST_NAMES = (
    "Bauer Becker Fischer Garcia Hoffmann Jansen Klein Koch Lopez Martin Meyer Müller Novak "
    "Richter Schmidt Schneider Schulz Silva Wagner Weber Wolf Yilmaz Zimmermann"
).split()
#: Statuses and how often they occur (out of 100).
STATUSES = (("active", 90), ("leave", 3), ("onboarding", 3), ("inactive", 4))
#: People per supervisor: everyone but the first reports to someone with a smaller id.
SPAN = 8
#: "Today" for the roster, so the same arguments always give the same people.
ROSTER_TODAY = dt.date(2026, 12, 1)

TIME_OFF_TYPES: list[dict[str, Any]] = [
    {"id": 1, "name": "Paid vacation", "category": "paid_vacation"},
    {"id": 2, "name": "Sick leave", "category": "sick_leave"},
    {"id": 3, "name": "Parental leave", "category": "parental_leave"},
]


def fake_personio_roster(
    n: int, *, offices: Iterable[str] = OFFICES, seed: int = 2026
) -> list[dict[str, Any]]:
    """``n`` deterministic employees, ids 1…n, as plain dicts.

    Keys are Personio's attribute keys with plain values: dates are
    ``datetime.date`` or ``None``, ``supervisor`` is the supervisor's id (or
    ``None``), ``office``/``department`` are ``{"id", "name"}``, and
    ``updated_at`` (not an attribute) is what ``updated_since`` filters on.
    Supervisors form a tree (employee 1 at the top, ``SPAN`` reports each);
    most are active, a few on leave, onboarding (hired in the future) or
    inactive (left, with a termination date and last working day).
    """
    rng = random.Random(f"personio:{seed}:{n}")
    office_list = [{"id": index, "name": name} for index, name in enumerate(offices, start=1)]
    departments = [{"id": 100 + index, "name": name} for index, name in enumerate(DEPARTMENTS, start=1)]
    statuses, weights = zip(*STATUSES, strict=True)
    updated = dt.datetime(2026, 11, 1, 9, 0, tzinfo=TZ)
    roster = []
    for number in range(1, n + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        status = "active" if number == 1 else rng.choices(statuses, weights)[0]
        hire = dt.date(rng.randint(2012, 2026), rng.randint(1, 12), rng.randint(1, 28))
        if hire > ROSTER_TODAY:
            hire = ROSTER_TODAY - dt.timedelta(days=rng.randint(30, 3000))
        termination = last_day = None
        if status == "onboarding":
            hire = ROSTER_TODAY + dt.timedelta(days=rng.randint(1, 90))
        elif status == "inactive":
            last_day = ROSTER_TODAY - dt.timedelta(days=rng.randint(1, 400))
            termination = last_day + dt.timedelta(days=rng.choice((0, 0, 14, 30)))
            hire = min(hire, last_day - dt.timedelta(days=200))
        roster.append({
            "id": number,
            "first_name": first,
            "last_name": last,
            "preferred_name": "",
            "email": f"{first}.{last}.{number}@example.com".lower().replace("ü", "ue"),
            "gender": rng.choice(("male", "female", "male", "female", "diverse")),
            "status": status,
            "position": rng.choice(POSITIONS),
            "hire_date": hire,
            "termination_date": termination,
            "last_working_day": last_day,
            "supervisor": None if number == 1 else (number - 2) // SPAN + 1,
            "office": dict(office_list[number % len(office_list)]),
            "department": dict(departments[number % len(departments)]),
            "dynamic_21": f"EMP-{number:06d}",
            "dynamic_2": rng.choice(("married", "single", "")),
            "updated_at": updated + dt.timedelta(minutes=number % 1440),
        })
    return roster


def fake_personio_time_offs(
    employees: list[dict[str, Any]], *, count: int, start: dt.date = dt.date(2026, 12, 1), seed: int = 2026
) -> list[dict[str, Any]]:
    """``count`` deterministic time-offs (ids 1…count) of the given employees, as plain dicts."""
    rng = random.Random(f"personio-time-offs:{seed}:{count}")
    created = dt.datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
    time_offs = []
    for number in range(1, count + 1):
        first = start + dt.timedelta(days=rng.randint(0, 120))
        days = rng.randint(1, 10)
        time_offs.append(_time_off(
            number=number,
            employee_id=rng.choice(employees)["id"],
            time_off_type_id=rng.choice(TIME_OFF_TYPES)["id"],
            start_date=first,
            end_date=first + dt.timedelta(days=days - 1),
            half_day_start=False,
            half_day_end=False,
            comment="",
            status="approved",
            at=created + dt.timedelta(minutes=number),
        ))
    return time_offs


def _time_off(*, number: int, at: dt.datetime, **fields: Any) -> dict[str, Any]:
    days = (fields["end_date"] - fields["start_date"]).days + 1
    days_count = days - 0.5 * (bool(fields["half_day_start"]) + bool(fields["half_day_end"]))
    return {
        "id": number,
        # Deterministic, so the same arguments give the same v2 ids.
        "id_v2": str(uuid.UUID(int=number, version=4)),
        **fields,
        "days_count": days_count,
        "created_at": at,
        "updated_at": at,
    }


def _wire_date(value: dt.date | None) -> str | None:
    if value is None:
        return None
    return dt.datetime.combine(value, dt.time(), tzinfo=TZ).isoformat()


def _wire_datetime(value: dt.datetime) -> str:
    return value.astimezone(TZ).isoformat(timespec="seconds")


def _attribute(key: str, value: Any) -> dict[str, Any]:
    label, kind, universal_id, _ = ATTRIBUTES[key]
    return {"label": label, "value": value, "type": kind, "universal_id": universal_id}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    #: A subset of the request's headers (RECORDED_HEADERS that were sent).
    headers: dict[str, str]
    authorised: bool
    #: The parsed JSON or form body (``client_secret`` masked), or None.
    body: dict[str, Any] | None = None
    status: int = 0
    #: When it arrived, on the fake's clock (``time.monotonic`` unless a test gave its own).
    at: float = 0.0

    @property
    def partner_headers(self) -> bool:
        """Whether both ``X-Personio-Partner-ID`` and ``X-Personio-App-ID`` were sent."""
        return "X-Personio-Partner-ID" in self.headers and "X-Personio-App-ID" in self.headers


class SlidingWindows:
    """Personio's limits as sliding windows over answered requests."""

    def __init__(self, limits: Iterable[tuple[int, float]], clock: Callable[[], float]) -> None:
        self.limits = tuple(limits)
        self.clock = clock
        self._times: deque[float] = deque()
        self._longest = max(seconds for _, seconds in self.limits)

    def wait(self) -> float:
        """Seconds until one more request would be let in (0: now)."""
        now = self.clock()
        while self._times and self._times[0] <= now - self._longest:
            self._times.popleft()
        wait = 0.0
        for count, seconds in self.limits:
            recent = [t for t in self._times if t > now - seconds]
            if len(recent) >= count:
                # The window frees when its oldest counted request ages out.
                wait = max(wait, recent[len(recent) - count] + seconds - now)
        return wait

    def record(self) -> None:
        self._times.append(self.clock())


@dataclass
class _Failure:
    remaining: int
    status: int
    path: str | None = None


class FakePersonio:
    """Start with ``start()`` (or ``with``); stop with ``stop()``.

    ``retry_after``: ``None`` sends no ``Retry-After`` with a 429 (Personio
    documents none); ``True`` sends the whole seconds until the window has
    room; a number sends that number. ``employee_limits``: the employees
    endpoints' ``(requests, seconds)`` windows. ``clock`` is the windows'
    and the tokens' clock (``time.monotonic``); a test may pass its own to
    step time, and ``Request.at`` is read from it.
    """

    def __init__(
        self,
        *,
        client_id: str = "hrsync-client",
        client_secret: str = "hrsync-secret",
        employees: list[dict[str, Any]] | None = None,
        time_offs: list[dict[str, Any]] | None = None,
        time_off_types: list[dict[str, Any]] | None = None,
        whitelist: Iterable[str] | None = None,
        retry_after: bool | float | None = None,
        employee_limits: Iterable[tuple[int, float]] = EMPLOYEES_LIMITS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.employees: list[dict[str, Any]] = list(fake_personio_roster(12) if employees is None else employees)
        self.time_offs: list[dict[str, Any]] = list(time_offs or [])
        self.time_off_types: list[dict[str, Any]] = [
            dict(t) for t in (TIME_OFF_TYPES if time_off_types is None else time_off_types)
        ]
        self.whitelist: set[str] | None = None if whitelist is None else set(whitelist)
        self.retry_after = retry_after
        self.clock = clock
        self.requests: list[Request] = []
        #: POST /v1/auth calls, answered or not.
        self.auth_calls = 0
        #: 429s sent because a rate window was full (not the ones fail_next asked for).
        self.rate_limited = 0
        #: Every 429 sent, for whatever reason.
        self.too_many_requests = 0
        self._tokens: dict[str, float] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._employee_windows = SlidingWindows(employee_limits, clock)
        self._auth_windows = SlidingWindows(AUTH_LIMITS, clock)
        self._all_windows = SlidingWindows(ALL_V1_LIMITS, clock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- switches for tests ---------------------------------------------------------

    def fail_next(self, count: int, *, status: int = 503, path: str | None = None) -> None:
        """Answer the next ``count`` requests (to ``path`` only, if given) with ``status``."""
        with self._lock:
            self._failures.append(_Failure(count, status, path))

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as after 24 hours)."""
        with self._lock:
            self._tokens.clear()

    def requests_to(self, path: str, method: str = "GET") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path and r.method == method]

    # -- lifecycle -----------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Personio is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakePersonio:
        handler = type("Handler", (_Handler,), {"fake": self})
        # Port 0: the kernel picks a free port, so parallel runs never clash.
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="fake-personio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakePersonio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- used by the handler ---------------------------------------------------------

    def _issue_token(self) -> str:
        token = f"papi-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = self.clock() + TOKEN_SECONDS
        return token

    def _token_valid(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            expires = self._tokens.get(header[7:].strip())
        return expires is not None and self.clock() < expires

    def _forced_failure(self, path: str) -> int | None:
        with self._lock:
            for failure in self._failures:
                if failure.remaining > 0 and (failure.path is None or failure.path == path):
                    failure.remaining -= 1
                    return failure.status
            self._failures = [f for f in self._failures if f.remaining > 0]
        return None

    def _admit(self, windows: SlidingWindows) -> float | None:
        """Count the request in its windows and return None, or return how long to wait."""
        with self._lock:
            chosen = [self._all_windows] if windows is self._all_windows else [self._all_windows, windows]
            wait = max(w.wait() for w in chosen)
            if wait > 0:
                return wait
            for w in chosen:
                w.record()
            return None

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _visible_keys(self, requested: list[str]) -> list[str]:
        keys = [key for key in ATTRIBUTES if self.whitelist is None or key in self.whitelist or key == "id"]
        if requested:
            wanted = set(requested) | {"id"}
            keys = [key for key in keys if key in wanted]
        return keys

    def _employee_item(self, employee: dict[str, Any], keys: list[str], by_id: dict[int, dict[str, Any]]) -> dict:
        attributes = {}
        for key in keys:
            value = employee.get(key)
            if key in DATE_KEYS:
                value = _wire_date(value)
            elif key == "supervisor":
                boss = by_id.get(value) if value is not None else None
                value = None if boss is None else {
                    "type": "Employee",
                    "attributes": {k: _attribute(k, boss.get(k)) for k in SUPERVISOR_KEYS},
                }
            elif key == "office" and value:
                value = {"type": "Office", "attributes": {"id": value["id"], "name": value["name"]}}
            elif key == "department" and value:
                value = {"type": "Department", "attributes": {"id": value["id"], "name": value["name"]}}
            elif key in ("office", "department"):
                value = None
            attributes[key] = _attribute(key, value)
        return {"type": "Employee", "attributes": attributes}

    def _time_off_item(self, time_off: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> dict:
        kind = next((t for t in self.time_off_types if t["id"] == time_off["time_off_type_id"]), None)
        person = by_id.get(time_off["employee_id"], {"id": time_off["employee_id"]})
        return {
            "type": "TimeOffPeriod",
            "attributes": {
                "id": time_off["id"],
                "status": time_off["status"],
                "comment": time_off.get("comment", ""),
                "start_date": _wire_date(time_off["start_date"]),
                "end_date": _wire_date(time_off["end_date"]),
                "days_count": time_off["days_count"],
                "half_day_start": int(bool(time_off["half_day_start"])),
                "half_day_end": int(bool(time_off["half_day_end"])),
                "time_off_type": {
                    "type": "TimeOffType", "attributes": dict(kind or {"id": time_off["time_off_type_id"]}),
                },
                "employee": {
                    "type": "Employee",
                    "attributes": {k: _attribute(k, person.get(k)) for k in SUPERVISOR_KEYS},
                },
                "created_by": "API",
                "certificate": {"status": "not-required"},
                "created_at": _wire_datetime(time_off["created_at"]),
                "updated_at": _wire_datetime(time_off["updated_at"]),
                "id_v2": time_off["id_v2"],
            },
        }


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _one(query: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    values = query.get(name)
    return values[0] if values else default


def _whole(query: dict[str, list[str]], name: str, default: int) -> int:
    value = _one(query, name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"The {name} parameter must be a whole number.") from None


def _moment(value: str, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"The {name} parameter must be a date or date-time (ISO 8601).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=TZ)


def _day(value: Any, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadRequest(f"The {name} field must be a date (YYYY-MM-DD).", status=422) from None


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")


def _page_envelope(items: list, *, total: int, limit: int, offset: int, current_page: int) -> dict[str, Any]:
    return {
        "success": True,
        "metadata": {
            "total_elements": total,
            "current_page": current_page,
            "total_pages": math.ceil(total / limit) if limit else 0,
        },
        "offset": offset,
        "limit": limit,
        "data": items,
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakePersonio  # set on the subclass made in FakePersonio.start
    server_version = "FakePersonio/1.0"
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm
        # and the client's delayed ACK hold every kept-alive answer ~40 ms, which
        # the benchmark would report as Personio's time.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # -- dispatch ------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        arrived = self.fake.clock()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        body = self._read_body()
        fake = self.fake
        is_auth = method == "POST" and path == AUTH_PATH
        if is_auth:
            with fake._lock:
                fake.auth_calls += 1
        authorised = is_auth or fake._token_valid(self.headers.get("Authorization"))
        headers = {name: self.headers[name] for name in RECORDED_HEADERS if name in self.headers}
        status, payload, extra = self._answer(method, path, query, body, authorised)
        if status == 429:
            with fake._lock:
                fake.too_many_requests += 1
        masked = None if body is None else {k: ("***" if k == "client_secret" else v) for k, v in body.items()}
        fake._record(Request(method, path, query, headers, authorised and not is_auth, masked, status, arrived))
        self._json(status, payload, extra)

    def _answer(self, method, path, query, body, authorised) -> tuple[int, Any, dict[str, str]]:
        fake = self.fake
        forced = fake._forced_failure(path)
        if forced is not None:
            if forced == 429:
                return 429, _error("Too Many Requests"), self._retry_after_header(1.0)
            return forced, _error("The service is temporarily unavailable."), {}
        is_auth = method == "POST" and path == AUTH_PATH
        if is_auth:
            windows = fake._auth_windows
        elif not authorised:
            return 401, _error("The access token is missing, invalid or expired."), {}
        elif path == EMPLOYEES_PATH or path.startswith(EMPLOYEES_PATH + "/"):
            windows = fake._employee_windows
        else:
            windows = fake._all_windows
        wait = fake._admit(windows)
        if wait is not None:
            if windows is fake._employee_windows:
                with fake._lock:
                    fake.rate_limited += 1
            return 429, _error("Too Many Requests"), self._retry_after_header(wait)
        if is_auth:
            return self._auth(query, body)
        try:
            return self._route(method, path, query, body)
        except BadRequest as exc:
            return exc.status, _error(str(exc)), {}

    def _route(self, method, path, query, body) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and path == EMPLOYEES_PATH:
            return 200, self._employees(query), {}
        if method == "GET" and path == ATTRIBUTES_PATH:
            return 200, self._attributes(), {}
        if method == "GET" and path.startswith(EMPLOYEES_PATH + "/"):
            return self._employee(path.rsplit("/", 1)[1], query)
        if method == "GET" and path == TIME_OFF_TYPES_PATH:
            items = [{"type": "TimeOffType", "attributes": dict(t)} for t in self.fake.time_off_types]
            return 200, {"success": True, "data": items}, {}
        if method == "GET" and path == TIME_OFFS_PATH:
            return 200, self._time_offs(query), {}
        if method == "POST" and path == TIME_OFFS_PATH:
            return 200, self._time_off_create(body or {}), {}
        if method == "DELETE" and path.startswith(TIME_OFFS_PATH + "/"):
            return self._time_off_delete(path.rsplit("/", 1)[1])
        return 404, _error("Not found."), {}

    # -- endpoints ---------------------------------------------------------------------------

    def _auth(self, query, body) -> tuple[int, Any, dict[str, str]]:
        fake = self.fake
        if "client_id" in query or "client_secret" in query:
            return 403, _error("Credentials in the query string are not accepted; send them in the body."), {}
        body = body or {}
        if body.get("client_id") != fake.client_id or body.get("client_secret") != fake.client_secret:
            return 401, _error("Wrong credentials."), {}
        return 200, {"success": True, "data": {"token": fake._issue_token(), "expires_in": TOKEN_SECONDS}}, {}

    def _employees(self, query) -> dict[str, Any]:
        fake = self.fake
        limit = _whole(query, "limit", EMPLOYEES_DEFAULT_LIMIT)
        offset = _whole(query, "offset", 0)
        if not 1 <= limit <= EMPLOYEES_MAX_LIMIT:
            raise BadRequest(f"The limit must be between 1 and {EMPLOYEES_MAX_LIMIT}.")
        if offset < 0:
            raise BadRequest("The offset must not be negative.")
        roster = list(fake.employees)
        by_id = {e["id"]: e for e in roster}
        email = _one(query, "email")
        if email:
            roster = [e for e in roster if (e.get("email") or "").lower() == email.strip().lower()]
        since = _one(query, "updated_since")
        if since:
            moment = _moment(since, "updated_since")
            roster = [e for e in roster if e["updated_at"] >= moment]
        keys = fake._visible_keys([v for v in query.get("attributes[]", []) if v])
        items = [fake._employee_item(e, keys, by_id) for e in roster[offset : offset + limit]]
        return _page_envelope(items, total=len(roster), limit=limit, offset=offset, current_page=offset // limit)

    def _employee(self, raw_id: str, query) -> tuple[int, Any, dict[str, str]]:
        roster = list(self.fake.employees)
        by_id = {e["id"]: e for e in roster}
        employee = by_id.get(int(raw_id)) if raw_id.isdigit() else None
        if employee is None:
            return 404, _error("The employee was not found."), {}
        keys = self.fake._visible_keys([v for v in query.get("attributes[]", []) if v])
        return 200, {"success": True, "data": self.fake._employee_item(employee, keys, by_id)}, {}

    def _attributes(self) -> dict[str, Any]:
        data = []
        for key in self.fake._visible_keys([]):
            label, kind, universal_id, options = ATTRIBUTES[key]
            item: dict[str, Any] = {"key": key, "label": label, "type": kind, "universal_id": universal_id}
            if options is not None:
                item["options"] = list(options)
            data.append(item)
        return {"success": True, "data": data}

    def _time_offs(self, query) -> dict[str, Any]:
        fake = self.fake
        limit = _whole(query, "limit", TIME_OFFS_MAX_LIMIT)
        # Personio reads offset as a page number from 1, and 0 as 1.
        page = max(_whole(query, "offset", 1), 1)
        if not 1 <= limit <= TIME_OFFS_MAX_LIMIT:
            raise BadRequest(f"The limit must be between 1 and {TIME_OFFS_MAX_LIMIT}.")
        rows = list(fake.time_offs)
        start, end, updated = (_one(query, name) for name in ("start_date", "end_date", "updated_from"))
        if start:
            first = _moment(start, "start_date").date()
            rows = [t for t in rows if t["end_date"] >= first]
        if end:
            last = _moment(end, "end_date").date()
            rows = [t for t in rows if t["start_date"] <= last]
        if updated:
            moment = _moment(updated, "updated_from")
            rows = [t for t in rows if t["updated_at"] >= moment]
        wanted = {int(v) for v in query.get("employees[]", []) if v.isdigit()}
        if wanted:
            rows = [t for t in rows if t["employee_id"] in wanted]
        by_id = {e["id"]: e for e in fake.employees}
        items = [fake._time_off_item(t, by_id) for t in rows[(page - 1) * limit : page * limit]]
        return _page_envelope(items, total=len(rows), limit=limit, offset=page, current_page=page)

    def _time_off_create(self, body: dict[str, Any]) -> dict[str, Any]:
        fake = self.fake
        for name in ("employee_id", "time_off_type_id", "start_date", "end_date", "half_day_start", "half_day_end"):
            if body.get(name) in (None, ""):
                raise BadRequest(f"The {name} field is required.", status=422)
        by_id = {e["id"]: e for e in fake.employees}
        try:
            employee_id, type_id = int(body["employee_id"]), int(body["time_off_type_id"])
        except (TypeError, ValueError):
            raise BadRequest("employee_id and time_off_type_id must be whole numbers.", status=422) from None
        if employee_id not in by_id:
            raise BadRequest(f"There is no employee with id {employee_id}.", status=422)
        if not any(t["id"] == type_id for t in fake.time_off_types):
            raise BadRequest(f"There is no time-off type with id {type_id}.", status=422)
        start, end = _day(body["start_date"], "start_date"), _day(body["end_date"], "end_date")
        if end < start:
            raise BadRequest("The end_date must not be before the start_date.", status=422)
        with fake._lock:
            number = max((t["id"] for t in fake.time_offs), default=0) + 1
            time_off = _time_off(
                number=number, at=dt.datetime.now(TZ).replace(microsecond=0),
                employee_id=employee_id, time_off_type_id=type_id, start_date=start, end_date=end,
                half_day_start=_flag(body["half_day_start"]), half_day_end=_flag(body["half_day_end"]),
                comment=str(body.get("comment") or ""), status="approved",
            )
            fake.time_offs.append(time_off)
        return {"success": True, "data": fake._time_off_item(time_off, by_id)}

    def _time_off_delete(self, raw_id: str) -> tuple[int, Any, dict[str, str]]:
        fake = self.fake
        with fake._lock:
            kept = [t for t in fake.time_offs if str(t["id"]) != raw_id]
            gone = len(kept) == len(fake.time_offs)
            fake.time_offs[:] = kept
        if gone:
            return 404, _error("The absence period was not found."), {}
        return 200, {"success": True, "data": {"message": "The absence period was deleted."}}, {}

    # -- plumbing ----------------------------------------------------------------------------

    def _read_body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if kind == "application/json":
                parsed = json.loads(raw)
                return parsed if isinstance(parsed, dict) else None
            if kind == "application/x-www-form-urlencoded":
                return {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        except (ValueError, UnicodeDecodeError):
            return None
        return None

    def _retry_after_header(self, wait: float) -> dict[str, str]:
        setting = self.fake.retry_after
        if setting is None or setting is False:
            return {}
        seconds = max(1, math.ceil(wait)) if setting is True else setting
        return {"Retry-After": f"{seconds:g}"}

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: the test reads fake.requests instead


def _error(message: str) -> dict[str, Any]:
    # v1 puts 0 in the code of the errors it documents; the HTTP status says which error it is.
    return {"success": False, "error": {"code": 0, "message": message}}
