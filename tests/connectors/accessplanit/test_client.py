"""The accessplanit API v2 client against payloads shaped as VENDORS.md ("accessplanit (API v2)") says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.accessplanit.client import (
    PAGE_SIZE,
    AccessPlanItClient,
    odata_all,
    odata_any,
    odata_literal,
    odata_since,
)
from connectors.base import SCRUBBED, ConnectorError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "accessplanit"
BASE = "https://acme.accessplanit.com/accessplan/api/v2"
API_KEY = "apit-key-Xq9-unmistakable-api-key"
PASSWORD = "Tr0ub4dor&3-unmistakable-password"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def query(call: Any) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def no_scrub(text: str) -> str:
    return text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key_client(**kwargs: Any) -> AccessPlanItClient:
    return AccessPlanItClient(base_url=BASE, auth_mode="api_key", api_key=API_KEY, scrub=no_scrub, **kwargs)


def password_client(**kwargs: Any) -> AccessPlanItClient:
    return AccessPlanItClient(
        base_url=BASE, auth_mode="password", username="hrsync-api", password=PASSWORD, scrub=no_scrub, **kwargs
    )


def users(first: int, count: int) -> dict[str, Any]:
    return {"results": [{"ID": f"u{number:04d}"} for number in range(first, first + count)]}


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


# -- filters -------------------------------------------------------------------


def test_a_string_literal_doubles_its_quotes():
    assert odata_literal("O'Neil") == "'O''Neil'"


def test_filters_join_their_alternatives_with_or_and_their_parts_with_and():
    statuses = odata_any("Status", ["Enabled", "New"])
    companies = odata_any("MainCompanyID", ["12", "A'B"])
    assert odata_all(statuses, companies, "") == (
        "(Status eq 'Enabled' or Status eq 'New') and (MainCompanyID eq '12' or MainCompanyID eq 'A''B')"
    )
    assert odata_any("MainCompanyID", []) == ""


def test_a_time_in_a_filter_is_utc_to_the_second():
    import datetime as dt

    since = dt.datetime(2026, 3, 1, 12, 30, 15, 999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert odata_since("DateUpdated", since) == "DateUpdated gt 2026-03-01T11:30:15Z"


# -- paging --------------------------------------------------------------------


def test_a_list_is_read_page_by_page_with_skip_until_a_short_page(mocked):
    url = f"{BASE}/User"
    mocked.get(url, json=users(1, PAGE_SIZE))
    mocked.get(url, json=users(101, PAGE_SIZE))
    mocked.get(url, json=users(201, 7))
    records = list(key_client().records("User", select=["ID", "Forenames"], filter="Status eq 'Enabled'"))
    assert len(records) == 207
    assert [page for page, _item in records][::100] == [1, 2, 3]
    asked = [query(call) for call in mocked.calls]
    assert [q["$skip"] for q in asked] == ["0", "100", "200"]
    assert {q["$top"] for q in asked} == {"100"}
    assert {q["$count"] for q in asked} == {"true"}
    assert {q["$orderby"] for q in asked} == {"ID"}
    assert {q["$select"] for q in asked} == {"ID,Forenames"}
    assert {q["$filter"] for q in asked} == {"Status eq 'Enabled'"}
    # Spaces travel as %20, as OData documents its queries.
    assert "%20eq%20" in mocked.calls[0].request.url and "+" not in mocked.calls[0].request.url


def test_a_page_that_repeats_the_one_before_stops_the_read(mocked):
    mocked.get(f"{BASE}/User", json=users(1, PAGE_SIZE))
    mocked.get(f"{BASE}/User", json=users(1, PAGE_SIZE))
    with pytest.raises(ConnectorError, match="same User records"):
        list(key_client().records("User", select=["ID"]))


def test_an_answer_without_a_results_list_is_an_error_not_an_empty_list(mocked):
    mocked.get(f"{BASE}/User", json={"value": []})
    with pytest.raises(ConnectorError, match="no list of results") as caught:
        list(key_client().records("User", select=["ID"]))
    assert caught.value.permanent


def test_the_first_page_gives_the_count_when_accessplanit_sends_it(mocked):
    mocked.get(f"{BASE}/User", json={"@odata.count": 345, "results": [{"ID": "jasmit"}]})
    mocked.get(f"{BASE}/User", json={"results": [{"ID": "jasmit"}]})
    client = key_client()
    assert client.first_page("User", select=["ID"])[1] == 345
    assert client.first_page("User", select=["ID"])[1] is None
    assert query(mocked.calls[0])["$top"] == "1"


def test_one_record_is_read_by_an_id_filter_and_none_when_there_is_none(mocked):
    mocked.get(f"{BASE}/User", json={"results": [{"ID": "o'neil"}]})
    mocked.get(f"{BASE}/User", json={"results": []})
    client = key_client()
    name = "o'neil"
    assert client.record("User", select=["ID"], filter=f"ID eq {odata_literal(name)}") == {"ID": name}
    assert client.record("User", select=["ID"], filter="ID eq 'gone'") is None
    assert query(mocked.calls[0])["$filter"] == "ID eq 'o''neil'"
    assert mocked.calls[0].request.url.split("?")[0] == f"{BASE}/User"


# -- auth ----------------------------------------------------------------------


def test_an_api_key_goes_as_a_bearer_token(mocked):
    mocked.get(f"{BASE}/Company", json={"results": []})
    list(key_client().records("Company", select=["ID", "Name"]))
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_a_refused_api_key_is_a_permanent_error_that_never_repeats_it(mocked):
    mocked.get(f"{BASE}/User", status=401, json={"Message": f"Key {API_KEY} is not valid"})
    client = AccessPlanItClient(
        base_url=BASE, auth_mode="api_key", api_key=API_KEY, scrub=lambda text: text.replace(API_KEY, SCRUBBED)
    )
    with pytest.raises(ConnectorError) as caught:
        list(client.records("User", select=["ID"]))
    assert caught.value.permanent
    assert "rejected the API key (401)" in caught.value.message
    assert API_KEY not in caught.value.message
    assert len(mocked.calls) == 1


def test_a_password_sign_in_posts_the_password_grant_form_encoded(mocked):
    mocked.post(f"{BASE}/Token", json=fixture("token.json"))
    mocked.get(f"{BASE}/User", json={"results": []})
    list(password_client().records("User", select=["ID"]))
    sign_in = mocked.calls[0].request
    assert sign_in.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sign_in.body) == {
        "grant_type": ["password"], "UserName": ["hrsync-api"], "Password": [PASSWORD],
    }
    token = fixture("token.json")["access_token"]
    assert mocked.calls[1].request.headers["Authorization"] == f"Bearer {token}"


def test_the_token_is_kept_and_renewed_a_minute_before_it_expires(mocked):
    clock = Clock()
    mocked.post(f"{BASE}/Token", json={"access_token": "first-token", "expires_in": 3600})
    mocked.post(f"{BASE}/Token", json={"access_token": "second-token", "expires_in": 3600})
    mocked.get(f"{BASE}/Company", json={"results": []})
    client = password_client(clock=clock)
    list(client.records("Company", select=["ID"]))
    clock.now += 3600 - 61
    list(client.records("Company", select=["ID"]))
    clock.now += 2  # now inside the last minute
    list(client.records("Company", select=["ID"]))
    used = [call.request.headers.get("Authorization") for call in mocked.calls if "/Company" in call.request.url]
    assert used == ["Bearer first-token", "Bearer first-token", "Bearer second-token"]
    assert sum(call.request.url.endswith("/Token") for call in mocked.calls) == 2


def test_a_401_signs_in_again_once_and_repeats_the_request(mocked):
    mocked.post(f"{BASE}/Token", json={"access_token": "first-token", "expires_in": 3600})
    mocked.post(f"{BASE}/Token", json={"access_token": "second-token", "expires_in": 3600})
    mocked.get(f"{BASE}/Company", status=401)
    mocked.get(f"{BASE}/Company", json={"results": [{"ID": "12", "Name": "Acme"}]})
    records = list(password_client().records("Company", select=["ID", "Name"]))
    assert [item["ID"] for _page, item in records] == ["12"]
    data_calls = [call for call in mocked.calls if "/Company" in call.request.url]
    assert [call.request.headers["Authorization"] for call in data_calls] == [
        "Bearer first-token", "Bearer second-token",
    ]


def test_a_second_401_is_a_permanent_error_about_the_username_or_password(mocked):
    mocked.post(f"{BASE}/Token", json={"access_token": "first-token", "expires_in": 3600})
    mocked.post(f"{BASE}/Token", json={"access_token": "second-token", "expires_in": 3600})
    mocked.get(f"{BASE}/Company", status=401, body=f"denied for {PASSWORD}")
    mocked.get(f"{BASE}/Company", status=401, body=f"denied for {PASSWORD}")
    with pytest.raises(ConnectorError) as caught:
        list(password_client().records("Company", select=["ID"]))
    assert caught.value.permanent
    assert caught.value.message.startswith("accessplanit rejected the username or password (401)")
    assert PASSWORD not in caught.value.message and "second-token" not in caught.value.message


def test_a_refused_sign_in_says_so_without_the_password(mocked):
    mocked.post(f"{BASE}/Token", status=400, json={"error": "invalid_grant", "error_description": PASSWORD})
    with pytest.raises(ConnectorError) as caught:
        list(password_client().records("User", select=["ID"]))
    assert caught.value.permanent
    assert "rejected the username or password (400)" in caught.value.message
    assert PASSWORD not in caught.value.message


# -- writes --------------------------------------------------------------------


def test_a_create_posts_json_and_returns_the_new_record(mocked):
    mocked.post(f"{BASE}/User", json=fixture("user_created.json"))
    created = key_client().create("User", {"ExternalID": "57", "Forenames": "Jane"})
    assert created["ID"] == "jasmit2"
    assert json.loads(mocked.calls[0].request.body) == {"ExternalID": "57", "Forenames": "Jane"}


def test_an_update_puts_to_the_quoted_id(mocked):
    mocked.put(f"{BASE}/UserCourseDate/jasmit~881", body="")
    key_client().update("UserCourseDate", "jasmit~881", {"Status": "Booked"})
    assert mocked.calls[0].request.url == f"{BASE}/UserCourseDate/jasmit~881"
    assert json.loads(mocked.calls[0].request.body) == {"Status": "Booked"}


def test_a_refused_write_carries_its_status_and_accessplanits_message_scrubbed(mocked):
    mocked.post(f"{BASE}/User", status=400, json={"Message": f"MainCompanyID does not exist ({API_KEY})"})
    client = AccessPlanItClient(
        base_url=BASE, auth_mode="api_key", api_key=API_KEY, scrub=no_scrub
    )
    with pytest.raises(ConnectorError) as caught:
        client.create("User", {"Forenames": "Jane"})
    assert caught.value.refuses_the_record
    assert caught.value.status == 400
    assert "MainCompanyID does not exist" in caught.value.message
    assert API_KEY not in caught.value.message and SCRUBBED in caught.value.message


def test_a_plain_text_refusal_is_quoted_too(mocked):
    mocked.put(f"{BASE}/User/jasmit", status=422, body="Email is not valid", content_type="text/plain")
    with pytest.raises(ConnectorError, match="Email is not valid") as caught:
        key_client().update("User", "jasmit", {"Email": "nope"})
    assert caught.value.refuses_the_record


def test_a_rate_limit_waits_for_retry_after_and_says_so(mocked):
    mocked.get(f"{BASE}/Company", status=429, headers={"Retry-After": "3"})
    mocked.get(f"{BASE}/Company", json={"results": []})
    told: list[str] = []
    client = key_client(on_wait=told.append)
    waits: list[float] = []
    client.session.sleep = waits.append
    list(client.records("Company", select=["ID"]))
    assert waits == [3.0]
    assert told == ["Waiting 3 s: accessplanit asked hrsync to slow down (rate limit)."]


def test_a_write_to_a_record_accessplanit_does_not_have_is_that_records_error(mocked):
    mocked.put(f"{BASE}/User/gone", status=404)
    words = r"refused PUT .*/User/gone \(HTTP 404\): accessplanit has no such record"
    with pytest.raises(ConnectorError, match=words) as caught:
        key_client().update("User", "gone", {"Email": "jane@example.com"})
    assert caught.value.refuses_the_record


def test_a_list_accessplanit_does_not_have_points_at_the_api_address(mocked):
    mocked.get(f"{BASE}/User", status=404)
    with pytest.raises(ConnectorError, match="Check the API address under Settings") as caught:
        list(key_client().records("User", select=["ID"]))
    assert caught.value.permanent
