"""The Personio connector's translation, against payloads shaped as VENDORS.md says ("Personio")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from connectors.base import ConnectorError, PushChange, RemoteLocation
from connectors.personio.connector import PersonioConnector
from connectors.registry import connector_class

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "personio"
BASE = "https://api.personio.de"
AUTH = f"{BASE}/v1/auth"
EMPLOYEES = f"{BASE}/v1/company/employees"
TIME_OFFS = f"{BASE}/v1/company/time-offs"
TIME_OFF_TYPES = f"{BASE}/v1/company/time-off-types"
CLIENT_ID = "papi-client-4711"
SECRET = "Zq8-personio-unmistakable-secret"
TODAY = dt.date(2026, 12, 1)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(autouse=True)
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(AUTH, json=fixture("auth_token.json"))
        yield rsps


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)
    return TODAY


def make(field_map: dict[str, str] | None = None, **config: Any) -> PersonioConnector:
    return PersonioConnector(
        config={"client_id": CLIENT_ID, "employee_number_attribute": "dynamic_21"} | config,
        secrets={"client_secret": SECRET},
        field_map=field_map,
    )


def add_employees(mocked, name: str = "connector_employees.json", **params: str) -> Any:
    return mocked.get(EMPLOYEES, json=fixture(name), match=[matchers.query_param_matcher(params, strict_match=False)])


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def by_id(records) -> dict[str, Any]:
    return {record.remote_id: record for record in records}


# -- the class ---------------------------------------------------------------------


def test_the_registry_finds_the_connector_by_its_kind():
    assert connector_class("personio") is PersonioConnector


def test_the_secret_is_the_client_secret_and_never_in_repr():
    connector = make()
    assert PersonioConnector.secret_fields == ("client_secret",)
    assert SECRET not in repr(connector) and SECRET not in repr(connector.settings)


def test_the_default_status_map_names_personios_statuses_and_terminated():
    assert PersonioConnector.default_status_map == {
        "onboarding": "onboarding", "active": "active", "leave": "on_leave", "inactive": "inactive",
        "terminated": "terminated",
    }


def test_absences_are_a_stream_only_when_the_connection_syncs_them():
    assert make().streams == {"employees", "locations"}
    assert make(absences="from_personio").streams == {"employees", "locations", "absences"}
    assert make(absences="to_personio").absence_direction == "to_source"
    assert make(absences="from_personio").absence_direction == "from_source"
    assert make().absence_direction == ""


def test_provides_follows_the_settings_and_the_field_map():
    assert make(employee_number_attribute="").provides == {
        "first_name", "last_name", "email", "gender", "job_title", "hire_date", "termination_date",
        "depot", "manager",
    }
    connector = make(use_hire_date=True, use_last_working_day=True, field_map={"mobile_phone": "dynamic_9"})
    assert {"employee_reference", "access_starts_on", "access_ends_on", "mobile_phone"} <= connector.provides


def test_include_new_records_follows_include_new():
    assert make().include_new_records is True
    assert make(include_new=False).include_new_records is False


def test_the_daily_full_sync_time_is_full_sync_at():
    assert make().full_sync_time == dt.time(6, 30)
    assert make(full_sync_at="21:05").full_sync_time == dt.time(21, 5)


def test_describe_is_the_api_host():
    assert make().describe() == "api.personio.de"


# -- employees ---------------------------------------------------------------------


def test_attribute_objects_become_remote_employees(mocked):
    add_employees(mocked)
    records = by_id(make(field_map={"custom.marital_status": "dynamic_2"}).fetch_employees())

    anna, jonas, kim = records["1"], records["2"], records["3"]
    assert (anna.first_name, anna.last_name, anna.email) == ("Anna", "Schmidt", "anna.schmidt@example.com")
    assert (anna.gender, jonas.gender, kim.gender) == ("Female", "Male", "Diverse")
    assert anna.job_title == "Head of People"
    assert anna.hire_date == dt.date(2014, 11, 9)  # the day of 2014-11-09T00:00:00+01:00
    assert anna.employee_reference == "E-0001"
    assert (anna.location_id, jonas.location_id) == ("11", "12")
    assert (anna.manager_remote_id, jonas.manager_remote_id) == ("", "1")
    assert (anna.status, jonas.status, kim.status) == ("active", "leave", "onboarding")
    assert anna.custom == {"marital_status": "married"}
    assert kim.custom == {"marital_status": None}
    assert anna.source_position == "page 1, record 1"
    assert anna.problems == []


def test_the_read_asks_for_exactly_what_is_mapped(mocked):
    call = add_employees(mocked)
    list(make(field_map={"custom.marital_status": "dynamic_2"}).fetch_employees())

    params = query(call.calls[0].request.url)
    assert params["attributes[]"] == [
        "id", "status", "first_name", "last_name", "email", "gender", "position", "hire_date",
        "termination_date", "dynamic_21", "office", "supervisor", "dynamic_2",
    ]
    assert params["limit"] == ["100"]
    assert "updated_since" not in params


def test_the_last_working_day_is_asked_for_only_when_access_follows_it(mocked):
    call = add_employees(mocked)
    list(make(use_last_working_day=True).fetch_employees())
    params = query(call.calls[0].request.url)
    assert "last_working_day" in params["attributes[]"]


def test_a_field_map_entry_reads_another_attribute_for_a_person_field(mocked):
    add_employees(mocked)
    records = by_id(make(field_map={"job_title": "dynamic_21"}).fetch_employees())
    assert records["1"].job_title == "E-0001"


def test_a_bad_date_is_a_problem_of_that_record_not_of_the_run(mocked):
    add_employees(mocked)
    records = by_id(make().fetch_employees())
    assert records["5"].hire_date is None
    assert len(records["5"].problems) == 1 and "hire_date" in records["5"].problems[0]
    assert records["1"].problems == []


def test_a_termination_date_in_the_past_makes_the_person_terminated(mocked):
    add_employees(mocked)
    records = by_id(make().fetch_employees())
    assert records["4"].termination_date == dt.date(2026, 11, 30)
    assert records["4"].status == "terminated"
    assert records["1"].status == "active"


def test_a_past_last_working_day_terminates_only_when_access_follows_it(mocked, monkeypatch):
    add_employees(mocked)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: dt.date(2026, 12, 20))
    assert by_id(make().fetch_employees())["5"].status == "active"
    assert by_id(make(use_last_working_day=True).fetch_employees())["5"].status == "terminated"


def test_access_dates_follow_the_hire_date_and_the_day_after_the_last_working_day(mocked):
    add_employees(mocked)
    records = by_id(make(use_hire_date=True, use_last_working_day=True).fetch_employees())
    assert records["3"].access_starts_on == dt.date(2027, 1, 4)
    assert records["5"].access_ends_on == dt.date(2026, 12, 19)
    assert records["1"].access_ends_on is None


def test_access_dates_stay_empty_without_the_settings(mocked):
    add_employees(mocked)
    records = by_id(make().fetch_employees())
    assert (records["3"].access_starts_on, records["5"].access_ends_on) == (None, None)


def test_an_attribute_missing_from_every_record_names_the_whitelist(mocked):
    add_employees(mocked, "connector_employees_without_email.json")
    with pytest.raises(ConnectorError) as caught:
        list(make().fetch_employees())
    assert caught.value.permanent
    assert caught.value.message.startswith(
        "Personio did not return `email`; enable it under Settings > Integrations > API credentials"
    )


def test_a_missing_optional_attribute_is_left_as_it_is_rather_than_blanked(mocked):
    payload = fixture("connector_employees.json")
    for item in payload["data"]:
        item["attributes"].pop("gender")
    mocked.get(EMPLOYEES, json=payload)
    connector = make()
    records = list(connector.fetch_employees())
    assert len(records) == 5
    assert "gender" not in connector.provides and "email" in connector.provides


def test_a_mapped_attribute_missing_from_every_record_stops_the_read(mocked):
    add_employees(mocked)
    with pytest.raises(ConnectorError, match="`dynamic_99`"):
        list(make(field_map={"custom.shoe_size": "dynamic_99"}).fetch_employees())


def test_a_delta_read_passes_updated_since(mocked):
    call = add_employees(mocked)
    since = dt.datetime(2026, 11, 30, 6, 30, tzinfo=dt.UTC)
    records = list(make().fetch_employees_changed(since))
    params = query(call.calls[0].request.url)
    assert params["updated_since"] == ["2026-11-30T06:30:00+00:00"]
    assert len(records) == 5


def test_a_wait_on_personios_rate_limit_shows_on_the_runs_progress(mocked):
    mocked.get(EMPLOYEES, status=429, json={"success": False, "error": {"code": 429, "message": "Too many"}},
               headers={"Retry-After": "2"})
    add_employees(mocked)
    connector = make()
    waits: list[str] = []
    connector.progress_wait = waits.append
    connector.client.session.sleep = lambda seconds: None
    assert len(list(connector.fetch_employees())) == 5
    assert waits == ["Waiting 2 s: Personio asked hrsync to slow down (rate limit)."]


def test_locations_are_the_distinct_offices_read_with_only_the_office_attribute(mocked):
    call = add_employees(mocked)
    locations = list(make().fetch_locations())
    params = query(call.calls[0].request.url)
    assert params["attributes[]"] == ["office"]
    assert [(loc.remote_id, loc.name) for loc in locations] == [("11", "Berlin"), ("12", "Hamburg")]
    assert all(isinstance(loc, RemoteLocation) for loc in locations)


def test_locations_without_the_office_attribute_name_the_whitelist(mocked):
    payload = fixture("connector_employees.json")
    for item in payload["data"]:
        item["attributes"] = {"id": item["attributes"]["id"]}
    mocked.get(EMPLOYEES, json=payload)
    with pytest.raises(ConnectorError, match=r"did not return `office`; enable it under Settings > Integrations"):
        list(make().fetch_locations())


def test_custom_fields_are_named_by_their_personio_labels_once_read(mocked):
    add_employees(mocked)
    connector = make(field_map={"custom.marital_status": "dynamic_2"})
    assert connector.custom_field_labels() == {}
    list(connector.fetch_employees())
    assert connector.custom_field_labels() == {"marital_status": "Marital status"}


# -- check -------------------------------------------------------------------------


def test_a_check_reads_one_page_and_counts_the_employees(mocked):
    add_employees(mocked)
    check = make().check()
    assert check.ok
    assert check.message == "Connected to Personio at api.personio.de (5 employees)"
    assert check.sample[0] == {"id": "1", "name": "Anna Schmidt", "email": "anna.schmidt@example.com",
                               "status": "active"}


def test_a_check_with_wrong_credentials_says_so_in_words(mocked):
    mocked.replace(responses.POST, AUTH, json=fixture("auth_rejected.json"), status=401)
    check = make().check()
    assert not check.ok
    assert "client ID or client secret" in check.message
    assert SECRET not in check.message


def test_a_check_names_an_attribute_the_credentials_may_not_read(mocked):
    add_employees(mocked, "connector_employees_without_email.json")
    check = make().check()
    assert not check.ok and "`email`" in check.message


# -- absences ----------------------------------------------------------------------


def add_time_offs(mocked) -> None:
    for page in (1, 2):
        mocked.get(
            TIME_OFFS, json=fixture(f"time_offs_page{page}.json"),
            match=[matchers.query_param_matcher({"offset": str(page)}, strict_match=False)],
        )


def test_absences_are_read_for_the_window_from_page_one(mocked):
    add_time_offs(mocked)
    absences = list(make(absences="from_personio", absence_days_back=10, absence_days_ahead=40).fetch_absences())

    first = query(mocked.calls[1].request.url)
    assert first["offset"] == ["1"]
    assert (first["start_date"], first["end_date"]) == (["2026-11-21"], ["2027-01-10"])
    assert [a.remote_id for a in absences] == ["9001", "9002", "9003"]  # 9002 came twice
    vacation, sick = absences[0], absences[1]
    assert (vacation.employee_remote_id, vacation.type_name, vacation.status) == ("1", "Paid vacation", "approved")
    assert (vacation.start_date, vacation.end_date) == (dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    assert (sick.type_name, sick.half_day_start, sick.half_day_end) == ("Sick day", True, False)
    assert vacation.remote_id_v2 == "0b6e1c9a-1111-4c2d-8e3f-000000009001"
    assert absences[2].status == "pending"


def test_only_approved_absences_leaves_the_others_out(mocked):
    add_time_offs(mocked)
    absences = list(make(absences="from_personio", only_approved_absences=True).fetch_absences())
    assert absences and {a.status for a in absences} == {"approved"}
    assert "9003" not in {a.remote_id for a in absences}


def test_the_absence_window_is_days_back_and_ahead_of_today():
    assert make(absence_days_back=30, absence_days_ahead=180).absence_window(TODAY) == (
        dt.date(2026, 11, 1), dt.date(2027, 5, 30),
    )


def create(key: str = "absence:12", type_name: str = "paid vacation") -> PushChange:
    return PushChange(stream="absences", operation="create", key=key, values={
        "employee_remote_id": "2", "type_name": type_name, "start_date": "2026-12-21",
        "end_date": "2026-12-23", "half_day_start": False, "half_day_end": True, "comment": "Booked in hrsync",
    })


def test_a_pushed_absence_is_created_with_the_type_matched_by_name(mocked):
    mocked.get(TIME_OFF_TYPES, json=fixture("time_off_types.json"))
    posted = mocked.post(TIME_OFFS, json=fixture("time_off_created.json"))
    results = list(make(absences="to_personio").push([create(), create("absence:13")]))

    assert [(r.key, r.outcome, r.remote_id) for r in results] == [
        ("absence:12", "sent", "555001"), ("absence:13", "sent", "555001"),
    ]
    body = json.loads(posted.calls[0].request.body)
    assert body == {
        "employee_id": 2, "time_off_type_id": 1001, "start_date": "2026-12-21", "end_date": "2026-12-23",
        "half_day_start": False, "half_day_end": True, "comment": "Booked in hrsync",
    }
    assert len(mocked.calls) == 4  # auth, the types once, two creates


def test_an_absence_of_a_type_personio_lacks_is_rejected(mocked):
    mocked.get(TIME_OFF_TYPES, json=fixture("time_off_types.json"))
    [result] = make(absences="to_personio").push([create(type_name="Sabbatical")])
    assert result.outcome == "rejected"
    assert result.message.startswith("Personio has no absence type named 'Sabbatical'. Its types are: ")
    assert "Paid vacation" in result.message


def test_an_absence_personio_refuses_is_rejected_with_its_message(mocked):
    mocked.get(TIME_OFF_TYPES, json=fixture("time_off_types.json"))
    mocked.post(TIME_OFFS, json=fixture("error_validation.json"), status=422)
    [result] = make(absences="to_personio").push([create()])
    assert result.outcome == "rejected"
    assert "The given data failed to pass validation." in result.message


def test_an_absence_that_meets_a_server_error_failed_and_is_tried_again(mocked):
    mocked.get(TIME_OFF_TYPES, json=fixture("time_off_types.json"))
    mocked.post(TIME_OFFS, json={"success": False, "error": {"code": 500, "message": "oops"}}, status=500)
    [result] = make(absences="to_personio").push([create()])
    assert result.outcome == "failed"


def test_a_removed_absence_is_deleted_and_one_already_gone_counts_as_sent(mocked):
    mocked.delete(f"{TIME_OFFS}/555001", json=fixture("time_off_deleted.json"))
    mocked.delete(f"{TIME_OFFS}/555002", json=fixture("error_not_found.json"), status=404)
    changes = [
        PushChange(stream="absences", operation="delete", key="absence:12", remote_id="555001"),
        PushChange(stream="absences", operation="delete", key="absence:13", remote_id="555002"),
    ]
    results = list(make(absences="to_personio").push(changes))
    assert [(r.key, r.outcome) for r in results] == [("absence:12", "sent"), ("absence:13", "sent")]
    assert [c.request.method for c in mocked.calls] == ["POST", "DELETE", "DELETE"]


# -- through a sync ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_sync_brings_personios_people_into_the_directory(mocked):
    from connections.services import connection_create
    from hrsync.people.models import Person
    from mappings.models import DepotMapping
    from mappings.services import depot_map
    from tests.connections.helpers import run_sync

    connection = connection_create(
        kind="personio", name="Personio",
        config={"client_id": CLIENT_ID, "employee_number_attribute": "dynamic_21"},
        secrets={"client_secret": SECRET},
        field_map={"custom.marital_status": "dynamic_2"},
    )
    add_employees(mocked)
    locations = run_sync(connection, scope="locations")
    assert locations.status == "succeeded", locations.error
    for mapping in DepotMapping.objects.filter(connection=connection):
        depot_map(connection=connection, remote_location_id=mapping.remote_location_id, depot_name=mapping.remote_name)

    run = run_sync(connection, scope="employees")

    assert run.status == "completed_with_errors", run.error
    people = {p.email: p for p in Person.objects.select_related("depot", "manager")}
    # Lena's termination date has passed and she was never here; Max's hire date is unreadable.
    assert set(people) == {"anna.schmidt@example.com", "jonas.weber@example.com", "kim.becker@example.com"}
    jonas = people["jonas.weber@example.com"]
    assert (jonas.gender, jonas.job_title, jonas.employee_reference) == ("Male", "Warehouse lead", "E-0002")
    assert (jonas.status, jonas.depot.name, jonas.manager.email) == ("on_leave", "Hamburg", "anna.schmidt@example.com")
    assert jonas.hire_date == dt.date(2019, 3, 1)
    assert jonas.custom_fields == {"marital_status": "single"}
    assert run.counts["created"] == 3 and run.counts["errors"] == 1
    # One sign-in for both runs: the token is reused.
    assert [call.request.url for call in mocked.calls].count(f"{BASE}/v1/auth") == 1


def test_an_absence_personio_refuses_access_to_failed_and_is_tried_again(mocked):
    mocked.get(TIME_OFF_TYPES, json=fixture("time_off_types.json"))
    mocked.post(TIME_OFFS, json={"success": False, "error": {"code": 0, "message": "Forbidden"}}, status=403)
    [result] = make(absences="to_personio").push([create()])
    # Not the record's fault: the credential may not write absences yet.
    assert result.outcome == "failed"


@pytest.mark.django_db
def test_a_sync_of_all_data_reads_each_page_of_employees_once_and_names_the_offices(mocked):
    from connections.services import connection_create
    from mappings.models import DepotMapping
    from tests.connections.helpers import run_sync

    connection = connection_create(
        kind="personio", name="Personio", config={"client_id": CLIENT_ID}, secrets={"client_secret": SECRET}
    )
    employees = add_employees(mocked)

    run = run_sync(connection, scope="all")

    assert run.counts["locations"]["create"] == len(DepotMapping.objects.filter(connection=connection)) > 0
    assert employees.call_count == 1
    names = set(DepotMapping.objects.filter(connection=connection).values_list("remote_name", flat=True))
    assert "Hamburg" in names and not any(name.isdigit() for name in names)


# -- absences through syncs, both ways -----------------------------------------------


@pytest.fixture
def personio_connection(db, monkeypatch):
    from connections.services import connection_create

    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)
    return connection_create(
        kind="personio", name="Personio",
        config={"client_id": CLIENT_ID, "absences": "from_personio"}, secrets={"client_secret": SECRET},
    )


def test_personios_time_offs_are_created_changed_and_removed_by_syncs(mocked, personio_connection):
    from hrsync.people.models import Absence
    from tests.connections.helpers import run_sync

    add_employees(mocked)
    add_time_offs(mocked)  # 9001 and 9002 on page 1; 9002 again and 9003 on page 2

    first = run_sync(personio_connection, scope="all")

    rows = {a.remote_id: a for a in Absence.objects.filter(connection=personio_connection).select_related("person")}
    assert set(rows) == {"9001", "9002", "9003"}, first.report.get("absences")
    assert rows["9002"].person.email == "jonas.weber@example.com"
    pages = [query(c.request.url)["offset"] for c in mocked.calls if c.request.url.startswith(TIME_OFFS)]
    assert pages == [["1"], ["2"]]

    # Personio now has 9001 a day longer, 9002 as it was, and no 9003.
    page = fixture("time_offs_page1.json")
    page["data"][0]["attributes"]["end_date"] = "2026-12-03T00:00:00+01:00"
    page["metadata"] = {"total_elements": 2, "current_page": 1, "total_pages": 1}
    mocked.replace(responses.GET, TIME_OFFS, json=page)
    second = run_sync(personio_connection, scope="absences")

    assert second.counts["absences"]["updated"] == 1 and second.counts["absences"]["removed"] == 1
    kept = {a.remote_id: a.end_date for a in Absence.objects.filter(connection=personio_connection)}
    assert kept == {"9001": dt.date(2026, 12, 3), "9002": rows["9002"].end_date}


def test_an_absence_recorded_in_hrsync_is_created_and_removed_in_personio(
    mocked, personio_connection, django_capture_on_commit_callbacks
):
    from connections.services import connection_update
    from hrsync.people.absences import absence_create, absence_remove
    from hrsync.people.models import Absence, Person
    from tests.connections.helpers import run_sync

    add_employees(mocked)
    run_sync(personio_connection, scope="employees")
    connection_update(connection=personio_connection, config={**personio_connection.config, "absences": "to_personio"})
    mocked.get(TIME_OFF_TYPES, json=fixture("time_off_types.json"))
    created = mocked.post(TIME_OFFS, json=fixture("time_off_created.json"))
    deleted = mocked.delete(f"{TIME_OFFS}/555001", json=fixture("time_off_deleted.json"))
    jonas = Person.objects.get(email="jonas.weber@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        absence = absence_create(
            person=jonas, type_name="Paid vacation", start_date=dt.date(2026, 12, 21), end_date=dt.date(2026, 12, 23)
        )
    absence.refresh_from_db()
    assert (absence.push_state, absence.remote_id) == ("sent", "555001")
    assert json.loads(created.calls[0].request.body)["employee_id"] == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert absence_remove(absence=absence) is False  # waits for Personio
    assert deleted.call_count == 1
    assert not Absence.objects.filter(pk=absence.pk).exists()
