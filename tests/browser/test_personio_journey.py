"""A Personio connection in a real browser: created, its include list, a dry run and its Absences tab.

Sign in → New connection → Personio, new people waiting → Save and test →
green bar; Sync Employees (Dry Run) → every record skipped, "waiting to be
included", nobody created; Sync Employees → the Employees tab lists everyone
found, none included; search, tick one, tick "All … on this page", Include
selected → a dry run creates just those, Sync Employees → they are in the
directory and nobody else is. Then absences from Personio on the Settings tab
→ Sync Absences → the Absences tab and the person page list them. A wrong
client secret → the form stays with the reason → Save anyway → red bar.

Screenshots: personio-new, personio-dry-run-waiting, personio-employees,
personio-included, personio-dry-run-included, personio-people,
personio-settings-absences, personio-run-absences, personio-absences (and -390),
personio-person-absences, personio-rejected.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connections.models import Connection, SyncRun
from hrsync.people.models import Absence, Person
from mappings.models import EmployeeMapping
from tests.browser.conftest import shoot
from tests.browser.test_admin_journey import (
    click_and_wait,
    field,
    open_latest_run,
    open_tab,
    person_row,
    tab,
    sync_from_menu,
)
from tests.connectors.personio.fake_personio import TIME_OFF_TYPES, FakePersonio, fake_personio_time_offs

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.services

NAME = "Acme Personio"


def new_personio_connection(page: Page, *, name: str, fake: FakePersonio, secret: str) -> None:
    """New connection → the Personio card → its settings filled in, not yet saved."""
    page.goto("/connections/")
    click_and_wait(page, page.get_by_role("link", name="New connection").or_(
        page.get_by_role("button", name="New connection")
    ).first)
    page.get_by_role("group", name="Integration").get_by_role("radio", name=re.compile(r"^Personio")).check()
    click_and_wait(page, page.get_by_role("button", name="Continue"))
    field(page, "Name").fill(name)
    field(page, "Client ID").fill(fake.client_id)
    field(page, "Client secret").fill(secret)
    # The stand-in speaks http on 127.0.0.1, which the harness allows for loopback hosts.
    field(page, "API address").fill(fake.url)
    field(page, "Employee number attribute").fill("dynamic_21")
    # New people wait on the Employees tab until the admin includes them.
    page.get_by_role("checkbox", name="Sync people found for the first time", exact=True).uncheck()


def full_name(employee: dict) -> str:
    return f"{employee['first_name']} {employee['last_name']}"


def record_rows(page: Page) -> Locator:
    """The Employees tab's rows of records (not its header row)."""
    return page.get_by_role("table").get_by_role("row").filter(has=page.get_by_role("cell"))


def search_records(page: Page, text: str) -> None:
    search = page.get_by_role("search", name="Search employee records")
    search.get_by_label("Search", exact=True).fill(text)
    click_and_wait(page, search.get_by_role("button", name="Search"))


def include_selected(page: Page) -> Locator:
    click_and_wait(page, page.get_by_role("button", name="Include selected in syncs"))
    return page.get_by_role("status").or_(page.get_by_role("alert")).filter(has_text="Included")


def people_in_directory() -> set[str]:
    return set(Person.objects.values_list("email", flat=True))


