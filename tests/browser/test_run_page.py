"""A long blocked run's page in a real browser: the decision on the first
screen, the change list within the page at 1280 px (no cut-off Message
column, no sideways scroll) and as cards at 390 px; search and filter
together. Screenshots of each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from connections.models import SyncRun
from connections.sync.changes import Action, Change, SyncPlan
from hrsync.people.models import Depot, Person
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import ConnectionFactory, sync_run_report_store

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.services

LONG_MESSAGE = (
    "Location 'North-East Regional Distribution Centre (Building 4, Loading Bay 12)' is not mapped to a "
    "depot; the depot was left unchanged until someone maps it on the Depots tab."
)


@pytest.fixture
def blocked_run(transactional_db) -> SyncRun:
    connection = ConnectionFactory(name="Acme HR", kind="sample")
    Depot.objects.create(name="North-East Regional Distribution Centre")
    people = Person.objects.bulk_create(
        Person(first_name=f"Leaver{n}", last_name="Smith", email=f"leaver{n}@example.com") for n in range(80)
    )
    changes = [
        Change(action=Action.CREATE, remote_id=f"N{n}", name=f"Nadia Newcomer-{n}",
               email=f"nadia.newcomer.{n}@a-very-long-subsidiary-name.example.com",
               values={"first_name": "Nadia", "last_name": f"Newcomer-{n}", "job_title": "Senior Warehouse Operative",
                       "hire_date": "2024-03-01", "status": "active"},
               fields={"depot": [None, "North-East Regional Distribution Centre"]},
               warnings=[LONG_MESSAGE] if n % 3 == 0 else [])
        for n in range(40)
    ]
    changes += [
        Change(action=Action.DEACTIVATE, remote_id=f"L{n}", person_id=person.pk, name=f"Leaver{n} Smith",
               email=person.email, fields={"status": ["active", "inactive"]},
               message="No longer in the HR system's export: deactivated.")
        for n, person in enumerate(people)
    ]
    run = SyncRun.objects.create(connection=connection, status=SyncRun.Status.BLOCKED,
                                 error="This sync would deactivate 80 of 100 people (80 %).",
                                 counts={"created": 40, "deactivated": 80, "warnings": 14})
    plan = SyncPlan(changes=changes, streams={"employees": {"records": 40, "full_snapshot": True}})
    sync_run_report_store(run=run, report=plan.to_report())
    return run


def _fits(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_long_blocked_run_reads_well_at_desktop_and_phone_widths(signed_in_page: Page, blocked_run, shoot):
    page = signed_in_page
    page.goto(f"/connections/{blocked_run.connection_id}/runs/{blocked_run.pk}/")

    # The decision is on the first screen, above the counts and the list.
    approve = page.get_by_role("button", name="Approve…")
    expect(approve).to_be_visible()
    assert approve.bounding_box()["y"] + approve.bounding_box()["height"] <= DESKTOP["height"]
    assert _fits(page)
    table = page.locator(".changes-table")
    wrap = page.locator("#changes .table-wrap")
    assert table.evaluate("t => t.scrollWidth") <= wrap.evaluate("w => w.clientWidth") + 1
    for cell in page.locator(".changes-table td, .changes-table th").all():
        assert cell.evaluate("c => c.scrollWidth <= c.clientWidth + 1"), cell.inner_text()[:80]
    expect(page.locator(".changes-table tbody tr")).to_have_count(50)
    shoot(page, "run-blocked-long")

    page.set_viewport_size(PHONE)
    assert _fits(page)
    shoot(page, "run-blocked-long", width=PHONE["width"])
    page.set_viewport_size(DESKTOP)

    # Search and filter together; the filter is kept by the search box.
    page.get_by_role("link", name="Deactivate").click()
    page.get_by_label("Search by name, email or record id").fill("leaver7")
    page.get_by_role("button", name="Search").click()
    rows = page.locator(".changes-table tbody tr")
    expect(rows).to_have_count(11)  # Leaver7 and Leaver70–79
    expect(page.locator('.chips a[aria-current="true"]')).to_contain_text("Deactivate")
    shoot(page, "run-search")
