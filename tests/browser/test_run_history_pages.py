"""The Overview and the Runs tab of a connection with a history, at 1280 and
390 px: the page is never wider than the screen, no header of the Runs
list is clipped, and the run history chart draws one bar per run. The
screenshots are ``runs-overview*.png`` and ``runs-list*.png``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone

from connections.models import SyncRun
from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.factories import ConnectionFactory, SyncRunFactory

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.services
Status = SyncRun.Status

#: Every header cell whose text runs out of its box, and whether the page scrolls sideways.
CLIPPED_SCRIPT = """
() => ({
  pageWiderThanScreen: document.documentElement.scrollWidth > window.innerWidth,
  clipped: Array.from(document.querySelectorAll("th")).filter((th) => {
    if (!th.checkVisibility()) return false;
    const range = document.createRange();
    range.selectNodeContents(th);
    const text = range.getBoundingClientRect(), box = th.getBoundingClientRect();
    return th.scrollWidth > th.clientWidth + 1 || text.right > box.right + 1;
  }).map((th) => th.innerText.trim()),
})
"""


@pytest.fixture
def connection(staff_user):
    connection = ConnectionFactory(kind="sample", name="Sample HR data")
    now = timezone.now()
    statuses = [Status.SUCCEEDED, Status.COMPLETED_WITH_CONFLICTS, Status.COMPLETED_WITH_ERRORS]
    for n in range(32):
        finished = now - dt.timedelta(hours=64 - 2 * n)
        SyncRunFactory(
            connection=connection, status=statuses[n % 3], scope="employees", dry_run=n % 4 == 0,
            trigger=SyncRun.Trigger.SCHEDULE if n % 2 else SyncRun.Trigger.MANUAL,
            requested_by=None if n % 2 else staff_user,
            started_at=finished - dt.timedelta(seconds=40), finished_at=finished,
            counts={"created": 300 if n == 0 else n % 5, "updated": n % 7, "deactivated": n % 2,
                    "conflicts": n % 3, "errors": n % 4, "skipped": 1},
        )
    SyncRunFactory(
        connection=connection, status=Status.BLOCKED, scope="all", started_at=now - dt.timedelta(minutes=3),
        finished_at=now - dt.timedelta(minutes=2), counts={"deactivated": 120, "updated": 3},
        error="This sync would deactivate 120 of 300 people (40 %), more than the safeguard allows.",
    )
    SyncRunFactory(connection=connection, status=Status.FAILED, started_at=now, finished_at=now,
                   error="Sample HR data could not be read.")
    return connection


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_runs_list_fits_the_screen_with_no_header_clipped(signed_in_page: Page, connection, viewport):
    page = signed_in_page
    page.set_viewport_size(viewport)
    page.goto(f"/connections/{connection.pk}/runs/")

    found = page.evaluate(CLIPPED_SCRIPT)

    shoot(page, "runs-list" if viewport is DESKTOP else "runs-list-390")
    assert found == {"pageWiderThanScreen": False, "clipped": []}
    assert page.get_by_role("link", name=f"Dry run #{connection.runs.filter(dry_run=True).first().pk}").count() == 1


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_overview_draws_the_last_thirty_runs_and_fits_the_screen(signed_in_page: Page, connection, viewport):
    page = signed_in_page
    page.set_viewport_size(viewport)
    page.goto(f"/connections/{connection.pk}/")

    chart = page.locator("svg.run-chart")
    box = chart.bounding_box()

    shoot(page, "runs-overview" if viewport is DESKTOP else "runs-overview-390")
    assert page.evaluate(CLIPPED_SCRIPT)["pageWiderThanScreen"] is False
    assert chart.locator("a.chart-bar").count() == 30
    assert chart.locator(".chart-blocked").count() == 1
    assert box is not None and box["width"] <= viewport["width"] and box["height"] > 40
    # A bar is a link to its run.
    blocked = connection.runs.get(status=Status.BLOCKED)
    chart.locator("a.chart-bar").nth(28).click()
    page.wait_for_url(f"**/connections/{connection.pk}/runs/{blocked.pk}/")
