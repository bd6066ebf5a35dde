"""A CSV file connection in a real browser (issue 4, "Done when"): create it,
Save and test → green bar and the preview; the column-mapping page; Sync
Employees → the people are in the directory. Over SFTP: no host key pinned →
red bar with the offered fingerprint → Pin this key → green bar.

Screenshots: csv-new, csv-preview, csv-columns, csv-pin (and csv-pinned).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hrsync.people.models import Person
from tests.browser.test_admin_journey import click_and_wait, field, person_row, sync_from_menu

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.services

ROSTER = (
    "Staff No,First Name,Surname,Email,Status,Team\n"
    "101,Mira,Castell,mira@example.com,Active,Night shift\n"
    "102,Jon,Okafor,jon@example.com,Active,Day shift\n"
    "103,Lena,Voss,lena@example.com,On Leave,Day shift\n"
)
PREVIEW = re.compile(r"^Preview: the first \d+ rows? as they will map to person fields$")


@pytest.fixture(autouse=True)
def _local_files_allowed(settings):
    # live_server runs in this process, so the setting reaches its requests.
    settings.HRSYNC_ALLOW_LOCAL_FILES = True


def new_csv_connection(page: Page, *, name: str, uri: str) -> None:
    page.goto("/connections/")
    click_and_wait(page, page.get_by_role("link", name="New connection").or_(
        page.get_by_role("button", name="New connection")
    ).first)
    page.get_by_role("group", name="Integration").get_by_role("radio", name=re.compile(r"^CSV file")).check()
    click_and_wait(page, page.get_by_role("button", name="Continue"))
    field(page, "Name").fill(name)
    field(page, "File address").fill(uri)


def preview(page: Page) -> Locator:
    return page.get_by_role("table", name=PREVIEW)


def test_csv_file_journey(signed_in_page: Page, tmp_path: Path, shoot, started_at, transactional_db):
    page = signed_in_page
    roster = tmp_path / "staff.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    shots: list[Path] = []

    # -- 1. New connection → CSV file → Save and test: green bar and the preview --------
    new_csv_connection(page, name="Payroll export", uri=f"file://{roster}")
    # The private key is a textarea (a key has lines), empty like the password.
    expect(field(page, "Private key (SFTP)")).to_have_value("")
    expect(page.locator("textarea[name='config-private_key']")).to_be_visible()
    shots.append(shoot(page, "csv-new"))
    click_and_wait(page, page.get_by_role("button", name="Save and test"))

    expect(page.locator(".health.ok")).to_contain_text("the first rows map as shown")
    expect(preview(page)).to_be_visible()
    expect(preview(page)).to_have_accessible_name("Preview: the first 3 rows as they will map to person fields")
    expect(preview(page).get_by_role("row")).to_have_count(4)  # the header and 3 people
    expect(preview(page).get_by_role("columnheader", name="First name")).to_be_visible()
    expect(preview(page).get_by_role("row", name=re.compile("Mira"))).to_contain_text("mira@example.com")
    shots.append(shoot(page, "csv-preview"))
    overview_url = page.url

    # -- 2. The column-mapping page: the suggestions, and one change ---------------------
    click_and_wait(page, page.get_by_role("link", name="Column mapping"))
    expect(page.get_by_role("heading", name="Column mapping")).to_be_visible()
    expect(page.get_by_label("First Name maps to")).to_have_value("first_name")
    expect(page.get_by_label("Surname maps to")).to_have_value("last_name")
    expect(page.get_by_label("Team maps to")).to_have_value("")  # hrsync cannot guess this one
    expect(page.get_by_label("Staff No is the unique key")).to_be_checked()
    custom_key = page.get_by_label("Custom field key for Team")
    expect(custom_key).to_be_hidden()  # shown only for "Custom field…"
    page.get_by_label("Team maps to").select_option("custom")
    expect(custom_key).to_be_visible()
    custom_key.fill("team")
    shots.append(shoot(page, "csv-columns"))
    click_and_wait(page, page.get_by_role("button", name="Save and test"))

    expect(page.get_by_role("status").filter(has_text="Column mapping saved.")).to_be_visible()
    expect(page.locator(".health.ok")).to_be_visible()
    expect(preview(page).get_by_role("columnheader", name="team (custom field)")).to_be_visible()
    expect(page.get_by_label("Team maps to")).to_have_value("custom")
    expect(page.get_by_label("Custom field key for Team")).to_have_value("team")

    # -- 3. Sync Employees: the people are in the directory -------------------------------
    page.goto(overview_url)
    sync_from_menu(page, "Sync Employees")
    page.goto("/people/")
    for first, last in (("Mira", "Castell"), ("Jon", "Okafor"), ("Lena", "Voss")):
        expect(person_row(page, first, last)).to_be_visible()
    assert Person.objects.get(email="mira@example.com").custom_fields == {"team": "Night shift"}
    assert Person.objects.get(email="lena@example.com").status == "on_leave"

    for path in shots:
        assert path.stat().st_size > 0 and path.stat().st_mtime >= started_at


def test_csv_file_over_sftp_pin_this_key(signed_in_page: Page, sshd, shoot, started_at, transactional_db):
    page = signed_in_page
    sshd.write("browser-roster.csv", ROSTER)
    fingerprint = sshd.host_fingerprint("ed25519")

    new_csv_connection(page, name="SFTP export", uri=sshd.uri("browser-roster.csv"))
    field(page, "Username").fill(sshd.username)
    field(page, "Password").fill(sshd.password)
    click_and_wait(page, page.get_by_role("button", name="Save and test"))

    # No key pinned: red bar, the fingerprint the server offers, and the button.
    expect(page.locator(".health.bad")).to_contain_text("host key is not pinned yet")
    offer = page.get_by_role("group", name=re.compile("The server offers the ssh-ed25519 host key"))
    expect(offer).to_contain_text(fingerprint)
    expect(offer).to_contain_text(
        f"Only pin a key you recognise: compare {fingerprint} with the fingerprint your server "
        "administrator gives you."
    )
    expect(preview(page)).to_have_count(0)
    pin_shot = shoot(page, "csv-pin")

    click_and_wait(page, offer.get_by_role("button", name="Pin this key"))

    expect(page.locator(".health.ok")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text=f"Pinned the ssh-ed25519 key {fingerprint}.")).to_be_visible()
    expect(preview(page)).to_be_visible()
    expect(page.get_by_role("button", name="Pin this key")).to_have_count(0)
    pinned_shot = shoot(page, "csv-pinned")
    for path in (pin_shot, pinned_shot):
        assert path.stat().st_size > 0 and path.stat().st_mtime >= started_at
