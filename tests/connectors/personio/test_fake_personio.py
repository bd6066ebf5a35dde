"""The stand-in Personio speaks v1 as VENDORS.md describes, and enforces its limits.

Plain ``requests`` against the running stand-in: if it drifts from the wire
format, the benchmark and the browser tests would be measuring a fiction.
The rate windows run on a clock the test steps, so no test sleeps.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from tests.connectors.personio.fake_personio import (
    FakePersonio,
    fake_personio_roster,
    fake_personio_time_offs,
)

CLIENT_ID, CLIENT_SECRET = "hrsync-test", "not-the-real-secret"
PARTNER = {"X-Personio-Partner-ID": "HRSYNC", "X-Personio-App-ID": "HRSYNC_DIRECTORY"}


class SteppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return SteppedClock()


@pytest.fixture
def personio(clock):
    roster = fake_personio_roster(250)
    with FakePersonio(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, employees=roster, clock=clock,
        time_offs=fake_personio_time_offs(roster, count=450),
    ) as fake:
        yield fake


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def token(personio: FakePersonio, http: requests.Session) -> dict[str, str]:
    answer = http.post(f"{personio.url}/v1/auth", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert answer.status_code == 200
    return {"Authorization": f"Bearer {answer.json()['data']['token']}", **PARTNER}


def employees(personio, http, headers, **params) -> requests.Response:
    return http.get(f"{personio.url}/v1/company/employees", params=params, headers=headers)


# -- auth ---------------------------------------------------------------------------------


def test_auth_with_credentials_in_a_json_or_form_body_returns_a_day_long_token(personio, http):
    as_json = http.post(f"{personio.url}/v1/auth", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    as_form = http.post(f"{personio.url}/v1/auth", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})

    for answer in (as_json, as_form):
        assert answer.status_code == 200
        body = answer.json()
        assert body["success"] is True
        assert body["data"]["token"].startswith("papi-")
        assert body["data"]["expires_in"] == 86400
    assert as_json.json()["data"]["token"] != as_form.json()["data"]["token"]
    assert personio.auth_calls == 2


def test_wrong_credentials_get_401_in_the_v1_error_envelope(personio, http):
    answer = http.post(f"{personio.url}/v1/auth", json={"client_id": CLIENT_ID, "client_secret": "wrong"})

    assert answer.status_code == 401
    assert answer.json() == {"success": False, "error": {"code": 0, "message": "Wrong credentials."}}
    assert personio.auth_calls == 1


def test_credentials_in_the_query_string_are_refused_with_403(personio, http):
    answer = http.post(f"{personio.url}/v1/auth", params={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})

    assert answer.status_code == 403
    assert answer.json()["success"] is False


def test_the_recorded_auth_request_masks_the_client_secret(personio, http):
    token(personio, http)

    (recorded,) = personio.requests_to("/v1/auth", "POST")
    assert recorded.body == {"client_id": CLIENT_ID, "client_secret": "***"}
    assert CLIENT_SECRET not in repr(personio.requests)


def test_a_call_without_a_valid_bearer_token_gets_401(personio, http):
    missing = employees(personio, http, {})
    made_up = employees(personio, http, {"Authorization": "Bearer papi-made-up"})

    for answer in (missing, made_up):
        assert answer.status_code == 401
        assert answer.json()["success"] is False
        assert answer.json()["error"]["message"]
    assert [r.authorised for r in personio.requests] == [False, False]


def test_an_expired_token_stops_working(personio, http):
    headers = token(personio, http)
    personio.expire_tokens()

    assert employees(personio, http, headers).status_code == 401


def test_partner_headers_are_recorded_on_each_call(personio, http):
    headers = token(personio, http)
    employees(personio, http, headers)
    employees(personio, http, {"Authorization": headers["Authorization"]})

    with_headers, without = personio.requests_to("/v1/company/employees")
    assert with_headers.partner_headers and with_headers.headers["X-Personio-App-ID"] == "HRSYNC_DIRECTORY"
    assert not without.partner_headers


# -- employees ---------------------------------------------------------------------------


def test_employees_page_by_record_offset_in_the_v1_envelope(personio, http):
    headers = token(personio, http)

    answer = employees(personio, http, headers, limit=100, offset=200)

    body = answer.json()
    assert answer.status_code == 200
    assert body["success"] is True
    assert body["metadata"] == {"total_elements": 250, "current_page": 2, "total_pages": 3}
    assert (body["offset"], body["limit"]) == (200, 100)
    assert [item["attributes"]["id"]["value"] for item in body["data"]] == list(range(201, 251))
    assert {item["type"] for item in body["data"]} == {"Employee"}


def test_employees_default_to_50_a_page(personio, http):
    body = employees(personio, http, token(personio, http)).json()

    assert body["limit"] == 50
    assert len(body["data"]) == 50
    assert body["metadata"]["total_pages"] == 5


def test_a_limit_above_100_is_refused_with_400(personio, http):
    answer = employees(personio, http, token(personio, http), limit=101)

    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert "100" in answer.json()["error"]["message"]


def test_an_employee_carries_each_attribute_as_label_value_type_and_universal_id(personio, http):
    personio.employees[9]["status"] = "inactive"
    personio.employees[9]["termination_date"] = dt.date(2026, 3, 31)
    body = employees(personio, http, token(personio, http), limit=10).json()

    attributes = body["data"][9]["attributes"]
    assert attributes["first_name"] == {
        "label": "First name", "value": personio.employees[9]["first_name"], "type": "standard",
        "universal_id": "first_name",
    }
    assert attributes["termination_date"]["value"] == "2026-03-31T00:00:00+01:00"
    assert attributes["status"]["value"] == "inactive"
    assert attributes["gender"]["value"] in {"male", "female", "diverse"}
    assert attributes["dynamic_21"] == {
        "label": "Employee number", "value": "EMP-000010", "type": "standard", "universal_id": None,
    }
    supervisor = attributes["supervisor"]["value"]
    assert supervisor["type"] == "Employee"
    assert supervisor["attributes"]["id"]["value"] == 2
    assert attributes["office"]["value"]["type"] == "Office"
    assert set(attributes["office"]["value"]["attributes"]) == {"id", "name"}
    assert body["data"][0]["attributes"]["supervisor"]["value"] is None


def test_only_whitelisted_attributes_come_back_and_attributes_narrows_them(personio, http):
    headers = token(personio, http)
    personio.whitelist = {"first_name", "last_name", "email", "office"}

    whitelisted = employees(personio, http, headers, limit=1).json()["data"][0]["attributes"]
    narrowed = employees(personio, http, headers, limit=1, **{"attributes[]": ["email", "position"]}).json()
    listed = http.get(f"{personio.url}/v1/company/employees/attributes", headers=headers).json()

    assert set(whitelisted) == {"id", "first_name", "last_name", "email", "office"}
    assert set(narrowed["data"][0]["attributes"]) == {"id", "email"}
    assert {a["key"] for a in listed["data"]} == {"id", "first_name", "last_name", "email", "office"}


def test_the_attributes_list_describes_custom_attributes_with_their_options(personio, http):
    listed = http.get(f"{personio.url}/v1/company/employees/attributes", headers=token(personio, http)).json()

    by_key = {a["key"]: a for a in listed["data"]}
    assert listed["success"] is True
    assert by_key["dynamic_21"] == {"key": "dynamic_21", "label": "Employee number", "type": "standard",
                                    "universal_id": None}
    assert by_key["dynamic_2"]["options"] == ["married", "single"]


def test_updated_since_returns_only_employees_changed_since(personio, http):
    later = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.timezone.utc)
    personio.employees[4]["updated_at"] = later
    personio.employees[7]["updated_at"] = later

    body = employees(personio, http, token(personio, http), updated_since="2026-12-05T00:00:00").json()

    assert [item["attributes"]["id"]["value"] for item in body["data"]] == [5, 8]
    assert body["metadata"]["total_elements"] == 2


# -- rate limits ---------------------------------------------------------------------------


def test_a_sixteenth_request_in_one_second_gets_429_and_the_next_second_is_let_in(personio, http, clock):
    headers = token(personio, http)

    statuses = [employees(personio, http, headers, limit=1).status_code for _ in range(16)]
    clock.now += 1.0
    after = employees(personio, http, headers, limit=1)

    assert statuses == [200] * 15 + [429]
    assert after.status_code == 200
    assert personio.rate_limited == personio.too_many_requests == 1
    assert "Retry-After" not in personio.requests_to("/v1/company/employees")[15].headers


def test_the_301st_request_in_a_minute_gets_429_with_retry_after_when_asked(http, clock):
    with FakePersonio(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, retry_after=True) as fake:
        headers = token(fake, http)
        # Ten a second: never more than 15 in a second, 300 within 30 seconds.
        for _ in range(300):
            assert employees(fake, http, headers, limit=1).status_code == 200
            clock.now += 0.1
        refused = employees(fake, http, headers, limit=1)
        clock.now += 30.0
        let_in = employees(fake, http, headers, limit=1)

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert let_in.status_code == 200
    assert fake.rate_limited == 1


def test_other_endpoints_are_not_held_to_the_employees_limit(personio, http):
    headers = token(personio, http)

    statuses = {http.get(f"{personio.url}/v1/company/time-off-types", headers=headers).status_code
                for _ in range(20)}

    assert statuses == {200}
    assert personio.rate_limited == 0


def test_forced_failures_answer_the_next_requests_then_stop(personio, http):
    headers = token(personio, http)
    personio.fail_next(2, status=503, path="/v1/company/employees")

    statuses = [employees(personio, http, headers).status_code for _ in range(3)]
    personio.fail_next(1, status=429)
    throttled = employees(personio, http, headers)

    assert statuses == [503, 503, 200]
    assert throttled.status_code == 429
    assert personio.too_many_requests == 1
    assert personio.rate_limited == 0


# -- time-offs -------------------------------------------------------------------------------


def time_offs(personio, http, headers, **params) -> dict:
    answer = http.get(f"{personio.url}/v1/company/time-offs", params=params, headers=headers)
    assert answer.status_code == 200
    return answer.json()


def test_time_offs_page_by_page_number_from_one_and_read_zero_as_one(personio, http):
    headers = token(personio, http)

    zero = time_offs(personio, http, headers, limit=200, offset=0)
    one = time_offs(personio, http, headers, limit=200, offset=1)
    three = time_offs(personio, http, headers, limit=200, offset=3)

    ids = [item["attributes"]["id"] for item in one["data"]]
    assert ids == list(range(1, 201))
    assert [item["attributes"]["id"] for item in zero["data"]] == ids
    assert [item["attributes"]["id"] for item in three["data"]] == list(range(401, 451))
    assert one["metadata"] == {"total_elements": 450, "current_page": 1, "total_pages": 3}


def test_a_time_off_limit_above_200_is_refused(personio, http):
    answer = http.get(f"{personio.url}/v1/company/time-offs", params={"limit": 201}, headers=token(personio, http))

    assert answer.status_code == 400
    assert answer.json()["success"] is False


def test_a_time_off_carries_its_type_employee_and_v2_id(personio, http):
    item = time_offs(personio, http, token(personio, http), limit=1)["data"][0]

    assert item["type"] == "TimeOffPeriod"
    attributes = item["attributes"]
    assert attributes["time_off_type"]["type"] == "TimeOffType"
    assert set(attributes["time_off_type"]["attributes"]) == {"id", "name", "category"}
    assert attributes["employee"]["type"] == "Employee"
    assert attributes["employee"]["attributes"]["id"]["value"] == personio.time_offs[0]["employee_id"]
    assert attributes["start_date"].endswith("T00:00:00+01:00")
    assert len(attributes["id_v2"]) == 36
    assert {"status", "days_count", "half_day_start", "half_day_end", "created_at", "updated_at"} <= set(attributes)


def test_time_offs_filter_by_dates_overlapping_the_period(personio, http):
    personio.time_offs = fake_personio_time_offs(personio.employees, count=3)
    personio.time_offs[0].update(start_date=dt.date(2027, 1, 4), end_date=dt.date(2027, 1, 8))
    personio.time_offs[1].update(start_date=dt.date(2027, 1, 10), end_date=dt.date(2027, 1, 12))
    personio.time_offs[2].update(start_date=dt.date(2026, 12, 1), end_date=dt.date(2026, 12, 2))

    body = time_offs(personio, http, token(personio, http), start_date="2027-01-07", end_date="2027-01-10")

    assert [item["attributes"]["id"] for item in body["data"]] == [1, 2]


def test_a_created_time_off_is_listed_and_a_deleted_one_is_gone(personio, http):
    headers = token(personio, http)
    personio.time_offs = []

    created = http.post(f"{personio.url}/v1/company/time-offs", headers=headers, json={
        "employee_id": 3, "time_off_type_id": 1, "start_date": "2027-02-01", "end_date": "2027-02-03",
        "half_day_start": False, "half_day_end": True, "comment": "Ski trip",
    })
    new_id = created.json()["data"]["attributes"]["id"]
    listed = time_offs(personio, http, headers)["data"]
    deleted = http.delete(f"{personio.url}/v1/company/time-offs/{new_id}", headers=headers)
    again = http.delete(f"{personio.url}/v1/company/time-offs/{new_id}", headers=headers)

    assert created.status_code == 200
    assert created.json()["data"]["attributes"]["days_count"] == 2.5
    assert [item["attributes"]["id"] for item in listed] == [new_id]
    assert deleted.status_code == 200
    assert personio.time_offs == []
    assert again.status_code == 404
    assert again.json()["success"] is False


def test_a_time_off_for_an_unknown_employee_is_refused(personio, http):
    answer = http.post(f"{personio.url}/v1/company/time-offs", headers=token(personio, http), json={
        "employee_id": 99999, "time_off_type_id": 1, "start_date": "2027-02-01", "end_date": "2027-02-01",
        "half_day_start": 0, "half_day_end": 0,
    })

    assert answer.status_code == 422
    assert "99999" in answer.json()["error"]["message"]


# -- the roster -------------------------------------------------------------------------------


def test_the_roster_is_deterministic_with_a_supervisor_tree_offices_and_mixed_statuses():
    roster = fake_personio_roster(2000)

    assert roster == fake_personio_roster(2000)
    ids = {e["id"] for e in roster}
    assert [e["id"] for e in roster if e["supervisor"] is None] == [1]
    assert all(e["supervisor"] in ids and e["supervisor"] < e["id"] for e in roster[1:])
    assert len({e["office"]["name"] for e in roster}) == 5
    assert {e["status"] for e in roster} == {"active", "leave", "onboarding", "inactive"}
    assert len({e["email"] for e in roster}) == 2000
    onboarding = [e for e in roster if e["status"] == "onboarding"]
    assert onboarding and all(e["hire_date"] > dt.date(2026, 12, 1) for e in onboarding)
    assert all(e["termination_date"] and e["last_working_day"] for e in roster if e["status"] == "inactive")


def test_the_roster_spreads_people_over_the_offices_given():
    roster = fake_personio_roster(30, offices=["Vienna", "Zurich"])

    assert {e["office"]["name"] for e in roster} == {"Vienna", "Zurich"}
