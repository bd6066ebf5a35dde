"""The Employees tab's conflicts and the Depots tab in a real browser: the
sample roster's people keyed in twice, each pair compared side by side
within the screen at desktop and phone widths (the layout and axe-core
checks of test_page_layout) and settled with one form; a location mapped to
a depot by its name says so. Screenshots of each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from connections.services import connection_create
from hrsync.people.models import Depot
from mappings.models import DepotMapping, EmployeeMapping
from tests.browser.test_page_layout import Axe, Shown, check_at_each_width
from tests.connections.helpers import run_sync

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.services


@pytest.fixture
def synced_sample(transactional_db):
    # A depot that is there before the first sync: its location is mapped to it by name.
    Depot.objects.create(name="Birmingham Depot")
    connection = connection_create(kind="sample", name="Sample HR data", config={"size": 120})
    run_sync(connection, scope="all")
    assert EmployeeMapping.objects.filter(connection=connection, state=EmployeeMapping.State.CONFLICT).exists()
    assert DepotMapping.objects.filter(connection=connection, matched_by_name=True).count() == 1
    return connection


def test_the_conflicts_of_the_sample_roster_are_compared_side_by_side_and_settled_in_one_go(
    signed_in_page: Page, synced_sample, live_server
):
    assert Axe is not None, "axe-playwright-python (the test extras) is needed"
    axe_script = Axe().axe_script
    page = signed_in_page
    url = f"{live_server.url}/connections/{synced_sample.pk}/employees/?filter=conflicts"
    page.goto(url)

    groups = page.locator(".conflict-group")
    expect(groups.first).to_be_visible()
    count = groups.count()
    first = groups.first
    # A column per record (and one for the person, if any); a row per field, by its label.
    assert first.locator(".compare-table thead th").count() >= 3
    expect(first.locator(".compare-table tbody th", has_text="Job title")).to_be_visible()
    expect(first.locator(".compare-table td.is-different").first).to_be_visible()
    expect(page.get_by_text("Conflicts are records the sync left alone")).to_be_visible()
    assert check_at_each_width(page, Shown("employees-conflicts", url), axe_script) == []

    title = first.locator("h3").inner_text()
    first.get_by_role("button", name="Resolve").click()

    expect(page.locator(".messages")).to_contain_text("Ignored")
    expect(page.locator(".conflict-group h3", has_text=title)).to_have_count(0)
    assert page.locator(".conflict-group").count() == count - 1

    depots = f"{live_server.url}/connections/{synced_sample.pk}/depots/"
    page.goto(depots)
    expect(page.get_by_text("Mapped automatically: a depot has the same name")).to_have_count(1)
    assert check_at_each_width(page, Shown("depots-mapped-by-name", depots), axe_script) == []
