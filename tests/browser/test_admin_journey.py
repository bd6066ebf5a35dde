"""An admin's first day, in a real browser (issue 3, "Done when").

Sign in → create an ActionHRM connection to a stand-in ActionHRM → green bar;
a wrong password → red bar with the reason; Sync Locations → map depots;
dry run → its report lists the creates; Sync Employees → the people are in the
directory; a roster that drops most people trips the safeguard → Approve →
applied; the report's CSV downloads. Screenshots of every page go to
$HRSYNC_SCREENSHOTS_DIR.

Locators are the accessible names of the UI contract (labels, roles, button
text), so the test reads like the instructions an admin would follow.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hrsync.people.models import Depot
from tests.browser.conftest import STAFF_USERNAME, shoot, sign_in
from tests.browser.fake_actionhrm import LOCATIONS, FakeActionHRM

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.services


# -- small helpers -------------------------------------------------------------------


@contextmanager
def new_page_loads(page: Page) -> Iterator[None]:
    """Wait, after the block, until a new page has loaded — a form post and
    its redirect, a link, a page a script opens after its fetch() — even when
    it has the same URL as the old one: a new document fires "load". (Not a
    wait_for_function: its polling evaluates a string, which the pages'
    Content-Security-Policy refuses once it has to poll more than once.)"""
    with page.expect_event("load"):
        yield


def click_and_wait(page: Page, target: Locator) -> None:
    with new_page_loads(page):
        target.click()


def tab(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Connection").get_by_role(
        "link", name=name, exact=True
    )


def open_tab(page: Page, name: str) -> None:
    click_and_wait(page, tab(page, name))
    expect(tab(page, name)).to_have_attribute("aria-current", "page")


def menu_item(page: Page, item: str) -> Locator:
    # A menu item's accessible name is its label followed by its one-line
    # help ("Sync LocationsRead locations only, …"), so match the start, and
    # keep "Sync Employees" from matching "Sync Employees (Dry Run)".
    name = re.compile(rf"^{re.escape(item)}(?!\s*\()")
    return page.get_by_role("menuitem", name=name)


def sync_from_menu(page: Page, item: str) -> None:
    """Overview → "More sync options" → ``item``; the (eager) run finishes in
    the request, so the page that loads after it shows the result."""
    open_tab(page, "Overview")
    page.get_by_role("button", name="More sync options").click()
    target = menu_item(page, item)
    expect(target).to_be_visible()
    click_and_wait(page, target)
    expect(page.get_by_role("status").filter(has_text="queued")).to_be_visible()


def sync_from_menu_by_keyboard(page: Page, item: str, arrow_downs: int) -> None:
    """The same with the keyboard only: Enter opens the menu on its first item,
    the arrow keys move, Enter starts the run."""
    open_tab(page, "Overview")
    page.get_by_role("button", name="More sync options").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem").first).to_be_focused()
    for _ in range(arrow_downs):
        page.keyboard.press("ArrowDown")
    target = menu_item(page, item)
    expect(target).to_be_focused()
    with new_page_loads(page):
        page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="queued")).to_be_visible()


def open_latest_run(page: Page) -> None:
    open_tab(page, "Runs")
    runs_table = page.get_by_role("table").first
    expect(runs_table).to_be_visible()
    click_and_wait(page, runs_table.get_by_role("link").first)
    expect(page).to_have_url(re.compile(r"/connections/\d+/runs/\d+/$"))


def field(page: Page, label: str) -> Locator:
    """The input labelled ``label`` — optional fields add " (optional)"."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \(optional\))?$"))


def new_connection(page: Page, *, name: str, fake: FakeActionHRM, password: str) -> None:
    page.goto("/connections/")
    click_and_wait(page, page.get_by_role("link", name="New connection").or_(
        page.get_by_role("button", name="New connection")
    ).first)
    integration = page.get_by_role("group", name="Integration")
    # The option's name is "ActionHRM" and what it reads ("Reads employees, …").
    integration.get_by_role("radio", name=re.compile(r"^ActionHRM")).check()
    click_and_wait(page, page.get_by_role("button", name="Continue"))

    field(page, "Name").fill(name)
    field(page, "Sub-domain").fill("acme")
    field(page, "API username").fill(fake.username)
    field(page, "API password").fill(password)
    # The Base URL wins over the sub-domain: point the connection at the fake.
    field(page, "Base URL").fill(fake.url)
    # Small pages, so a sync has to follow the paging (12 people → 3 pages).
    field(page, "Employees per page").fill("5")


