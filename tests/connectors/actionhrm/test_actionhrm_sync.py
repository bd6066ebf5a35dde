"""ActionHRM end to end: vendor payloads through the real planner and applier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses
from responses import matchers

from connections import services
from connections.runs import sync_run_apply_dry_run
from connections.sync import runner
from hrsync.people.models import Person
from mappings.models import DepotMapping
from mappings.services import depot_map
from tests.connections.helpers import run_sync, table_snapshot

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "actionhrm"
BASE = "https://acme.actionhrm.com"


def payload(name: str):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def connection():
    return services.connection_create(
        kind="actionhrm",
        name="Acme",
        config={"subdomain": "acme", "username": "api", "per_page": "2"}, secrets={"password": "pw"},
    )


def mock_pages(*names: str) -> None:
    responses.get(f"{BASE}/api/v1/locations", json=payload("locations.json"))
    for page, name in enumerate(names, start=1):
        responses.get(
            f"{BASE}/api/v1/employees",
            json=payload(name),
            match=[matchers.query_param_matcher({"page": str(page), "per_page": "2"})],
        )


@responses.activate
def test_a_paged_roster_syncs_into_the_directory_with_statuses_and_depots(connection):
    mock_pages("employees_page1.json", "employees_page2.json", "employees_page3.json")
    locations = run_sync(connection, scope="locations")
    assert locations.counts["locations"]["create"] == 3
    for mapping in DepotMapping.objects.filter(connection=connection):
        depot_map(connection=connection, remote_location_id=mapping.remote_location_id, depot_name=mapping.remote_name)

    run = run_sync(connection, scope="employees")

    assert run.status == "succeeded", run.error
    people = {p.email: p for p in Person.objects.select_related("depot")}
    # 1004 is Terminated and was never here: skipped, not created.
    assert set(people) == {
        "olivia.nguyen@example.com",
        "jack.obrien@example.com",
        "mia.patel@example.com",
        "ava.wilson@example.com",
    }
    assert people["jack.obrien@example.com"].first_name == "Jack"
    assert people["jack.obrien@example.com"].status == "on_leave"
    assert people["olivia.nguyen@example.com"].depot.name == "Sydney Depot"
    assert run.counts["created"] == 4 and run.counts["skipped"] == 1 and run.counts["unchanged"] == 0


@responses.activate
def test_a_record_missing_its_id_is_a_row_error_while_the_rest_sync():
    connection = services.connection_create(
        kind="actionhrm", name="Acme", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )
    responses.get(f"{BASE}/api/v1/locations", json=payload("locations.json"))
    responses.get(f"{BASE}/api/v1/employees", json=payload("employees_with_problems.json"))

    run = run_sync(connection, scope="employees")

    assert run.status == "completed_with_errors"
    errors = {c["remote_id"]: c["message"] for c in run.changes if c["action"] == "error"}
    assert "no id" in errors[""]
    assert "31/02/1990" in errors["2003"]
    assert run.counts["created"] == 1 and run.counts["errors"] == 2
    assert list(Person.objects.values_list("email", flat=True)) == ["noah.brown@example.com"]


@responses.activate
def test_an_outage_mid_roster_fails_the_run_and_changes_nothing(connection):
    mock_pages("employees_page1.json", "employees_page2.json", "employees_page3.json")
    run_first = run_sync(connection, scope="employees")
    assert run_first.status == "succeeded"
    before = table_snapshot(exclude=("connections.SyncRun",))

    responses.reset()
    responses.get(f"{BASE}/api/v1/employees", json=payload("employees_page1.json"),
                  match=[matchers.query_param_matcher({"page": "1", "per_page": "2"})])
    responses.get(f"{BASE}/api/v1/employees", status=503, body="<html>Service Unavailable</html>",
                  match=[matchers.query_param_matcher({"page": "2", "per_page": "2"})])
    run = run_sync(connection, scope="employees")

    assert run.status == "failed"
    assert "503" in run.error and "Nothing was changed" in run.error
    assert table_snapshot(exclude=("connections.SyncRun",)) == before


def _pages_with(changes: dict[str, dict]) -> list[dict]:
    """The three recorded pages, with ``changes[id]`` merged into that employee."""
    pages = []
    for name in ("employees_page1.json", "employees_page2.json", "employees_page3.json"):
        page = payload(name)
        page["employees"] = [{**e, **changes.get(e["id"], {})} for e in page["employees"]]
        pages.append(page)
    return pages


def mock_payloads(pages: list[dict]) -> None:
    responses.get(f"{BASE}/api/v1/locations", json=payload("locations.json"))
    for number, page in enumerate(pages, start=1):
        responses.get(f"{BASE}/api/v1/employees", json=page,
                      match=[matchers.query_param_matcher({"page": str(number), "per_page": "2"})])


@responses.activate
def test_a_nul_in_a_first_name_is_an_error_row_in_the_dry_run_and_when_it_is_applied(connection):
    mock_pages("employees_page1.json", "employees_page2.json", "employees_page3.json")
    assert run_sync(connection, scope="employees").counts["created"] == 4
    responses.reset()
    mock_payloads(_pages_with({
        "1001": {"first_name": "Nul\u0000Name", "mobile_phone": "+61 400 000 001"},
        "1002": {"mobile_phone": "+61 400 000 002"},
        "1003": {"mobile_phone": "+61 400 000 003"},
    }))

    dry = run_sync(connection, scope="employees", dry_run=True)

    assert dry.status == "completed_with_errors", dry.error
    errors = [c for c in dry.changes if c["action"] == "error"]
    assert [(c["remote_id"], c["message"]) for c in errors] == [
        ("1001", "The first name contains a control character (U+0000); correct it in Acme, then sync again.")
    ]
    assert dry.counts["updated"] == 2

    applied = runner.sync_run_execute(run_id=sync_run_apply_dry_run(dry_run=dry, enqueue=False).pk)

    assert applied.status == "completed_with_errors", applied.error
    assert applied.counts == dry.counts
    phones = dict(Person.objects.values_list("email", "mobile_phone"))
    assert phones["jack.obrien@example.com"] == "+61 400 000 002"
    assert phones["mia.patel@example.com"] == "+61 400 000 003"
    olivia = Person.objects.get(email="olivia.nguyen@example.com")
    assert (olivia.first_name, olivia.mobile_phone) == ("Olivia", "+61 412 345 678")


@responses.activate
def test_a_server_error_storm_fails_the_run_saying_nothing_was_changed_once(connection):
    responses.get(f"{BASE}/api/v1/employees", status=503)

    run = run_sync(connection, scope="employees")

    assert run.status == "failed"
    assert run.error == (
        "ActionHRM had a server error (HTTP 503) on every try. hrsync will try again at the next sync. "
        "Nothing was changed."
    )