def test_personio_connection_include_list_dry_run_and_absences(
    signed_in_page: Page, fake_personio: FakePersonio, started_at, transactional_db
):
    page = signed_in_page
    fake = fake_personio
    shots: list[Path] = []
    by_id = {employee["id"]: employee for employee in fake.employees}

    # -- 1. Save and test: green bar; the secret is never shown again ---------------------
    new_personio_connection(page, name=NAME, fake=fake, secret=fake.client_secret)
    shots.append(shoot(page, "personio-new"))
    click_and_wait(page, page.get_by_role("button", name="Save and test"))
    expect(page.locator(".health.ok")).to_contain_text("Connected to Personio")
    expect(page.locator(".health.ok")).to_contain_text("127.0.0.1")
    overview_url = page.url
    assert re.search(r"/connections/\d+/$", overview_url), overview_url
    connection = Connection.objects.get(name=NAME)
    assert connection.kind == "personio"
    assert connection.config["include_new"] is False
    assert connection.config["employee_number_attribute"] == "dynamic_21"
    assert fake.client_secret not in page.content()
    # Credentials went in the body of POST /v1/auth, never in a URL.
    assert fake.requests_to("/v1/auth", "POST")
    assert not [r for r in fake.requests if "client_secret" in r.query or "client_id" in r.query]

    # -- 2. A dry run: everyone skipped, waiting to be included; nothing written -----------
    sync_from_menu(page, "Sync Employees (Dry Run)")
    open_latest_run(page)
    waiting = page.get_by_role("row").filter(has_text="waiting to be included")
    expect(waiting).to_have_count(len(fake.employees))
    expect(page.get_by_role("row").filter(has_text=re.compile(r"\bcreate\b", re.IGNORECASE))).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="Skipped")).to_have_count(len(fake.employees))
    shots.append(shoot(page, "personio-dry-run-waiting"))
    assert Person.objects.count() == 0
    assert not EmployeeMapping.objects.filter(connection=connection).exists()

    # -- 3. A real sync records everyone found as excluded; the tab lists them all ---------
    sync_from_menu(page, "Sync Employees")
    assert Person.objects.count() == 0
    assert EmployeeMapping.objects.filter(connection=connection, state="excluded").count() == len(fake.employees)
    open_tab(page, "Employees")
    expect(record_rows(page)).to_have_count(len(fake.employees))
    for employee in fake.employees:
        row = record_rows(page).filter(has_text=employee["email"])
        expect(row.get_by_label(f"Select {full_name(employee)}", exact=True)).to_be_visible()
        expect(row.locator(".badge").first).to_have_text("No")
    shots.append(shoot(page, "personio-employees"))

    # Search for one person, tick their row, include them.
    first = by_id[1]
    search_records(page, full_name(first))
    expect(record_rows(page)).to_have_count(1)
    page.get_by_label(f"Select {full_name(first)}", exact=True).check()
    expect(include_selected(page)).to_contain_text("Included 1 record")

    # Search for a surname three people share; "All 3 records on this page" ticks every row.
    meyers = [e for e in fake.employees if e["last_name"] == "Meyer"]
    assert len(meyers) == 3, meyers
    search_records(page, "Meyer")
    expect(record_rows(page)).to_have_count(len(meyers))
    page.get_by_label(f"All {len(meyers)} records on this page", exact=True).check()
    for employee in meyers:
        expect(page.get_by_label(f"Select {full_name(employee)}", exact=True)).to_be_checked()
    expect(include_selected(page)).to_contain_text(f"Included {len(meyers)} records")
    for employee in meyers:
        row = record_rows(page).filter(has_text=employee["email"])
        expect(row.locator(".badge").first).to_have_text("Yes")
    shots.append(shoot(page, "personio-included"))

    included = [first, *meyers]
    left_out = [e for e in fake.employees if e not in included]
    still_in = EmployeeMapping.objects.filter(connection=connection).exclude(state="excluded")
    assert set(still_in.values_list("remote_id", flat=True)) == {str(e["id"]) for e in included}

    # -- 4. A dry run now creates just those people ----------------------------------------
    sync_from_menu(page, "Sync Employees (Dry Run)")
    open_latest_run(page)
    creates = page.get_by_role("row").filter(has_text=re.compile(r"\bcreate\b", re.IGNORECASE))
    expect(creates).to_have_count(len(included))
    for employee in included:
        expect(creates.filter(has_text=full_name(employee)).first).to_be_visible()
    shots.append(shoot(page, "personio-dry-run-included"))
    assert Person.objects.count() == 0

    # -- 5. Sync Employees: those people are in the directory, nobody else -----------------
    sync_from_menu(page, "Sync Employees")
    assert people_in_directory() == {e["email"] for e in included}
    page.goto("/people/")
    for employee in included:
        expect(person_row(page, employee["first_name"], employee["last_name"]).first).to_be_visible()
    for employee in left_out:
        expect(page.get_by_text(employee["email"], exact=True)).to_have_count(0)
    shots.append(shoot(page, "personio-people"))

    # -- 6. Absences from Personio: the Absences tab and the person page list them ---------
    today = dt.date.today()
    fake.time_offs = fake_personio_time_offs(included, count=6, start=today)
    page.goto(overview_url)
    open_tab(page, "Settings")
    expect(field(page, "Client secret")).to_have_value("")  # a secret is never echoed
    field(page, "Absences").select_option("from_personio")
    shots.append(shoot(page, "personio-settings-absences"))
    # The form posts in the background and swaps in the answer (no page load).
    page.get_by_role("button", name="Save and test").click()
    expect(page.get_by_text("Settings saved. The connection test passed.")).to_be_visible()
    # The new Absences tab shows straight away, without a reload.
    expect(tab(page, "Absences")).to_be_visible()
    connection.refresh_from_db()
    assert connection.config["absences"] == "from_personio"
    assert fake.client_secret not in page.content()

    sync_from_menu(page, "Sync Absences")
    run = SyncRun.objects.filter(connection=connection).latest("pk")
    assert run.scope == SyncRun.Scope.ABSENCES and run.status == SyncRun.Status.SUCCEEDED, (run.status, run.error)
    pulled = Absence.objects.filter(connection=connection)
    assert pulled.count() == len(fake.time_offs)
    assert set(pulled.values_list("person__email", flat=True)) <= {e["email"] for e in included}
    # The run page lists each absence it copied as new.
    open_latest_run(page)
    run_absences = page.get_by_role("region", name="Absences", exact=True)
    expect(run_absences.get_by_role("row").filter(has_text="New")).to_have_count(len(fake.time_offs))
    shots.append(shoot(page, "personio-run-absences"))
    open_tab(page, "Absences")
    types = {t["id"]: t["name"] for t in TIME_OFF_TYPES}
    absence_rows = page.get_by_role("table").get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(absence_rows).to_have_count(len(fake.time_offs))
    for time_off in fake.time_offs:
        employee = by_id[time_off["employee_id"]]
        expect(absence_rows.filter(has_text=full_name(employee)).filter(
            has_text=types[time_off["time_off_type_id"]]
        ).first).to_be_visible()
    shots.append(shoot(page, "personio-absences"))
    shots.append(shoot(page, "personio-absences", width=390))

    time_off = fake.time_offs[0]
    employee = by_id[time_off["employee_id"]]
    person = Person.objects.get(email=employee["email"])
    page.goto(f"/people/{person.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(full_name(employee))
    section = page.get_by_role("region", name="Absences", exact=True)
    expect(section.get_by_text(types[time_off["time_off_type_id"]]).first).to_be_visible()
    expect(section.get_by_text(f"From {NAME}").first).to_be_visible()
    shots.append(shoot(page, "personio-person-absences"))

    # -- 7. A wrong client secret: the form stays with the reason; Save anyway: red bar -----
    new_personio_connection(page, name="Acme Personio (wrong secret)", fake=fake, secret="not-the-secret")
    page.get_by_role("button", name="Save and test").click()
    expect(page.get_by_role("region", name="The connection test failed, so nothing was saved yet")).to_contain_text(
        "rejected the client ID or client secret"
    )
    assert not Connection.objects.filter(name="Acme Personio (wrong secret)").exists()
    click_and_wait(page, page.get_by_role("button", name="Save anyway"))
    expect(page.locator(".health.bad")).to_contain_text("rejected the client ID or client secret")
    assert "not-the-secret" not in page.content()
    shots.append(shoot(page, "personio-rejected"))

    # -- 8. Every screenshot was written by this run ------------------------------------------
    for path in shots:
        assert path.is_file() and path.stat().st_size > 0, path
        assert path.stat().st_mtime >= started_at, f"{path} is stale"