def person_row(page: Page, first: str, last: str) -> Locator:
    return page.get_by_role("row").filter(
        has_text=re.compile(rf"{first} {last}|{last}, {first}")
    )


# -- the tests ----------------------------------------------------------------------------


def test_sign_in_page(page: Page, staff_user, started_at):
    # Anonymous visitors are sent to the login page.
    page.goto("/connections/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/connections/"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    path = shoot(page, "login")

    page.get_by_label("Username", exact=True).fill(STAFF_USERNAME)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    click_and_wait(page, page.get_by_role("button", name="Sign in"))
    expect(page.get_by_role("alert")).to_contain_text("didn't match")

    sign_in(page)
    assert path.stat().st_size > 0 and path.stat().st_mtime >= started_at


def test_admin_journey(
    signed_in_page: Page, fake_actionhrm: FakeActionHRM, started_at, transactional_db
):
    page = signed_in_page
    fake = fake_actionhrm
    # A depot that already exists, to be chosen from the picker; the others
    # are made on the Depots tab.
    Depot.objects.create(name="Sydney")
    shots: list[Path] = []

    # -- 1. A connection with the right credentials: green bar ------------------------
    new_connection(page, name="Acme ActionHRM", fake=fake, password=fake.password)
    shots.append(shoot(page, "new-connection"))
    click_and_wait(page, page.get_by_role("button", name="Save and test"))
    expect(page.locator(".health.ok")).to_contain_text("Connected to ActionHRM")
    expect(page.locator(".health.ok")).to_contain_text("127.0.0.1")
    overview_url = page.url
    assert re.search(r"/connections/\d+/$", overview_url), overview_url

    # -- 2. A wrong password: the form stays with the reason; Save anyway: red bar ------
    new_connection(page, name="Acme (wrong password)", fake=fake, password="not-it")
    page.get_by_role("button", name="Save and test").click()
    expect(page.get_by_role("region", name="The connection test failed, so nothing was saved yet")).to_contain_text(
        "rejected the username or password"
    )
    click_and_wait(page, page.get_by_role("button", name="Save anyway"))
    expect(page.locator(".health.bad")).to_contain_text("rejected the username or password")
    shots.append(shoot(page, "connection-rejected"))

    # The connections list shows both.
    page.goto("/connections/")
    expect(page.get_by_role("link", name="Acme ActionHRM", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Acme (wrong password)", exact=True)).to_be_visible()
    shots.append(shoot(page, "connections"))

    # -- 3. Sync Locations, then map them on the Depots tab ------------------------------
    page.goto(overview_url)
    expect(page.get_by_role("button", name="Sync All Data")).to_be_visible()
    page.get_by_role("button", name="More sync options").click()
    for item in ("Sync Locations", "Sync Employees (Dry Run)", "Sync Employees"):
        expect(menu_item(page, item)).to_be_visible()
    shots.append(shoot(page, "overview-sync-menu"))
    page.keyboard.press("Escape")

    sync_from_menu(page, "Sync Locations")
    open_tab(page, "Depots")
    for location in LOCATIONS:
        expect(page.get_by_label(f"Depot for {location['name']}", exact=True)).to_be_visible()
    page.get_by_label("Depot for Sydney Depot", exact=True).select_option(label="Sydney")
    page.get_by_label("New depot for Melbourne Depot", exact=True).fill("Melbourne")
    page.get_by_label("New depot for Brisbane Yard", exact=True).fill("Brisbane")
    click_and_wait(page, page.get_by_role("button", name="Save depots"))
    for remote, depot in (
        ("Sydney Depot", "Sydney"),
        ("Melbourne Depot", "Melbourne"),
        ("Brisbane Yard", "Brisbane"),
    ):
        picker = page.get_by_label(f"Depot for {remote}", exact=True)
        expect(picker.locator("option:checked")).to_have_text(depot)
    shots.append(shoot(page, "depots"))

    # -- 4. Dry run: its report lists the creates -----------------------------------------
    sync_from_menu_by_keyboard(page, "Sync Employees (Dry Run)", arrow_downs=1)
    open_latest_run(page)
    creates = page.get_by_role("row").filter(has_text=re.compile(r"\bcreate\b", re.IGNORECASE))
    expect(creates).to_have_count(len(fake.employees))
    expect(person_row(page, "Ava", "Thompson")).to_be_visible()
    expect(page.get_by_role("button", name="Apply this dry run")).to_be_visible()
    shots.append(shoot(page, "run-dry-run"))
    # All three pages of 5 were read.
    pages_read = {
        r.query.get("page", ["?"])[0] for r in fake.requests if r.path == "/api/v1/employees"
    }
    assert {"1", "2", "3"} <= pages_read, pages_read

    # -- 5. Sync Employees: the people are in the directory ---------------------------
    sync_from_menu(page, "Sync Employees")
    shots.append(shoot(page, "overview"))
    shots.append(shoot(page, "overview", width=390))
    page.goto("/people/")
    for first, last in (("Ava", "Thompson"), ("Henry", "Clarke"), ("Zoe", "Harris")):
        expect(person_row(page, first, last)).to_be_visible()
    shots.append(shoot(page, "people"))
    shots.append(shoot(page, "people", width=390))
    click_and_wait(page, person_row(page, "Ava", "Thompson").get_by_role("link").first)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ava Thompson")
    expect(page.get_by_text("Acme ActionHRM").first).to_be_visible()
    shots.append(shoot(page, "person"))

    page.goto(overview_url)
    open_tab(page, "Employees")
    expect(page.get_by_text("E1001", exact=True)).to_be_visible()
    shots.append(shoot(page, "employees"))
    open_tab(page, "Runs")
    expect(page.get_by_role("table").first.get_by_role("row")).to_have_count(1 + 3)
    shots.append(shoot(page, "runs"))
    open_tab(page, "Settings")
    expect(field(page, "API password")).to_have_value("")  # a secret is never echoed
    shots.append(shoot(page, "settings"))

    # -- 6. HR drops most people: the safeguard blocks; approve → applied ---------------
    kept, dropped = fake.employees[:2], fake.employees[2:]
    fake.employees = kept
    sync_from_menu(page, "Sync Employees")
    open_latest_run(page)
    expect(page.get_by_text(re.compile(r"Blocked", re.IGNORECASE)).first).to_be_visible()
    gone = dropped[0]
    expect(person_row(page, gone["first_name"], gone["last_name"]).first).to_be_visible()
    shots.append(shoot(page, "run-blocked"))
    blocked_run_url = page.url

    # The buttons read "Approve…" and "Reject…": each leads to a confirmation.
    expect(page.get_by_role("button", name=re.compile(r"^Reject"))).to_be_visible()
    click_and_wait(page, page.get_by_role("button", name=re.compile(r"^Approve")))
    confirm = page.get_by_role("button", name="Approve and apply")
    expect(confirm).to_be_visible()
    shots.append(shoot(page, "run-approve-confirm"))
    click_and_wait(page, confirm)
    page.goto(blocked_run_url)
    expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Approve"))).to_have_count(0)
    shots.append(shoot(page, "run"))

    # -- 7. The report's CSV downloads -------------------------------------------------
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").first.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) >= 1 + len(dropped), text[:500]
    header = [cell.strip().lower() for cell in rows[0]]
    assert {"action", "remote_id", "email"} <= set(header), header
    deactivated = {
        row[header.index("remote_id")]
        for row in rows[1:]
        if row[header.index("action")] == "deactivate"
    }
    assert deactivated == {e["id"] for e in dropped}, deactivated
    assert gone["email"] in text

    # The people HR dropped are inactive in the directory now; the others not.
    page.goto("/people/")
    page.get_by_label("Status", exact=True).select_option(label="Inactive")
    click_and_wait(page, page.get_by_role("button", name="Filter", exact=True))
    people_rows = page.get_by_role("table").get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(people_rows).to_have_count(len(dropped))
    expect(person_row(page, gone["first_name"], gone["last_name"])).to_be_visible()
    expect(person_row(page, kept[0]["first_name"], kept[0]["last_name"])).to_have_count(0)

    # -- 8. Every screenshot was written by this run ------------------------------------------
    for path in shots:
        assert path.is_file() and path.stat().st_size > 0, path
        assert path.stat().st_mtime >= started_at, f"{path} is stale"
