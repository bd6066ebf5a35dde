"""The accessplanit connector's translation, against payloads shaped as VENDORS.md says ("accessplanit (API v2)")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from connectors.accessplanit.connector import AccessPlanItConnector
from connectors.base import (
    ConnectorError,
    PushChange,
    RemoteEmployee,
    RemoteLocation,
    RemoteTrainingRecord,
    WebhookRefused,
    WebhookTarget,
)
from connectors.registry import connector_class

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "accessplanit"
BASE = "https://acme.accessplanit.com/accessplan/api/v2"
USER = f"{BASE}/User"
API_KEY = "apit-key-Xq9-unmistakable-api-key"
TODAY = dt.date(2026, 12, 1)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)
    return TODAY


def make(**config: Any) -> AccessPlanItConnector:
    return AccessPlanItConnector(config={"base_url": BASE} | config, secrets={"api_key": API_KEY})


def asked(call: Any) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def sent(call: Any) -> Any:
    return json.loads(call.request.body)


def create(**values: Any) -> PushChange:
    base = {"first_name": "Jane", "last_name": "Smith", "email": "jane.smith@example.com",
            "person_ref": "57", "location_id": "12"}
    return PushChange(stream="employees", operation="create", key="person:57", values=base | values)


def update(remote_id: str = "jasmit", **values: Any) -> PushChange:
    return PushChange(stream="employees", operation="update", key="person:57", values=values, remote_id=remote_id)


# -- the class -------------------------------------------------------------------


def test_the_registry_finds_the_connector_by_its_kind():
    assert connector_class("accessplanit") is AccessPlanItConnector


def test_the_secrets_are_the_api_key_and_the_password_and_never_in_repr():
    connector = make()
    assert AccessPlanItConnector.secret_fields == ("api_key", "password")
    assert API_KEY not in repr(connector) and API_KEY not in repr(connector.settings)


def test_training_is_a_stream_unless_the_connection_turns_it_off():
    assert make().streams == {"locations", "employees", "training"}
    assert make(training=False).streams == {"locations", "employees"}


def test_the_default_status_map_names_accessplanits_statuses():
    assert AccessPlanItConnector.default_status_map == {
        "Enabled": "active", "New": "onboarding", "Disabled": "inactive",
    }


def test_it_provides_every_mapped_field_whatever_is_pushed():
    assert make(push_users=True).provides == {
        "first_name", "last_name", "email", "work_phone", "mobile_phone", "job_title",
        "date_of_birth", "gender", "depot",
    }


def test_push_fields_are_the_hrsync_owned_fields_only_while_pushing_is_on():
    assert make().push_fields == frozenset()
    assert make(push_users=True).push_fields == {"first_name", "last_name", "email", "mobile_phone", "work_phone"}
    owned = make(push_users=True, ownership={"job_title": "hrsync", "email": "accessplanit"}).push_fields
    assert owned == {"first_name", "last_name", "mobile_phone", "work_phone", "job_title"}


def test_a_full_read_happens_once_a_night():
    assert make().full_sync_time == dt.time(2, 0)


# -- employees and companies --------------------------------------------------------


def test_users_become_remote_employees(mocked):
    mocked.get(USER, json=fixture("users_page.json"))
    jane, bob = list(make().fetch_employees())
    assert (jane.remote_id, jane.first_name, jane.last_name, jane.email) == (
        "jasmit", "Jane", "Smith", "jane.smith@example.com",
    )
    assert (jane.work_phone, jane.mobile_phone, jane.job_title, jane.status) == (
        "0161 496 0000", "07700 900123", "Trainer", "Enabled",
    )
    assert (jane.date_of_birth, jane.gender, jane.location_id, jane.person_ref) == (
        dt.date(1990, 2, 1), "Female", "12", "",
    )
    assert jane.problems == []
    assert (bob.person_ref, bob.gender, bob.work_phone, bob.location_id) == ("42", "Male", "", "14")
    assert bob.problems == ["DOB 'not a date' is not a date (YYYY-MM-DD)"]


def test_the_users_read_asks_for_exactly_the_mapped_fields_in_the_connections_statuses(mocked):
    mocked.get(USER, json={"results": []})
    list(make().fetch_employees())
    query = asked(mocked.calls[0])
    assert query["$select"] == (
        "ID,ExternalID,Forenames,Surname,Email,Phone,Mobile,JobTitle,Status,DOB,Sex,MainCompanyID"
    )
    assert query["$filter"] == "(Status eq 'Enabled' or Status eq 'New')"


def test_the_companies_filter_quotes_each_company_id(mocked):
    mocked.get(USER, json={"results": []})
    list(make(user_statuses="Enabled", companies="12,A'B").fetch_employees())
    assert asked(mocked.calls[0])["$filter"] == (
        "(Status eq 'Enabled') and (MainCompanyID eq '12' or MainCompanyID eq 'A''B')"
    )


def test_a_delta_read_adds_the_updated_date(mocked):
    mocked.get(USER, json={"results": []})
    since = dt.datetime(2026, 11, 30, 22, 5, 9, tzinfo=dt.UTC)
    list(make(companies="12").fetch_employees_changed(since))
    assert asked(mocked.calls[0])["$filter"] == (
        "(Status eq 'Enabled' or Status eq 'New') and (MainCompanyID eq '12') "
        "and DateUpdated gt 2026-11-30T22:05:09Z"
    )


def test_a_user_without_an_id_is_a_record_with_a_problem(mocked):
    mocked.get(USER, json={"results": [{"Forenames": "No", "Surname": "Id", "Status": "Enabled"}]})
    (record,) = list(make().fetch_employees())
    assert record.problems == ["the user has no ID"]


def test_companies_become_locations(mocked):
    mocked.get(f"{BASE}/Company", json=fixture("companies.json"))
    assert list(make().fetch_locations()) == [
        RemoteLocation(remote_id="12", name="Acme North"), RemoteLocation(remote_id="14", name="Acme South"),
    ]
    assert asked(mocked.calls[0])["$select"] == "ID,Name"


def test_a_check_reads_one_user_and_says_how_many_there_are(mocked):
    mocked.get(USER, json={"@odata.count": 2, "results": fixture("users_page.json")["results"][:1]})
    check = make().check()
    assert check.ok
    assert check.message == (
        "Connected to accessplanit at acme.accessplanit.com (2 users in status Enabled or New)"
    )
    assert asked(mocked.calls[0])["$top"] == "1"
    assert check.sample[0]["email"] == "jane.smith@example.com"


def test_a_failed_check_says_why_without_the_api_key(mocked):
    mocked.get(USER, status=401, body=f"unknown key {API_KEY}")
    check = make().check()
    assert not check.ok
    assert "rejected the API key" in check.message and API_KEY not in check.message


# -- pushes ----------------------------------------------------------------------


def test_a_create_looks_for_the_external_id_first_and_posts_only_given_fields(mocked):
    mocked.get(USER, json={"results": []})
    mocked.post(USER, json=fixture("user_created.json"))
    (result,) = list(make(push_users=True).push([create(work_phone="0161 496 0000")]))
    assert (result.key, result.outcome, result.remote_id) == ("person:57", "sent", "jasmit2")
    assert asked(mocked.calls[0])["$filter"] == "ExternalID eq '57'"
    assert sent(mocked.calls[1]) == {
        "ExternalID": "57", "MainCompanyID": "12", "Forenames": "Jane", "Surname": "Smith",
        "Email": "jane.smith@example.com", "Phone": "0161 496 0000",
    }


def test_a_repeated_create_finds_the_user_already_made_and_never_posts(mocked):
    mocked.get(USER, json={"results": [{"ID": "jasmit2"}]})
    (result,) = list(make(push_users=True).push([create()]))
    assert (result.outcome, result.remote_id) == ("sent", "jasmit2")
    assert [call.request.method for call in mocked.calls] == ["GET"]


def test_an_update_puts_only_the_changed_fields_by_their_accessplanit_names(mocked):
    mocked.put(f"{USER}/jasmit", body="")
    (result,) = list(make(push_users=True).push([update(email="jane@example.com", mobile_phone="07700 900999")]))
    assert (result.outcome, result.remote_id) == ("sent", "jasmit")
    assert sent(mocked.calls[0]) == {"Email": "jane@example.com", "Mobile": "07700 900999"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (create(first_name="J" * 53), "First name is 53 characters; accessplanit takes at most 50."),
        (update(last_name="S" * 41), "Last name is 41 characters; accessplanit takes at most 40."),
        (update(email="e" * 70 + "@example.com"), "Email is 82 characters; accessplanit takes at most 80."),
        (create(last_name=""), "accessplanit needs a first and a last name for a new user."),
        (
            create(location_id=""),
            "Jane Smith has no accessplanit company: map their depot to a company on the Depots tab.",
        ),
    ],
)
def test_what_accessplanit_would_refuse_is_a_sentence_and_is_never_sent(mocked, change, problem):
    connector = make(push_users=True)
    assert connector.push_problem(change) == problem
    (result,) = list(connector.push([change]))
    assert (result.outcome, result.message) == ("rejected", problem)
    assert len(mocked.calls) == 0


def test_names_within_the_limits_are_no_problem():
    assert make().push_problem(create(first_name="J" * 50, last_name="S" * 40)) == ""


def test_a_user_accessplanit_refuses_is_rejected_with_its_message(mocked):
    mocked.get(USER, json={"results": []})
    mocked.post(USER, status=400, json=fixture("validation_error.json"))
    (result,) = list(make(push_users=True).push([create()]))
    assert result.outcome == "rejected"
    assert "MainCompanyID does not exist" in result.message


def test_a_refused_user_s_row_says_what_was_refused_without_the_request_s_address(mocked):
    mocked.get(USER, json={"results": []})
    mocked.post(USER, status=400, json=fixture("validation_error.json"))
    mocked.put(f"{USER}/jasmit", status=400)
    created, updated = list(make(push_users=True).push([create(), update(email="jane@example.com")]))
    assert created.message.startswith("accessplanit refused the new user: “")
    assert updated.message == "accessplanit refused the change: without saying why (HTTP 400)"
    assert BASE not in created.message + updated.message


def test_a_server_error_fails_the_one_push_for_the_next_run(mocked):
    mocked.put(f"{USER}/jasmit", status=503)
    (result,) = list(make(push_users=True).push([update(email="jane@example.com")]))
    assert result.outcome == "failed"
    assert "server error" in result.message


def test_a_refused_api_key_stops_the_pushes_with_an_error(mocked):
    mocked.put(f"{USER}/jasmit", status=401)
    with pytest.raises(ConnectorError, match="rejected the API key"):
        list(make(push_users=True).push([update(email="jane@example.com")]))


def test_an_unreachable_accessplanit_stops_the_pushes_with_an_error(mocked):
    mocked.put(f"{USER}/jasmit", body=requests.ConnectionError("refused"))
    with pytest.raises(ConnectorError, match="not answering"):
        list(make(push_users=True).push([update(email="jane@example.com")]))


# -- training --------------------------------------------------------------------


def test_delegates_and_awards_become_training_records(mocked):
    mocked.get(f"{BASE}/UserCourseDate", json=fixture("delegates.json"))
    mocked.get(f"{BASE}/UserAward", json=fixture("awards.json"))
    first_aid, handling, forklift = list(make().fetch_training())
    assert first_aid.raw == fixture("delegates.json")["results"][0]
    first_aid.raw = {}
    assert first_aid == RemoteTrainingRecord(
        remote_id="jasmit~881", employee_remote_id="jasmit", kind="booking",
        label="First Aid at Work - 12 Jan 2027", start_date=dt.date(2027, 1, 12), status="Provisional",
        updated_at=dt.datetime(2026, 11, 20, 11, 1, 38, 170000, tzinfo=dt.UTC),
        source_position="delegates page 1",
    )
    assert (handling.remote_id, handling.status) == ("bojone~702", "Completed")
    assert (forklift.remote_id, forklift.kind, forklift.employee_remote_id) == ("award:bojone~31", "award", "bojone")
    assert (forklift.label, forklift.start_date, forklift.status) == (
        "Forklift Licence", dt.date(2027, 6, 30), "Target",
    )
    awards_query = asked(mocked.calls[1])
    assert awards_query["$select"] == "UserID,AwardID,AwardLabel,TargetDate,Status,DateUpdated"
    assert awards_query["$orderby"] == "UserID,AwardID"


def test_an_award_with_an_id_of_its_own_is_keyed_by_it(mocked):
    mocked.get(f"{BASE}/UserCourseDate", json={"results": []})
    mocked.get(f"{BASE}/UserAward", json={"results": [{"ID": "77", "UserID": "bojone", "AwardID": 31}]})
    (award,) = list(make().fetch_training())
    assert award.remote_id == "award:77"


def test_a_training_delta_filters_by_updated_date_and_delegates_by_company(mocked):
    mocked.get(f"{BASE}/UserCourseDate", json={"results": []})
    mocked.get(f"{BASE}/UserAward", json={"results": []})
    list(make(companies="12,A'B").fetch_training_changed(dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)))
    assert asked(mocked.calls[0])["$filter"] == (
        "(CompanyID eq '12' or CompanyID eq 'A''B') and DateUpdated gt 2026-11-30T02:00:00Z"
    )
    assert asked(mocked.calls[1])["$filter"] == "DateUpdated gt 2026-11-30T02:00:00Z"


def test_a_provisional_booking_on_a_future_course_is_a_pending_request():
    connector = make()
    booking = RemoteTrainingRecord(remote_id="a~1", employee_remote_id="a", kind="booking",
                                   status="Provisional", start_date=dt.date(2027, 1, 12))
    assert connector.course_request_pending(booking)
    assert not connector.course_request_pending(
        RemoteTrainingRecord(remote_id="a~1", employee_remote_id="a", kind="booking",
                             status="Provisional", start_date=TODAY)
    )
    assert not connector.course_request_pending(
        RemoteTrainingRecord(remote_id="a~1", employee_remote_id="a", kind="booking", status="Provisional")
    )
    assert not connector.course_request_pending(
        RemoteTrainingRecord(remote_id="a~1", employee_remote_id="a", kind="booking",
                             status="Booked", start_date=dt.date(2027, 1, 12))
    )


@pytest.mark.parametrize(("approve", "status"), [(True, "Booked"), (False, "Cancelled")])
def test_a_course_request_is_decided_by_putting_the_delegates_status(mocked, approve, status):
    mocked.put(f"{BASE}/UserCourseDate/jasmit~881", json={"ID": "jasmit~881", "Status": status})
    assert make().course_request_decide("jasmit~881", approve=approve) == status
    assert sent(mocked.calls[0]) == {"Status": status}


def test_a_refused_decision_is_an_error_in_words(mocked):
    mocked.put(f"{BASE}/UserCourseDate/jasmit~881", status=400, json={"Message": "The course is full."})
    with pytest.raises(ConnectorError, match="did not approve the course request: .*The course is full"):
        make().course_request_decide("jasmit~881", approve=True)


# -- webhooks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body", "target"),
    [
        ("POST", {"module": "User", "id": "jasmit"}, WebhookTarget("employees", "jasmit")),
        ("PUT", {"module": "user", "id": "jasmit"}, WebhookTarget("employees", "jasmit")),
        ("DELETE", {"module": "User", "id": "jasmit"}, WebhookTarget("employees", "jasmit", deleted=True)),
        ("PATCH", {"module": "UserCourseDate", "id": "jasmit~881"}, WebhookTarget("training", "jasmit~881")),
        ("POST", {"module": "UserAward", "id": "bojone~31"}, WebhookTarget("training", "award:bojone~31")),
    ],
)
def test_a_webhook_names_the_record_to_read_again(method, body, target):
    assert make().webhook_targets(method=method, body=body) == [target]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"module": "Course", "id": "1"}, "names no module"),
        ({"id": "jasmit"}, "names no module"),
        ({"module": "User"}, "names no record"),
        ({"module": "User", "id": ""}, "names no record"),
        ({"module": "User", "id": 12}, "names no record"),
        (["User", "jasmit"], "not a JSON object"),
    ],
)
def test_a_webhook_that_names_no_record_hrsync_reads_is_refused(body, words):
    with pytest.raises(WebhookRefused, match=words):
        make().webhook_targets(method="POST", body=body)


def test_a_training_webhook_is_refused_while_training_is_off():
    with pytest.raises(WebhookRefused, match="Training records are off for this connection"):
        make(training=False).webhook_targets(method="POST", body={"module": "UserAward", "id": "bojone~31"})


def test_the_webhook_methods_are_those_accessplanit_calls_with():
    assert AccessPlanItConnector.webhook_methods == ("POST", "PUT", "PATCH", "DELETE")


def test_a_user_is_read_again_by_its_id_even_outside_the_connections_statuses(mocked):
    disabled = fixture("users_page.json")["results"][0] | {"Status": "Disabled"}
    mocked.get(USER, json={"results": [disabled]})
    record = make().webhook_reread(WebhookTarget("employees", "jasmit"))
    assert isinstance(record, RemoteEmployee)
    assert (record.remote_id, record.status) == ("jasmit", "Disabled")
    assert asked(mocked.calls[0])["$filter"] == "ID eq 'jasmit'"


def test_a_record_accessplanit_no_longer_has_is_read_again_as_none(mocked):
    mocked.get(USER, json={"results": []})
    mocked.get(f"{BASE}/UserCourseDate", json={"results": []})
    assert make().webhook_reread(WebhookTarget("employees", "gone", deleted=True)) is None
    assert make().webhook_reread(WebhookTarget("training", "gone~1")) is None


def test_a_delegate_and_an_award_are_read_again_by_their_keys(mocked):
    mocked.get(f"{BASE}/UserCourseDate", json={"results": fixture("delegates.json")["results"][:1]})
    mocked.get(f"{BASE}/UserAward", json=fixture("awards.json"))
    connector = make()
    booking = connector.webhook_reread(WebhookTarget("training", "jasmit~881"))
    award = connector.webhook_reread(WebhookTarget("training", "award:bojone~31"))
    assert (booking.remote_id, booking.kind) == ("jasmit~881", "booking")
    assert (award.remote_id, award.kind) == ("award:bojone~31", "award")
    assert asked(mocked.calls[0])["$filter"] == "ID eq 'jasmit~881'"
    assert asked(mocked.calls[1])["$filter"] == "UserID eq 'bojone' and AwardID eq 31"


# -- secrets -----------------------------------------------------------------------


def test_no_error_message_carries_the_password_or_the_token(mocked):
    password = "Tr0ub4dor&3-unmistakable-password"
    connector = AccessPlanItConnector(
        config={"base_url": BASE, "auth_mode": "password", "username": "hrsync-api"},
        secrets={"password": password},
    )
    mocked.post(f"{BASE}/Token", json=fixture("token.json"))
    token = fixture("token.json")["access_token"]
    mocked.get(USER, json={"results": []})
    mocked.post(USER, status=400, json={"Message": f"Bad request from {password} with {token}"})
    (result,) = list(connector.push([create()]))
    assert result.outcome == "rejected"
    assert "Bad request from" in result.message
    assert password not in result.message and token not in result.message


def test_a_refused_write_that_echoes_the_api_key_never_repeats_it(mocked):
    mocked.put(f"{USER}/jasmit", status=400, body=f"key {API_KEY} may not change Email")
    (result,) = list(make(push_users=True).push([update(email="jane@example.com")]))
    assert result.outcome == "rejected"
    assert "may not change Email" in result.message and API_KEY not in result.message
