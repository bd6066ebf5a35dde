"""The ActionHRM connector against recorded-style payloads (VENDORS.md, "ActionHRM")."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from connectors.actionhrm.connector import ActionHRMConnector
from connectors.actionhrm.forms import ActionHRMConfigForm
from connectors.base import ConnectorError, RemoteEmployee, RemoteLocation
from connectors.registry import connector_class

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "actionhrm"
BASE = "https://my-company.actionhrm.com"
LOCATIONS = f"{BASE}/api/v1/locations"
EMPLOYEES = f"{BASE}/api/v1/employees"
USERNAME = "api-user"
PASSWORD = "Tr0ub4dor&3-very-secret"
BASIC = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def page_params(page: int, per_page: int) -> list:
    return [matchers.query_param_matcher({"page": str(page), "per_page": str(per_page)})]


@pytest.fixture(autouse=True)
def mocked():
    # Everything goes to responses; an unregistered URL fails with a
    # ConnectionError, so nothing can reach the network.
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make(sleeps: list[float] | None = None, field_map=None, **config) -> ActionHRMConnector:
    settings = {"subdomain": "my-company", "username": USERNAME} | config
    connector = ActionHRMConnector(
        config=settings, secrets={"password": PASSWORD}, field_map=field_map
    )
    connector.session.sleep = (sleeps if sleeps is not None else []).append
    return connector


@pytest.fixture
def connector(sleeps) -> ActionHRMConnector:
    return make(sleeps, per_page=2)


def add_three_pages(mocked) -> None:
    for page in (1, 2, 3):
        mocked.get(
            EMPLOYEES,
            json=fixture(f"employees_page{page}.json"),
            match=page_params(page, 2),
        )


# -- the class --------------------------------------------------------------------


def test_the_registry_finds_the_connector_by_its_kind():
    cls = connector_class("actionhrm")
    assert cls is ActionHRMConnector
    assert cls.label == "ActionHRM"
    assert cls.streams == frozenset({"employees", "locations"})
    assert cls.full_snapshot is True
    assert cls.secret_fields == ("password",)


def test_the_default_status_map_covers_every_actionhrm_status():
    assert ActionHRMConnector.default_status_map == {
        "Candidate": "candidate",
        "Onboarding": "onboarding",
        "Active": "active",
        "On Leave": "on_leave",
        "Inactive": "inactive",
        "Terminated": "terminated",
    }


def test_it_owns_the_profile_fields_and_optional_ones_only_when_mapped():
    profile = {
        "employee_reference", "first_name", "last_name", "email", "date_of_birth",
        "gender", "mobile_phone", "home_phone", "work_phone", "depot",
    }
    assert ActionHRMConnector.provides == profile
    assert make().provides == profile
    mapped = make(field_map={"job_title": "position", "hire_date": "start_date"})
    assert mapped.provides == profile | {"job_title", "hire_date"}
    assert make(field_map={"manager_id": "supervisor"}).provides == profile | {"manager"}
    assert ActionHRMConnector.provides == profile


def test_describe_names_the_host_only(connector):
    assert connector.describe() == "my-company.actionhrm.com"
    assert make(base_url="https://hr.example.org/actionhrm").describe() == (
        "hr.example.org/actionhrm"
    )


# -- locations --------------------------------------------------------------------


def test_locations_are_read_with_basic_auth(mocked, connector):
    mocked.get(LOCATIONS, json=fixture("locations.json"))
    locations = list(connector.fetch_locations())
    assert locations == [
        RemoteLocation("L1", "Sydney Depot"),
        RemoteLocation("L2", "Melbourne Depot"),
        RemoteLocation("L3", "Head Office"),
    ]
    assert locations[0].raw == {"id": "L1", "name": "Sydney Depot"}
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == BASIC
    assert request.headers["User-Agent"].startswith("hrsync/")


def test_a_locations_answer_without_a_locations_list_is_a_clear_error(mocked, connector):
    mocked.get(LOCATIONS, json={"data": []})
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_locations())
    assert 'has no "locations" list' in caught.value.message
    assert "locations path" in caught.value.message
    assert caught.value.permanent is True


def test_a_changed_locations_path_is_used(mocked, sleeps):
    connector = make(sleeps, locations_path="/v2/sites")
    mocked.get(f"{BASE}/v2/sites", json={"locations": [{"id": 7, "name": " Depot "}]})
    assert list(connector.fetch_locations()) == [RemoteLocation("7", "Depot")]


# -- employees: paging ------------------------------------------------------------


def test_employees_are_read_across_three_pages(mocked, connector):
    add_three_pages(mocked)
    employees = list(connector.fetch_employees())

    assert [c.request.params for c in mocked.calls] == [
        {"page": "1", "per_page": "2"},
        {"page": "2", "per_page": "2"},
        {"page": "3", "per_page": "2"},
    ]
    assert all(c.request.headers["Authorization"] == BASIC for c in mocked.calls)
    assert [e.remote_id for e in employees] == ["1001", "1002", "1003", "1004", "1005"]
    assert all(e.problems == [] for e in employees)
    assert [e.status for e in employees] == [
        "Active", "On Leave", "Onboarding", "Terminated", "Candidate",
    ]
    assert [e.source_position for e in employees] == [
        "page 1, record 1", "page 1, record 2", "page 2, record 1",
        "page 2, record 2", "page 3, record 1",
    ]


def test_employees_are_typed_and_cleaned(mocked, connector):
    add_three_pages(mocked)
    olivia, jack, mia, liam, _ava = connector.fetch_employees()

    assert olivia == RemoteEmployee(
        remote_id="1001",
        employee_reference="EMP-1001",
        first_name="Olivia",
        last_name="Nguyen",
        email="Olivia.Nguyen@example.com",  # case kept; the planner lowercases
        date_of_birth=dt.date(1988, 4, 12),
        gender="Female",
        mobile_phone="+61 412 345 678",
        work_phone="+61 2 9000 1001",
        location_id="L1",
        status="Active",
        raw=fixture("employees_page1.json")["employees"][0],
        source_position="page 1, record 1",
    )
    assert olivia.raw["email"] == "Olivia.Nguyen@example.com"
    assert (jack.first_name, jack.email, jack.work_phone) == ("Jack", "jack.obrien@example.com", "")
    assert jack.job_title == "Forklift Driver"
    assert jack.hire_date == dt.date(2015, 3, 2)
    assert jack.manager_remote_id == "1001"
    assert isinstance(mia.date_of_birth, dt.date)
    assert mia.hire_date == dt.date(2025, 7, 14)
    assert liam.termination_date == dt.date(2025, 6, 30)


def test_the_default_page_size_is_one_hundred(mocked, sleeps):
    connector = make(sleeps)
    mocked.get(
        EMPLOYEES,
        json=fixture("employees_with_problems.json"),
        match=page_params(1, 100),
    )
    assert len(list(connector.fetch_employees())) == 3
    assert len(mocked.calls) == 1


def test_reading_stops_at_an_empty_page(mocked, connector, caplog):
    mocked.get(EMPLOYEES, json=fixture("employees_page1.json"), match=page_params(1, 2))
    mocked.get(
        EMPLOYEES,
        json={"employees": [], "page": 2, "per_page": 2, "total": 5},
        match=page_params(2, 2),
    )
    with caplog.at_level(logging.WARNING):
        employees = list(connector.fetch_employees())
    assert [e.remote_id for e in employees] == ["1001", "1002"]
    assert len(mocked.calls) == 2
    assert "said there are 5 employees" in caplog.text


def test_reading_stops_at_a_short_page_when_there_is_no_total(mocked, connector):
    page1 = fixture("employees_page1.json")
    del page1["total"]
    mocked.get(EMPLOYEES, json=page1, match=page_params(1, 2))
    mocked.get(EMPLOYEES, json={"employees": [{"id": "9"}]}, match=page_params(2, 2))
    assert [e.remote_id for e in connector.fetch_employees()] == ["1001", "1002", "9"]


def test_a_server_that_ignores_the_page_parameter_is_stopped(mocked, connector):
    page1 = fixture("employees_page1.json")
    del page1["page"]
    mocked.get(EMPLOYEES, json=page1)  # the same page, whatever is asked
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_employees())
    assert "sent the same employees for page 2 as for page 1" in caught.value.message
    assert caught.value.permanent is True
    assert len(mocked.calls) == 2


def test_a_server_that_answers_with_the_wrong_page_is_stopped(mocked, connector):
    mocked.get(EMPLOYEES, json=fixture("employees_page1.json"), match=page_params(1, 2))
    mocked.get(EMPLOYEES, json=fixture("employees_page1.json"), match=page_params(2, 2))
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_employees())
    assert "sent page 1 when asked for page 2" in caught.value.message


def test_a_server_that_never_ends_hits_the_page_cap(mocked, connector, monkeypatch):
    monkeypatch.setattr("connectors.actionhrm.connector.MAX_PAGES", 3)
    for page in (1, 2, 3):
        mocked.get(
            EMPLOYEES,
            json={"employees": [{"id": f"p{page}a"}, {"id": f"p{page}b"}], "page": page},
            match=page_params(page, 2),
        )
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_employees())
    assert "kept sending employees past page 3" in caught.value.message
    assert len(mocked.calls) == 3


def test_a_changed_employees_path_and_page_size_are_used(mocked, sleeps):
    connector = make(sleeps, employees_path="people", per_page=50)
    mocked.get(
        f"{BASE}/people",
        json={"employees": [{"id": "1"}], "page": 1, "per_page": 50, "total": 1},
        match=page_params(1, 50),
    )
    assert [e.remote_id for e in connector.fetch_employees()] == ["1"]


def test_a_base_url_wins_over_the_subdomain(mocked, sleeps):
    connector = make(sleeps, base_url="https://hr.example.org/actionhrm/")
    mocked.get(
        "https://hr.example.org/actionhrm/api/v1/employees",
        json={"employees": [{"id": "1"}], "total": 1},
    )
    assert [e.remote_id for e in connector.fetch_employees()] == ["1"]


# -- employees: records -----------------------------------------------------------


def test_a_record_without_an_id_gets_a_problem_and_the_others_are_fine(mocked, sleeps):
    connector = make(sleeps)
    mocked.get(EMPLOYEES, json=fixture("employees_with_problems.json"))
    noah, isla, leo = connector.fetch_employees()

    assert noah.remote_id == "2001"
    assert noah.problems == []
    assert noah.date_of_birth == dt.date(1985, 2, 14)

    assert isla.remote_id == ""
    assert isla.problems == ["record has no id"]
    assert isla.source_position == "page 1, record 2"
    assert isla.email == "isla.taylor@example.com"

    assert leo.remote_id == "2003"
    assert leo.date_of_birth is None
    assert leo.problems == ["date_of_birth '31/02/1990' is not a date (YYYY-MM-DD)"]
    assert leo.status == "Inactive"


def test_a_record_that_is_not_an_object_gets_a_problem(mocked, sleeps):
    connector = make(sleeps)
    mocked.get(EMPLOYEES, json={"employees": ["oops", {"id": "1"}], "total": 2})
    bad, good = connector.fetch_employees()
    assert bad.problems == ["record is not an object (it is str)"]
    assert good.remote_id == "1"
    assert good.problems == []


def test_the_field_map_reads_renamed_attributes(mocked, sleeps):
    connector = make(
        sleeps,
        field_map={"email": "work_email", "id": "person_id", "date_of_birth": "personal.dob"},
    )
    record = {
        "person_id": 55,
        "email": "old@example.com",
        "work_email": " Kim.Lee@Example.com ",
        "personal": {"dob": "1970-12-01"},
        "first_name": "Kim",
    }
    mocked.get(EMPLOYEES, json={"employees": [record], "page": 1, "per_page": 100, "total": 1})
    (kim,) = connector.fetch_employees()
    assert kim.remote_id == "55"
    assert kim.email == "Kim.Lee@Example.com"
    assert kim.date_of_birth == dt.date(1970, 12, 1)
    assert kim.first_name == "Kim"
    assert kim.problems == []


def test_an_employees_answer_without_an_employees_list_is_a_clear_error(mocked, connector):
    mocked.get(EMPLOYEES, json={"people": [], "total": 0})
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_employees())
    assert caught.value.message == (
        "ActionHRM's answer from my-company.actionhrm.com/api/v1/employees (page 1) "
        'has no "employees" list. Check the employees path in the connection settings.'
    )
    assert caught.value.permanent is True


# -- errors -----------------------------------------------------------------------


def test_a_401_says_the_username_or_password_was_rejected(mocked, connector, sleeps):
    mocked.get(EMPLOYEES, status=401, json={"error": "unauthorised"})
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_employees())
    assert caught.value.message == (
        "ActionHRM rejected the username or password (401). "
        "Check the API username and password in the connection settings."
    )
    assert caught.value.permanent is True
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_a_403_asks_for_permission(mocked, connector):
    mocked.get(LOCATIONS, status=403)
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_locations())
    assert "refused access to my-company.actionhrm.com/api/v1/locations (403)" in str(caught.value)
    assert caught.value.permanent is True


def test_a_404_points_at_the_subdomain_and_paths(mocked, connector):
    mocked.get(LOCATIONS, status=404)
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_locations())
    assert caught.value.message == (
        "ActionHRM has nothing at my-company.actionhrm.com/api/v1/locations (404). "
        "Check the sub-domain (or base URL) and the API paths in the connection settings."
    )
    assert caught.value.permanent is True


def test_a_429_is_retried_after_retry_after_and_then_succeeds(mocked, connector, sleeps):
    mocked.get(EMPLOYEES, json=fixture("employees_page1.json"), match=page_params(1, 2))
    mocked.get(EMPLOYEES, status=429, headers={"Retry-After": "12"}, match=page_params(2, 2))
    mocked.get(EMPLOYEES, json=fixture("employees_page2.json"), match=page_params(2, 2))
    mocked.get(EMPLOYEES, json=fixture("employees_page3.json"), match=page_params(3, 2))
    employees = list(connector.fetch_employees())
    assert len(employees) == 5
    assert sleeps == [12.0]
    assert len(mocked.calls) == 4


def test_server_errors_are_retried_then_fail_with_the_reason(mocked, connector, sleeps):
    for _ in range(5):
        mocked.get(EMPLOYEES, status=503)
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_employees())
    assert caught.value.message == (
        "ActionHRM had a server error (HTTP 503) on every try. "
        "hrsync will try again at the next sync."
    )
    assert caught.value.permanent is False
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_a_failure_on_a_later_page_raises_rather_than_ending_the_snapshot_early(
    mocked, connector, sleeps
):
    mocked.get(EMPLOYEES, json=fixture("employees_page1.json"), match=page_params(1, 2))
    for _ in range(5):
        mocked.get(EMPLOYEES, status=500, match=page_params(2, 2))
    read: list[RemoteEmployee] = []
    with pytest.raises(ConnectorError) as caught:
        for employee in connector.fetch_employees():
            read.append(employee)
    # Page 1 was yielded, then the iterator raised instead of stopping: the
    # caller can never mistake two people for the whole snapshot.
    assert [e.remote_id for e in read] == ["1001", "1002"]
    assert "server error (HTTP 500)" in caught.value.message
    assert caught.value.permanent is False


def test_an_unreachable_host_is_a_transient_error(mocked, connector, sleeps):
    for _ in range(5):
        mocked.get(LOCATIONS, body=requests.ConnectTimeout("timed out"))
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_locations())
    assert caught.value.message == (
        "Could not reach my-company.actionhrm.com: the connection timed out on every try."
    )
    assert caught.value.permanent is False


def test_malformed_json_is_a_clear_error(mocked, connector):
    truncated = '{"locations": [{"id": "L1", "name": "Syd'
    mocked.get(LOCATIONS, body=truncated, content_type="application/json")
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_locations())
    assert caught.value.message.startswith(
        "ActionHRM returned broken JSON from my-company.actionhrm.com/api/v1/locations ("
    )


def test_an_html_error_page_is_a_clear_error(mocked, connector):
    page = (
        "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
        "<body><h1>503</h1></body></html>"
    )
    mocked.get(EMPLOYEES, body=page, content_type="text/html; charset=utf-8")
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_employees())
    assert caught.value.message == (
        "ActionHRM returned something that is not JSON from "
        "my-company.actionhrm.com/api/v1/employees "
        "(an HTML page starting 'Service Unavailable'…); check the base URL and path."
    )
    assert caught.value.permanent is True


def test_missing_settings_are_permanent_errors_without_any_request(mocked):
    no_password = ActionHRMConnector(
        config={"subdomain": "my-company", "username": USERNAME}, secrets={}
    )
    with pytest.raises(ConnectorError, match="no API username or password") as caught:
        list(no_password.fetch_locations())
    assert caught.value.permanent is True
    nowhere = ActionHRMConnector(config={"username": USERNAME}, secrets={"password": PASSWORD})
    with pytest.raises(ConnectorError, match="no sub-domain or base URL"):
        list(nowhere.fetch_employees())
    assert nowhere.describe() == "ActionHRM"
    assert len(mocked.calls) == 0


# -- check ------------------------------------------------------------------------


def test_check_is_green_with_the_host_and_location_count(mocked, connector):
    mocked.get(LOCATIONS, json=fixture("locations.json"))
    result = connector.check()
    assert result.ok is True
    assert result.message == "Connected to ActionHRM at my-company.actionhrm.com (3 locations)"
    assert result.sample[:2] == [
        {"id": "L1", "name": "Sydney Depot"},
        {"id": "L2", "name": "Melbourne Depot"},
    ]


def test_check_is_red_with_the_reason_and_does_not_raise(mocked, connector):
    mocked.get(LOCATIONS, status=401)
    result = connector.check()
    assert result.ok is False
    assert result.message.startswith("ActionHRM rejected the username or password (401).")
    assert result.sample == []


# -- the settings form ------------------------------------------------------------


def form(**data) -> ActionHRMConfigForm:
    return ActionHRMConfigForm(data={"username": USERNAME, "password": PASSWORD} | data)


@pytest.mark.parametrize(
    "typed",
    [
        "my-company",
        " My-Company ",
        "my-company.actionhrm.com",
        "https://my-company.actionhrm.com/",
    ],
)
def test_the_form_normalises_a_subdomain_or_a_pasted_host(typed):
    f = form(subdomain=typed)
    assert f.is_valid(), f.errors
    assert f.cleaned_data["subdomain"] == "my-company"
    assert f.cleaned_data["locations_path"] == "/api/v1/locations"
    assert f.cleaned_data["employees_path"] == "/api/v1/employees"
    assert f.cleaned_data["per_page"] == 100
    assert f.cleaned_data["base_url"] == ""


@pytest.mark.parametrize("typed", ["my_company", "-my-company", "my-company.example.com", "a b"])
def test_the_form_rejects_a_subdomain_that_is_not_a_dns_label(typed):
    f = form(subdomain=typed)
    assert not f.is_valid()
    assert "subdomain" in f.errors


def test_the_form_accepts_a_base_url_instead_of_a_subdomain():
    f = form(base_url="https://hr.example.org/actionhrm/", per_page="250", employees_path="staff")
    assert f.is_valid(), f.errors
    assert f.cleaned_data["base_url"] == "https://hr.example.org/actionhrm"
    assert f.cleaned_data["employees_path"] == "/staff"
    assert f.cleaned_data["per_page"] == 250


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("http://hr.example.org", "must start with https://"),
        ("https://user:pw@hr.example.org", "Do not put a user name or password"),
        ("https://hr.example.org/?a=1", "cannot have a query"),
    ],
)
def test_the_form_rejects_an_unsafe_base_url_without_repeating_it(typed, error):
    f = form(base_url=typed)
    assert not f.is_valid()
    (message,) = f.errors["base_url"]
    assert error in message
    assert "pw@" not in message


def test_the_form_needs_a_subdomain_or_a_base_url():
    f = form()
    assert not f.is_valid()
    assert f.non_field_errors() == [
        "Enter the ActionHRM sub-domain (such as my-company), or a base URL."
    ]


def test_the_form_needs_a_username_and_password_and_never_renders_the_password():
    f = ActionHRMConfigForm(data={"subdomain": "my-company"})
    assert not f.is_valid()
    assert set(f.errors) == {"username", "password"}
    filled = form(subdomain="my-company")
    assert filled.is_valid()
    assert filled.cleaned_data["password"] == PASSWORD
    assert PASSWORD not in str(filled["password"])


# -- the password stays secret ----------------------------------------------------


def test_the_password_never_appears_in_messages_reprs_or_logs(mocked, caplog, sleeps):
    connector = make(sleeps)
    mocked.get(LOCATIONS, status=401)
    mocked.get(LOCATIONS, status=403)
    mocked.get(LOCATIONS, status=404)
    for _ in range(5):
        mocked.get(LOCATIONS, status=503, headers={"Retry-After": "1"})
    for _ in range(5):
        mocked.get(LOCATIONS, body=requests.ConnectionError("Connection refused"))
    mocked.get(LOCATIONS, body="<html><title>Login</title></html>", content_type="text/html")
    mocked.get(LOCATIONS, body="{broken", content_type="application/json")
    mocked.get(LOCATIONS, json={"nope": 1})
    mocked.get(LOCATIONS, json=fixture("locations.json"))
    messages: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for _ in range(8):
            with pytest.raises(ConnectorError) as caught:
                list(connector.fetch_locations())
            messages.append(str(caught.value))
            messages.append(repr(caught.value))
        messages.append(connector.check().message)
        messages += [repr(connector), repr(connector.session), connector.describe()]
    assert len(mocked.calls) == 17
    assert mocked.calls[-1].request.headers["Authorization"] == BASIC  # it was sent
    assert any("giving up" in r.getMessage() for r in caplog.records)  # logs were captured
    secrets = (PASSWORD, BASIC, BASIC.split()[1])
    for text in [*messages, caplog.text]:
        for secret in secrets:
            assert secret not in text


def test_a_password_echoed_by_a_server_is_scrubbed_from_the_message(mocked, sleeps):
    password = "plainpassword42"
    connector = ActionHRMConnector(
        config={"subdomain": "my-company", "username": USERNAME}, secrets={"password": password}
    )
    page = f"<html><title>Wrong: {password}</title></html>"
    mocked.get(LOCATIONS, body=page, content_type="text/html")
    result = connector.check()
    assert result.ok is False
    assert "an HTML page starting 'Wrong: ********'" in result.message
    assert password not in result.message


@pytest.mark.django_db
def test_no_piece_of_a_password_echoed_where_the_quote_is_cut_reaches_the_health_bar(mocked):
    from connections import services
    from connections.models import Connection

    password = "Zq9-Echoed-unmistakable"
    connection = services.connection_create(kind="actionhrm", name="ActionHRM",
        config={"subdomain": "my-company", "username": USERNAME},
        secrets={"password": password},
    )
    # The quote keeps 40 characters: "Login failed for the password Zq9-Echoed".
    page = f"<html><title>Login failed for the password {password}</title></html>"
    mocked.get(LOCATIONS, body=page, content_type="text/html")

    services.connection_check(connection=connection)

    message = Connection.objects.get(pk=connection.pk).last_check_message
    assert "an HTML page starting 'Login failed for the password ********'" in message
    assert not any(password[:n] in message for n in range(3, len(password) + 1))
