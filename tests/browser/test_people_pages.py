"""The People pages in a real browser: the list's name and job title on
lines of their own, Add person end to end, and the person page's history
within the screen at desktop and phone widths. Screenshots of each."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from connections.models import SyncRun
from connections.services import connection_create
from connections.sync.changes import Action, Change, SyncPlan
from hrsync.people.models import Depot, Person
from mappings.models import EmployeeMapping
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import sync_run_report_store

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.services

LONG_EMAIL = "adelaide.augusta.lovelace-byron.of.the.analytical.engine@very-long-department-name.example.com"
WIDTHS = (DESKTOP["width"], PHONE["width"])


def at_width(page: Page, width: int) -> None:
    page.set_viewport_size({**(DESKTOP if width == DESKTOP["width"] else PHONE), "width": width})


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def directory(transactional_db) -> dict:
    acme = connection_create(
        kind="actionhrm", name="Acme HR", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )
    north = Depot.objects.create(name="North")
    boss = Person.objects.create(first_name="Grace", last_name="Hopper", email="grace@example.com")
    adam = Person.objects.create(
        first_name="Adam", last_name="Adams", email="adam@example.com", job_title="Warehouse Operative",
        depot=north, managed_by=acme,
    )
    ada = Person.objects.create(
        first_name="Ada", last_name="Lovelace", email=LONG_EMAIL, job_title="Analyst", depot=north,
        manager=boss, managed_by=acme, custom_fields={"shirt_size": "M"},
    )
    EmployeeMapping.objects.create(connection=acme, remote_id="R1", person=ada, remote_name="Ada Lovelace")
    run = SyncRun.objects.create(connection=acme, status=SyncRun.Status.SUCCEEDED)
    plan = SyncPlan(
        changes=[
            Change(
                action=Action.UPDATE, remote_id="R1", person_id=ada.pk, name="Ada Lovelace",
                fields={
                    "email": ["ada@example.com", LONG_EMAIL],
                    "first_name": ["Adelaide", "Ada"],
                    "depot": [None, "North"],
                    "custom.shirt_size": ["S", "M"],
                },
                warnings=["Location South site (L2) is not mapped to a depot; the depot was left unchanged."],
            )
        ],
        employees_planned=True,
    )
    sync_run_report_store(run=run, report=plan.to_report())
    return {"acme": acme, "north": north, "adam": adam, "ada": ada}


def test_the_people_list_shows_the_job_title_on_its_own_line_under_the_name(
    signed_in_page: Page, directory, shoot
):
    page = signed_in_page
    page.goto("/people/")
    row = page.get_by_role("row", name="Adam Adams")
    name = row.get_by_role("link", name="Adam Adams")
    title = row.locator(".sub", has_text="Warehouse Operative")

    for width in WIDTHS:
        at_width(page, width)
        name_box, title_box = name.bounding_box(), title.bounding_box()
        assert title_box["y"] >= name_box["y"] + name_box["height"] - 1, (width, name_box, title_box)
        assert title.evaluate("e => getComputedStyle(e).fontWeight") == "400"
    at_width(page, DESKTOP["width"])
    shoot(page, "people-list")
    shoot(page, "people-list", width=PHONE["width"])


def test_an_admin_adds_a_person_by_hand(signed_in_page: Page, directory, shoot):
    page = signed_in_page
    page.goto("/people/")
    page.get_by_role("link", name="Add person").first.click()
    expect(page.get_by_role("heading", name="Add person")).to_be_visible()
    shoot(page, "people-new")
    shoot(page, "people-new", width=PHONE["width"])

    page.get_by_label("First name").fill("Charles")
    page.get_by_label("Last name").fill("Babbage")
    page.get_by_role("textbox", name=re.compile("^Email")).fill("Charles@Example.com")
    page.get_by_label("Depot").select_option(label="North")
    page.get_by_label("Find a manager by name or email").fill("Hop")
    page.get_by_role("button", name="Grace Hopper").click()
    page.get_by_role("button", name="Add person").click()

    expect(page.get_by_role("heading", name="Charles Babbage")).to_be_visible()
    expect(page.get_by_text("Added Charles Babbage.")).to_be_visible()
    person = Person.objects.get(last_name="Babbage")
    assert (person.email, person.depot.name, str(person.manager), person.managed_by) == (
        "charles@example.com", "North", "Grace Hopper", None
    )

    # The same rules as a sync: a duplicate address (in another case) is refused.
    page.goto("/people/new/")
    page.get_by_label("First name").fill("Again")
    page.get_by_role("textbox", name=re.compile("^Email")).fill("CHARLES@example.com")
    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_text("Another person already has this email address.")).to_be_visible()
    assert not Person.objects.filter(first_name="Again").exists()


def test_the_person_page_keeps_a_long_email_whole_within_the_screen(signed_in_page: Page, directory, shoot):
    page = signed_in_page
    page.goto(f"/people/{directory['ada'].pk}/")
    history = page.locator(".history-list")
    email = history.get_by_text(LONG_EMAIL, exact=True)

    for width in WIDTHS:
        at_width(page, width)
        assert fits_the_screen(page), width
        box, card = email.bounding_box(), history.bounding_box()
        # Wrapped inside the history's card, not cut off or running out of it.
        assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + card["width"] + 1, width
        assert email.evaluate("e => e.scrollWidth <= e.clientWidth + 1 || e.getClientRects().length > 1"), width
    expect(history.get_by_text("Shirt size", exact=True)).to_be_visible()
    expect(page.get_by_text("Managed by")).to_have_count(1)
    at_width(page, DESKTOP["width"])
    shoot(page, "person-detail")
    shoot(page, "person-detail", width=PHONE["width"])
