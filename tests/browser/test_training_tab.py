"""The Training tab in a real browser: a course request approved with one
click, and a rejection confirmed on its own page (no CSP violation on the
way). Screenshots of the tab."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pytest

from hrsync.people.models import TrainingRecord
from tests.connections.training_source import training_source  # noqa: F401 - a fixture
from tests.factories import ConnectionFactory, PersonFactory, TrainingRecordFactory

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.services


@pytest.fixture
def requests_(transactional_db, training_source):
    academy = ConnectionFactory(name="Academy")
    jane = PersonFactory(first_name="Jane", last_name="Smith", email="jane@example.com")
    tom = PersonFactory(first_name="Tom", last_name="Jones", email="tom@example.com")
    day = dt.date(2027, 1, 12)
    first_aid = TrainingRecordFactory(
        connection=academy, person=jane, remote_id="D7", label="First Aid", status="Provisional",
        is_request=True, start_date=day, end_date=day,
    )
    fire = TrainingRecordFactory(
        connection=academy, person=tom, remote_id="D8", label="Fire Safety", status="Provisional",
        is_request=True, start_date=day, end_date=day,
    )
    return academy, first_aid, fire


def test_a_request_is_approved_and_another_rejected_after_confirming(
    signed_in_page: Page, requests_, training_source, shoot
):
    academy, first_aid, fire = requests_
    page = signed_in_page
    page.goto(f"/connections/{academy.pk}/training/")
    shoot(page, "training-tab")

    page.locator(f"#request-{first_aid.pk}").get_by_role("button", name="Approve").click()

    expect(page.get_by_text("Approved: Jane Smith on First Aid, 12 Jan 2027. Static now shows Booked.")).to_be_visible()
    page.locator(f"#request-{fire.pk}").get_by_role("link", name=re.compile("Reject")).click()
    expect(page.get_by_role("heading", name="Reject this course request?")).to_be_visible()
    page.get_by_role("button", name="Reject request").click()

    expect(page.get_by_text("Rejected: Tom Jones on Fire Safety, 12 Jan 2027.")).to_be_visible()
    assert training_source.decided == [("D7", True), ("D8", False)]
    assert {r.remote_id: r.decision for r in TrainingRecord.objects.all()} == {"D7": "approved", "D8": "rejected"}
    expect(page.get_by_text("No course request is waiting for a decision.")).to_be_visible()
