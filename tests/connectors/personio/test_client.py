"""The Personio API v1 client against payloads shaped as VENDORS.md ("Personio") says."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core.cache import cache

from connectors.base import SCRUBBED, ConnectorError
from connectors.http import RateLimiter
from connectors.personio.client import (
    EMPLOYEE_LIMITS,
    EMPLOYEES_PAGE_LIMIT,
    MAX_ATTEMPTS,
    PersonioClient,
    token_cache_key,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "personio"
BASE = "https://api.personio.de"
AUTH = f"{BASE}/v1/auth"
EMPLOYEES = f"{BASE}/v1/company/employees"
ATTRIBUTES = f"{BASE}/v1/company/employees/attributes"
TIME_OFF_TYPES = f"{BASE}/v1/company/time-off-types"
TIME_OFFS = f"{BASE}/v1/company/time-offs"
CLIENT_ID = "papi-7c1e4b2a-client"
CLIENT_SECRET = "papi-Zq8w-Tr0ub4dor-3-secret"
PARTNER_ID = "HRSYNC"
APP_ID = "HRSYNC_PEOPLE_SYNC"
FIRST_TOKEN = "papi-eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.first-token"
SECOND_TOKEN = "papi-eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.second-token"
ATTRIBUTE_KEYS = ["first_name", "last_name", "email", "status", "office", "dynamic_7"]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def token_body(token: str = FIRST_TOKEN, expires_in: int = 86400) -> dict[str, Any]:
    body = fixture("auth_token.json")
    body["data"].update(token=token, expires_in=expires_in)
    return body


def employee(number: int) -> dict[str, Any]:
    """An employee item shaped like the recorded one, with its own id and email."""
    item = copy.deepcopy(fixture("employees_page.json")["data"][0])
    item["attributes"]["id"]["value"] = number
    item["attributes"]["email"]["value"] = f"person{number}@example.com"
    return item


def employees_page(offset: int, count: int, total: int) -> dict[str, Any]:
    body = fixture("employees_page.json")
    body.update(offset=offset, limit=EMPLOYEES_PAGE_LIMIT)
    body["metadata"] = {
        "total_elements": total,
        "current_page": offset // EMPLOYEES_PAGE_LIMIT,
        "total_pages": -(-total // EMPLOYEES_PAGE_LIMIT),
    }
    body["data"] = [employee(number) for number in range(offset + 1, offset + count + 1)]
    return body


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def calls_to(mocked: responses.RequestsMock, url: str) -> list[Any]:
    return [call for call in mocked.calls if call.request.url.split("?")[0] == url]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def mocked():
    # An unregistered URL fails with a ConnectionError: nothing reaches the network.
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def waits() -> list[str]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(sleeps, waits, clock):
    """A client whose session records its waits and whose limiter runs on a fake clock."""

    def make(**overrides: Any) -> PersonioClient:
        options: dict[str, Any] = {
            "base_url": BASE,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "partner_id": PARTNER_ID,
            "app_id": APP_ID,
            "scrub": lambda text: text,  # the client must scrub its own secrets even so
            "on_wait": waits.append,
            "limiter": RateLimiter(EMPLOYEE_LIMITS, clock=clock, sleep=clock.sleep),
        } | overrides
        client = PersonioClient(**options)
        client.session.sleep = sleeps.append
        return client

    return make


def auth_ok(mocked, token: str = FIRST_TOKEN, **kwargs: Any) -> None:
    mocked.post(AUTH, json=token_body(token, **kwargs))


# -- employees ---------------------------------------------------------------


def test_three_pages_of_employees_are_read_by_record_offset_asking_for_every_attribute(mocked, make):
    auth_ok(mocked)
    for offset, count in ((0, 100), (100, 100), (200, 50)):
        mocked.get(EMPLOYEES, json=employees_page(offset, count, total=250))

    read = list(make().employees(attributes=ATTRIBUTE_KEYS))

    pages = calls_to(mocked, EMPLOYEES)
    assert [query(call)["offset"] for call in pages] == [["0"], ["100"], ["200"]]
    assert all(query(call)["limit"] == [str(EMPLOYEES_PAGE_LIMIT)] for call in pages)
    assert EMPLOYEES_PAGE_LIMIT <= 100
    assert all(query(call)["attributes[]"] == ATTRIBUTE_KEYS for call in pages)
    assert all("updated_since" not in query(call) for call in pages)
    assert [page for page, _ in read] == [1] * 100 + [2] * 100 + [3] * 50
    assert [item["attributes"]["id"]["value"] for _, item in read] == list(range(1, 251))
    assert read[0][1]["type"] == "Employee"


def test_a_delta_asks_for_employees_updated_since_a_time_without_microseconds(mocked, make):
    auth_ok(mocked)
    mocked.get(EMPLOYEES, json=employees_page(0, 2, total=2))

    list(make().employees(attributes=["email"], updated_since=dt.datetime(2026, 11, 30, 8, 15, 0, 123456)))

    assert query(calls_to(mocked, EMPLOYEES)[0])["updated_since"] == ["2026-11-30T08:15:00"]


def test_a_page_that_repeats_the_previous_one_stops_the_read_with_an_error(mocked, make):
    auth_ok(mocked)
    mocked.get(EMPLOYEES, json=employees_page(0, 100, total=300))
    mocked.get(EMPLOYEES, json=employees_page(100, 100, total=300))
    mocked.get(EMPLOYEES, json=employees_page(100, 100, total=300))  # asked for offset 200

    read = []
    with pytest.raises(ConnectorError) as caught:
        for item in make().employees(attributes=ATTRIBUTE_KEYS):
            read.append(item)

    assert str(caught.value).startswith(
        "Personio sent the same employees for offset 200 as for offset 100 of api.personio.de/v1/company/employees."
    )
    assert len(read) == 200


def test_an_empty_page_before_the_total_is_a_transient_error_saying_how_many_were_read(mocked, make):
    auth_ok(mocked)
    mocked.get(EMPLOYEES, json=employees_page(0, 100, total=250))
    mocked.get(EMPLOYEES, json=employees_page(100, 0, total=250))

    with pytest.raises(ConnectorError) as caught:
        list(make().employees(attributes=ATTRIBUTE_KEYS))

    assert caught.value.permanent is False
    assert "after 100 of the 250 it said there are" in str(caught.value)
    assert "partial list" in str(caught.value)


def test_employee_attributes_are_the_data_list(mocked, make):
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))

    attributes = make().attributes()

    assert [attribute["key"] for attribute in attributes][-2:] == ["dynamic_2", "dynamic_7"]
    assert attributes[-2]["options"] == ["married", "single"]


# -- auth and the token --------------------------------------------------------


def test_the_credentials_go_only_in_the_auth_body_and_the_token_in_the_header(mocked, make):
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))
    mocked.get(EMPLOYEES, json=employees_page(0, 2, total=2))

    client = make()
    client.attributes()
    list(client.employees(attributes=ATTRIBUTE_KEYS))

    auth, *data = mocked.calls
    assert auth.request.url == AUTH
    assert json.loads(auth.request.body) == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert "Authorization" not in auth.request.headers
    for call in mocked.calls:
        assert CLIENT_ID not in call.request.url and CLIENT_SECRET not in call.request.url
    assert [call.request.headers["Authorization"] for call in data] == [f"Bearer {FIRST_TOKEN}"] * 2
    for call in data:
        assert CLIENT_SECRET not in (call.request.body or "")


def test_the_partner_and_app_headers_go_on_every_call_auth_included(mocked, make):
    auth_ok(mocked)
    mocked.get(TIME_OFF_TYPES, json=fixture("time_off_types.json"))
    mocked.delete(f"{TIME_OFFS}/9001", json=fixture("time_off_deleted.json"))

    client = make()
    client.time_off_types()
    client.time_off_delete(time_off_id="9001")

    assert len(mocked.calls) == 3
    for call in mocked.calls:
        assert call.request.headers["X-Personio-Partner-ID"] == PARTNER_ID
        assert call.request.headers["X-Personio-App-ID"] == APP_ID
        assert call.request.headers["User-Agent"].endswith(" personio")


def test_a_second_client_reuses_the_token_so_two_reads_log_in_once(mocked, make):
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))

    make().attributes()
    make().attributes()

    assert len(calls_to(mocked, AUTH)) == 1
    assert [call.request.headers["Authorization"] for call in calls_to(mocked, ATTRIBUTES)] == [
        f"Bearer {FIRST_TOKEN}"
    ] * 2


def test_the_cached_token_is_encrypted_under_a_key_that_does_not_reveal_the_secret(mocked, make):
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))

    make().attributes()

    key = token_cache_key(base_url=BASE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    stored = cache.get(key)
    assert stored and FIRST_TOKEN not in stored and "papi-" not in stored
    assert CLIENT_SECRET not in key and CLIENT_ID not in key


def test_new_credentials_or_another_address_never_reuse_an_old_token(mocked, make):
    auth_ok(mocked)
    auth_ok(mocked, SECOND_TOKEN)
    mocked.post("https://api.personio.example/v1/auth", json=token_body("papi-other-host"))
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))
    mocked.get("https://api.personio.example/v1/company/employees/attributes", json=fixture("attributes.json"))

    make().attributes()
    make(client_secret="papi-a-new-secret").attributes()
    make(base_url="https://api.personio.example").attributes()

    assert [call.request.headers["Authorization"] for call in mocked.calls if call.request.method == "GET"] == [
        f"Bearer {FIRST_TOKEN}", f"Bearer {SECOND_TOKEN}", "Bearer papi-other-host",
    ]


def test_the_token_cache_is_shared_through_files_by_separate_processes(mocked, make, settings, tmp_path):
    file_cache = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                              "LOCATION": str(tmp_path / "cache")}}
    settings.CACHES = file_cache
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))
    make().attributes()

    settings.CACHES = copy.deepcopy(file_cache)  # a fresh cache object, as another process has
    make().attributes()

    assert len(calls_to(mocked, AUTH)) == 1
    for path in (tmp_path / "cache").iterdir():
        assert FIRST_TOKEN.encode() not in path.read_bytes()


def test_a_token_past_its_lifetime_less_the_margin_is_not_reused(mocked, make, monkeypatch):
    auth_ok(mocked, expires_in=3600)
    auth_ok(mocked, SECOND_TOKEN)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))
    make().attributes()
    now = __import__("time").time()
    monkeypatch.setattr("time.time", lambda: now + 3600 - 299)  # inside the 300 s margin

    make().attributes()

    assert [call.request.headers["Authorization"] for call in calls_to(mocked, ATTRIBUTES)] == [
        f"Bearer {FIRST_TOKEN}", f"Bearer {SECOND_TOKEN}",
    ]


def test_a_refused_token_is_renewed_once_and_the_call_repeated(mocked, make):
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))
    make().attributes()  # FIRST_TOKEN is now cached
    mocked.get(ATTRIBUTES, status=401, json={"success": False, "error": {"code": 0, "message": "Unauthorized"}})
    auth_ok(mocked, SECOND_TOKEN)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))

    attributes = make().attributes()

    assert attributes == fixture("attributes.json")["data"]
    assert len(calls_to(mocked, AUTH)) == 2
    assert [call.request.headers["Authorization"] for call in calls_to(mocked, ATTRIBUTES)] == [
        f"Bearer {FIRST_TOKEN}", f"Bearer {FIRST_TOKEN}", f"Bearer {SECOND_TOKEN}",
    ]
    # The renewed token is what the next run finds.
    make().attributes()
    assert len(calls_to(mocked, AUTH)) == 2
    assert calls_to(mocked, ATTRIBUTES)[-1].request.headers["Authorization"] == f"Bearer {SECOND_TOKEN}"


def test_a_second_401_in_a_row_is_an_error_not_a_loop(mocked, make):
    auth_ok(mocked)
    mocked.get(EMPLOYEES, status=401, json={"success": False, "error": {"code": 0, "message": "Unauthorized"}})
    auth_ok(mocked, SECOND_TOKEN)

    with pytest.raises(ConnectorError) as caught:
        list(make().employees(attributes=ATTRIBUTE_KEYS))

    assert caught.value.permanent is True
    assert str(caught.value).startswith(
        "Personio refused hrsync's access token for api.personio.de/v1/company/employees (401), even a new one"
    )
    assert len(calls_to(mocked, AUTH)) == 2
    assert len(calls_to(mocked, EMPLOYEES)) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_a_wrong_client_id_or_secret_says_where_to_fix_it(mocked, make, status):
    mocked.post(AUTH, status=status, json=fixture("auth_rejected.json"))

    with pytest.raises(ConnectorError) as caught:
        make().attributes()

    assert str(caught.value) == (
        f"Personio rejected the client ID or client secret ({status}). Check them under Settings, "
        "or create new API credentials in Personio under Settings > Integrations > API credentials."
    )
    assert caught.value.permanent is True
    assert cache.get(token_cache_key(base_url=BASE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)) is None


def echo(text: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": 0, "message": f"Bad request {CLIENT_SECRET} {FIRST_TOKEN} {text}"}}


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([("POST", AUTH, 401, echo("auth"))], id="auth 401"),
        pytest.param([("POST", AUTH, 200, token_body()), ("GET", ATTRIBUTES, 401, echo("data")),
                      ("POST", AUTH, 200, token_body()), ("GET", ATTRIBUTES, 401, echo("data"))], id="data 401 twice"),
        pytest.param([("POST", AUTH, 200, token_body()), ("GET", ATTRIBUTES, 400, echo("quoted"))], id="400 quoted"),
        pytest.param([("POST", AUTH, 200, token_body()), ("GET", ATTRIBUTES, 200, echo("success false"))],
                     id="200 success false"),
        pytest.param([("POST", AUTH, 200, token_body()), ("GET", ATTRIBUTES, 200, f"<html><title>{FIRST_TOKEN} "
                      f"{CLIENT_SECRET}</title></html>")], id="html page"),
    ],
)
def test_a_body_echoing_the_secret_and_the_token_leaks_into_no_message_or_log(mocked, make, caplog, answers):
    for method, url, status, body in answers:
        if isinstance(body, str):
            mocked.add(method, url, status=status, body=body, content_type="text/html")
        else:
            mocked.add(method, url, status=status, json=body)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ConnectorError) as caught:
        make().attributes()

    for secret in (CLIENT_SECRET, FIRST_TOKEN, FIRST_TOKEN[:40], CLIENT_SECRET[:12]):
        assert secret not in str(caught.value)
        assert secret not in caplog.text


def test_personios_own_error_message_is_quoted_scrubbed_and_shortened(mocked, make):
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, status=400, json=echo("x" * 300))

    with pytest.raises(ConnectorError) as caught:
        make().attributes()

    message = str(caught.value)
    assert message.startswith(
        f"Personio refused GET api.personio.de/v1/company/employees/attributes (HTTP 400): “Bad request {SCRUBBED} {SCRUBBED} xxx"
    )
    assert message.endswith("…”")
    assert len(message) < 220
    assert caught.value.permanent is True


def test_no_access_to_an_endpoint_names_it_and_the_fix(mocked, make):
    auth_ok(mocked)
    mocked.get(EMPLOYEES, status=403, json=fixture("error_forbidden.json"))

    with pytest.raises(ConnectorError) as caught:
        list(make().employees(attributes=ATTRIBUTE_KEYS))

    assert str(caught.value).startswith(
        "Personio accepted the API credentials but refused access to api.personio.de/v1/company/employees (403)."
    )
    assert "Settings > Integrations > API credentials" in str(caught.value)
    assert caught.value.permanent is True


def test_a_server_error_on_every_try_says_personio_is_not_answering(mocked, make, sleeps, waits):
    auth_ok(mocked)
    mocked.get(TIME_OFF_TYPES, status=503, body="Service Unavailable")

    with pytest.raises(ConnectorError) as caught:
        make().time_off_types()

    assert str(caught.value) == (
        "Personio is not answering: api.personio.de/v1/company/time-off-types returned a server error "
        "(HTTP 503). hrsync will try again at the next sync."
    )
    assert caught.value.permanent is False
    assert len(calls_to(mocked, TIME_OFF_TYPES)) == MAX_ATTEMPTS
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert waits[0] == "Waiting 1 s: Personio had a server error (HTTP 503); hrsync will ask again."
    assert len(waits) == 7


def test_a_refused_connection_says_personio_is_not_answering(mocked, make):
    mocked.post(AUTH, body=requests.ConnectionError("[Errno 111] Connection refused"))

    with pytest.raises(ConnectorError) as caught:
        make().attributes()

    assert str(caught.value) == (
        "Personio is not answering (Could not reach api.personio.de: the connection was refused). "
        "hrsync will try again at the next sync."
    )
    assert caught.value.permanent is False


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("<html><head><title>Sign in</title></head></html>", "text/html",
         "Personio returned something that is not JSON from api.personio.de/v1/company/employees/attributes"),
        ('{"success": true}', "application/json",
         "Personio's answer from api.personio.de/v1/company/employees/attributes has no \"data\""),
        ('{"success": false, "error": {"code": 0, "message": "Something went wrong."}}', "application/json",
         "Personio answered api.personio.de/v1/company/employees/attributes with an error: “Something went wrong.”"),
        ('["not", "an", "envelope"]', "application/json",
         "Personio's answer from api.personio.de/v1/company/employees/attributes is not the JSON object"),
    ],
)
def test_a_malformed_answer_is_a_permanent_error_naming_the_endpoint(mocked, make, body, content_type, expected):
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, body=body, content_type=content_type)

    with pytest.raises(ConnectorError) as caught:
        make().attributes()

    assert str(caught.value).startswith(expected)
    assert caught.value.permanent is True


def test_an_auth_answer_without_a_token_is_a_permanent_error(mocked, make):
    mocked.post(AUTH, json={"success": True, "data": {"expires_in": 86400}})

    with pytest.raises(ConnectorError) as caught:
        make().attributes()

    assert str(caught.value).startswith("Personio's answer from api.personio.de/v1/auth has no access token")
    assert caught.value.permanent is True


# -- rate limits ---------------------------------------------------------------


def test_a_429_with_retry_after_waits_as_asked_then_carries_on(mocked, make, sleeps, waits):
    auth_ok(mocked)
    mocked.get(EMPLOYEES, status=429, headers={"Retry-After": "7"}, json=fixture("error_forbidden.json"))
    mocked.get(EMPLOYEES, json=employees_page(0, 2, total=2))

    read = list(make().employees(attributes=ATTRIBUTE_KEYS))

    assert len(read) == 2
    assert sleeps == [7.0]
    assert waits == ["Waiting 7 s: Personio asked hrsync to slow down (rate limit)."]


def test_a_429_without_retry_after_backs_off_from_one_second(mocked, make, sleeps, waits):
    auth_ok(mocked)
    for _ in range(3):
        mocked.get(EMPLOYEES, status=429)
    mocked.get(EMPLOYEES, json=employees_page(0, 2, total=2))

    read = list(make().employees(attributes=ATTRIBUTE_KEYS))

    assert len(read) == 2
    assert sleeps == [1.0, 2.0, 4.0]
    assert waits == [f"Waiting {n} s: Personio asked hrsync to slow down (rate limit)." for n in (1, 2, 4)]


def test_a_429_on_every_try_is_a_transient_error(mocked, make, sleeps):
    auth_ok(mocked)
    mocked.get(EMPLOYEES, status=429)

    with pytest.raises(ConnectorError) as caught:
        list(make().employees(attributes=ATTRIBUTE_KEYS))

    assert caught.value.permanent is False
    assert "rate limited (HTTP 429) on every try" in str(caught.value)
    assert len(calls_to(mocked, EMPLOYEES)) == MAX_ATTEMPTS
    assert len(sleeps) == MAX_ATTEMPTS - 1


def test_a_rate_limited_time_off_create_is_sent_again_after_the_wait(mocked, make, sleeps):
    auth_ok(mocked)
    mocked.post(TIME_OFFS, status=429, headers={"Retry-After": "2"})
    mocked.post(TIME_OFFS, json=fixture("time_off_created.json"))

    created = make().time_off_create(
        employee_id="2", time_off_type_id="1001", start_date=dt.date(2026, 12, 21),
        end_date=dt.date(2026, 12, 23), half_day_start=False, half_day_end=True,
    )

    assert created["attributes"]["id"] == 555001
    assert sleeps == [2.0]


def test_the_employees_endpoint_stays_under_15_a_second_and_300_a_minute(mocked, make, clock):
    auth_ok(mocked)
    total = 40 * EMPLOYEES_PAGE_LIMIT
    sent_at: list[float] = []

    def page(request):
        sent_at.append(clock.now)
        offset = int(parse_qs(urlsplit(request.url).query)["offset"][0])
        return 200, {}, json.dumps(employees_page(offset, EMPLOYEES_PAGE_LIMIT, total))

    mocked.add_callback(responses.GET, EMPLOYEES, callback=page)

    read = list(make().employees(attributes=ATTRIBUTE_KEYS))

    assert len(read) == total
    assert len(sent_at) == 40
    for first in range(len(sent_at)):
        assert sum(1 for at in sent_at[first:] if at < sent_at[first] + 1.0) <= 15
    # 15 at once, 15 a second later, the last 10 a second after that.
    assert sent_at[14] == sent_at[0] and sent_at[15] == sent_at[0] + 1.0 and sent_at[-1] == 2.0


def test_a_long_rate_limit_wait_is_announced(mocked, make, clock, waits):
    auth_ok(mocked)
    mocked.get(ATTRIBUTES, json=fixture("attributes.json"))
    client = make(limiter=RateLimiter(((1, 5.0),), clock=clock, sleep=clock.sleep))

    client.attributes()
    client.attributes()

    assert clock.now == 5.0
    assert waits == ["Waiting 5 s to stay within Personio's rate limit for employee requests."]


def test_the_default_limiter_has_personios_employee_limits_and_time_offs_are_not_limited(mocked, make, clock):
    auth_ok(mocked)
    mocked.get(TIME_OFFS, json=fixture("time_offs_page1.json"))
    mocked.get(TIME_OFFS, json=fixture("time_offs_page2.json"))

    assert PersonioClient(
        base_url=BASE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, partner_id=PARTNER_ID, app_id=APP_ID,
        scrub=str,
    ).limiter.limits == ((15, 1.0), (300, 60.0))
    client = make(limiter=RateLimiter(((1, 60.0),), clock=clock, sleep=clock.sleep))
    list(client.time_offs(start_date=dt.date(2026, 12, 1), end_date=dt.date(2026, 12, 31)))

    assert clock.now == 0.0


# -- time-offs -------------------------------------------------------------------


def test_time_offs_are_paged_from_1_and_each_id_comes_once(mocked, make):
    auth_ok(mocked)
    mocked.get(TIME_OFFS, json=fixture("time_offs_page1.json"))
    mocked.get(TIME_OFFS, json=fixture("time_offs_page2.json"))

    items = list(make().time_offs(
        start_date=dt.date(2026, 12, 1), end_date=dt.date(2026, 12, 31), updated_from=dt.date(2026, 11, 1)
    ))

    pages = calls_to(mocked, TIME_OFFS)
    assert [query(call)["offset"] for call in pages] == [["1"], ["2"]]
    assert query(pages[0]) == {
        "start_date": ["2026-12-01"], "end_date": ["2026-12-31"], "updated_from": ["2026-11-01"],
        "limit": ["200"], "offset": ["1"],
    }
    assert [item["attributes"]["id"] for item in items] == [9001, 9002, 9003]
    assert items[0]["type"] == "TimeOffPeriod"


def first_of_five_pages() -> dict[str, Any]:
    page = fixture("time_offs_page1.json")
    page["metadata"] = {"total_elements": 10, "current_page": 1, "total_pages": 5}
    return page


def test_time_offs_stop_on_a_page_that_repeats_the_last(mocked, make):
    auth_ok(mocked)
    mocked.get(TIME_OFFS, json=first_of_five_pages())
    mocked.get(TIME_OFFS, json=first_of_five_pages())  # asked for page 2

    items = list(make().time_offs(start_date=dt.date(2026, 12, 1), end_date=dt.date(2026, 12, 31)))

    assert [item["attributes"]["id"] for item in items] == [9001, 9002]
    assert [query(call)["offset"] for call in calls_to(mocked, TIME_OFFS)] == [["1"], ["2"]]


def test_time_offs_stop_on_an_empty_page(mocked, make):
    auth_ok(mocked)
    mocked.get(TIME_OFFS, json=first_of_five_pages())
    mocked.get(TIME_OFFS, json={**first_of_five_pages(), "data": []})

    items = list(make().time_offs(start_date=dt.date(2026, 12, 1), end_date=dt.date(2026, 12, 31)))

    assert [item["attributes"]["id"] for item in items] == [9001, 9002]
    assert len(calls_to(mocked, TIME_OFFS)) == 2


def test_time_off_types_are_the_data_list(mocked, make):
    auth_ok(mocked)
    mocked.get(TIME_OFF_TYPES, json=fixture("time_off_types.json"))

    types = make().time_off_types()

    assert [t["attributes"]["name"] for t in types] == ["Paid vacation", "Sick day"]


def test_a_time_off_is_created_from_a_json_body_and_the_created_item_returned(mocked, make):
    auth_ok(mocked)
    mocked.post(TIME_OFFS, json=fixture("time_off_created.json"))

    created = make().time_off_create(
        employee_id="2", time_off_type_id="1001", start_date=dt.date(2026, 12, 21), end_date=dt.date(2026, 12, 23),
        half_day_start=False, half_day_end=True, comment="Booked in hrsync",
    )

    assert created == fixture("time_off_created.json")["data"]
    sent = calls_to(mocked, TIME_OFFS)[0].request
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {
        "employee_id": 2, "time_off_type_id": 1001, "start_date": "2026-12-21", "end_date": "2026-12-23",
        "half_day_start": False, "half_day_end": True, "comment": "Booked in hrsync",
    }


def test_a_time_off_personio_refuses_carries_personios_reason(mocked, make, sleeps):
    auth_ok(mocked)
    mocked.post(TIME_OFFS, status=422, json=fixture("error_validation.json"))

    with pytest.raises(ConnectorError) as caught:
        make().time_off_create(
            employee_id="2", time_off_type_id="1001", start_date=dt.date(2026, 12, 21),
            end_date=dt.date(2026, 12, 23), half_day_start=False, half_day_end=False,
        )

    assert str(caught.value) == (
        "Personio refused POST api.personio.de/v1/company/time-offs (HTTP 422): "
        "“The given data failed to pass validation.”"
    )
    assert caught.value.permanent is True
    assert sleeps == []


def test_a_server_error_on_create_is_not_sent_again(mocked, make, sleeps):
    auth_ok(mocked)
    mocked.post(TIME_OFFS, status=500, body="oops")

    with pytest.raises(ConnectorError) as caught:
        make().time_off_create(
            employee_id="2", time_off_type_id="1001", start_date=dt.date(2026, 12, 21),
            end_date=dt.date(2026, 12, 21), half_day_start=False, half_day_end=False,
        )

    assert caught.value.permanent is False
    assert len(calls_to(mocked, TIME_OFFS)) == 1 and sleeps == []


def test_deleting_a_time_off_says_whether_it_was_still_there(mocked, make):
    auth_ok(mocked)
    mocked.delete(f"{TIME_OFFS}/9001", json=fixture("time_off_deleted.json"))
    mocked.delete(f"{TIME_OFFS}/9002", status=404, json=fixture("error_not_found.json"))
    mocked.delete(f"{TIME_OFFS}/9003", status=204)
    client = make()

    assert client.time_off_delete(time_off_id="9001") is True
    assert client.time_off_delete(time_off_id="9002") is False
    assert client.time_off_delete(time_off_id="9003") is True


def test_closing_the_client_closes_its_session(make, monkeypatch):
    client = make()
    closed = []
    monkeypatch.setattr(client.session, "close", lambda: closed.append(True))

    with client:
        pass

    assert closed == [True]
