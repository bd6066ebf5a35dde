"""Every page a staff member can open, and the Django admin's, in a real
browser under the Content-Security-Policy.

The ``page`` fixture fails a test on any policy violation, so loading each
page is the check: an inline script, an ``on…=`` handler or a ``style=``
attribute anywhere in a template fails here. The manager picker is then
used for real, since its script is the one that moved out of a template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import sign_in
from tests.urlwalk import EXPECTED, admin_urls, build_world, urls_for, walk

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.services

PASSWORD = "every-Page-Passw0rd"


@pytest.fixture
def world(transactional_db):
    world = build_world()
    world.superuser.set_password(PASSWORD)
    world.superuser.save(update_fields=["password"])
    return world


def html_pages(world) -> list[str]:
    """The URL walk's pages that a staff member reads as HTML."""
    return [
        url
        for route in walk()
        if EXPECTED[route.key].staff_reads_it and EXPECTED[route.key].staff.content_type == "text/html"
        for url in urls_for(route, world)
    ]


def test_every_page_and_the_admin_load_without_breaking_the_content_security_policy(page: Page, world):
    sign_in(page, world.superuser.username, PASSWORD)

    for url in [*html_pages(world), *admin_urls(world)]:
        response = page.goto(url)
        assert response is not None and response.ok, f"GET {url}"
        page.wait_for_load_state("load")


def test_the_manager_picker_finds_and_fills_in_a_manager_under_the_policy(page: Page, world):
    sign_in(page, world.superuser.username, PASSWORD)
    page.goto(f"/people/{world.manual.pk}/")

    page.get_by_label("Find a manager by name or email").fill("Grace")
    page.get_by_role("button", name="Grace Hopper · grace@example.com (active)").click()

    expect(page.get_by_label("Manager (person id)")).to_have_value(str(world.manager.pk))
