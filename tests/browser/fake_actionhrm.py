"""A stand-in ActionHRM for the browser tests: the VENDORS.md default profile.

A small threaded ``http.server`` on 127.0.0.1 at a free port. It speaks the
documented default profile only:

* HTTP Basic auth against one username/password; anything else gets
  ``401 {"error": …}`` with a ``WWW-Authenticate`` header;
* ``GET /api/v1/locations`` → ``{"locations": [{"id", "name"}, …]}``;
* ``GET /api/v1/employees?page=1&per_page=100`` →
  ``{"employees": […], "page": 1, "per_page": 100, "total": N}``, paged for
  real (a page past the end is empty).

The roster is plain data the test may replace between syncs
(``server.employees = server.employees[:2]``), e.g. to drop most people and
trip the safeguard. Every request is recorded in ``server.requests``.

    with FakeActionHRM(username="api-user", password="s3cret") as hrm:
        hrm.url  # "http://127.0.0.1:54321", the connection's Base URL
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOCATIONS_PATH = "/api/v1/locations"
EMPLOYEES_PATH = "/api/v1/employees"
MAX_PER_PAGE = 1000

LOCATIONS: list[dict[str, str]] = [
    {"id": "L1", "name": "Sydney Depot"},
    {"id": "L2", "name": "Melbourne Depot"},
    {"id": "L3", "name": "Brisbane Yard"},
]

_NAMES = [
    ("Ava", "Thompson", "Female"),
    ("Noah", "Williams", "Male"),
    ("Mia", "Nguyen", "Female"),
    ("Leo", "Patel", "Male"),
    ("Isla", "Brown", "Female"),
    ("Jack", "Wilson", "Male"),
    ("Grace", "Taylor", "Female"),
    ("Oliver", "Martin", "Male"),
    ("Chloe", "Anderson", "Female"),
    ("Lucas", "White", "Male"),
    ("Zoe", "Harris", "Female"),
    ("Henry", "Clarke", "Male"),
]


def sample_employees() -> list[dict[str, Any]]:
    """Twelve active employees spread over the three locations."""
    employees = []
    for index, (first, last, gender) in enumerate(_NAMES):
        number = 1001 + index
        employees.append({
            "id": f"E{number}",
            "employee_reference": f"REF-{number}",
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}@example.com",
            "date_of_birth": f"19{80 + index}-0{1 + index % 9}-1{index % 10}",
            "gender": gender,
            "mobile_phone": f"0400 100 {number % 1000:03d}",
            "home_phone": "",
            "work_phone": f"02 9000 {number}",
            "location_id": LOCATIONS[index % len(LOCATIONS)]["id"],
            "status": "Active",
        })
    return employees


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorised: bool


class FakeActionHRM:
    """Start with ``start()`` (or ``with``); stop with ``stop()``."""

    def __init__(
        self,
        *,
        username: str = "api-user",
        password: str = "correct-horse-battery",
        locations: list[dict[str, Any]] | None = None,
        employees: list[dict[str, Any]] | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self._lock = threading.Lock()
        self._locations = list(LOCATIONS if locations is None else locations)
        self._employees = list(sample_employees() if employees is None else employees)
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the roster, safe to change while a sync may be reading ---------------

    @property
    def employees(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._employees)

    @employees.setter
    def employees(self, value: list[dict[str, Any]]) -> None:
        with self._lock:
            self._employees = list(value)

    @property
    def locations(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._locations)

    @locations.setter
    def locations(self, value: list[dict[str, Any]]) -> None:
        with self._lock:
            self._locations = list(value)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake ActionHRM is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeActionHRM:
        handler = type("Handler", (_Handler,), {"fake": self})
        # Port 0: the kernel picks a free port, so parallel runs never clash.
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="fake-actionhrm",
            daemon=True,
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

    def __enter__(self) -> FakeActionHRM:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- used by the handler ---------------------------------------------------------

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, sep, password = decoded.partition(":")
        return bool(sep) and username == self.username and password == self.password

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeActionHRM  # set on the subclass made in FakeActionHRM.start
    server_version = "FakeActionHRM/1.0"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        authorised = self.fake._authorised(self.headers.get("Authorization"))
        self.fake._record(Request("GET", parts.path, query, authorised))
        if not authorised:
            self._json(401, {"error": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="ActionHRM"'})
            return
        path = parts.path.rstrip("/")
        if path == LOCATIONS_PATH:
            self._json(200, {"locations": self.fake.locations})
        elif path == EMPLOYEES_PATH:
            self._employees(query)
        else:
            self._json(404, {"error": "Not found"})

    def _employees(self, query: dict[str, list[str]]) -> None:
        try:
            page = int(query.get("page", ["1"])[0])
            per_page = int(query.get("per_page", ["100"])[0])
        except ValueError:
            self._json(400, {"error": "page and per_page must be whole numbers"})
            return
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            self._json(400, {"error": f"page must be >= 1 and per_page 1..{MAX_PER_PAGE}"})
            return
        roster = self.fake.employees
        start = (page - 1) * per_page
        self._json(200, {
            "employees": roster[start : start + per_page],
            "page": page,
            "per_page": per_page,
            "total": len(roster),
        })

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
