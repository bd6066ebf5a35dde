"""A CSV file connection in a real browser (issue 4, "Done when"): create it,
Save and test → green bar and the preview on the column-mapping page; Sync
Employees → the people are in the directory. Over SFTP: no host key pinned →
the first test fails and the form stays → Save anyway → red bar with the
offered fingerprint → Pin this key → green bar. The form (issue 12): only
the fields for the address's scheme show, and a test against a server that
does not answer shows "Testing…", then the reason, without a page load.

Screenshots: csv-new, csv-preview, csv-columns, csv-pin (and csv-pinned),
csv-form-sftp, csv-form-https, csv-testing and csv-test-failed (1280 and 390 px).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connections import services
from connections.models import Connection
from hrsync.people.models import Person
from tests.browser.test_admin_journey import click_and_wait, field, person_row, sync_from_menu
from tests.connections.slow_vendor import SlowServer

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
    expect(page.locator("textarea[name='config-private_key']")).to_have_count(1)
    expect(page.get_by_role("group", name="How to sign in")).to_be_hidden()  # a file:// address has no login
    shots.append(shoot(page, "csv-new"))
    click_and_wait(page, page.get_by_role("button", name="Save and test"))

    # A new CSV connection continues on its Column mapping page.
    expect(page.get_by_role("heading", name="Column mapping")).to_be_visible()
    expect(page.locator(".health.ok")).to_contain_text("the first rows map as shown")
    expect(preview(page)).to_be_visible()
    expect(preview(page)).to_have_accessible_name("Preview: the first 3 rows as they will map to person fields")
    expect(preview(page).get_by_role("row")).to_have_count(4)  # the header and 3 people
    expect(preview(page).get_by_role("columnheader", name="First name")).to_be_visible()
    expect(preview(page).get_by_role("row", name=re.compile("Mira"))).to_contain_text("mira@example.com")
    shots.append(shoot(page, "csv-preview"))
    overview_url = re.sub(r"csv_file/columns/$", "", page.url)

    # -- 2. The column-mapping page: the suggestions, and one change ---------------------
    page.goto(overview_url)
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
    page.get_by_role("button", name="Save and test").click()

    # No key pinned: the first test fails, the form stays with the reason, nothing is saved…
    failed = page.get_by_role("region", name="The connection test failed, so nothing was saved yet")
    expect(failed).to_contain_text("host key is not pinned yet")
    assert not Connection.objects.filter(name="SFTP export").exists()
    # … and Save anyway saves it (the typed password still in its field): red bar,
    # the fingerprint the server offers, and the button.
    expect(field(page, "Password")).to_have_value(sshd.password)
    click_and_wait(page, page.get_by_role("button", name="Save anyway"))
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


def sign_in_field(page: Page, label: str) -> Locator:
    return page.get_by_role("group", name="How to sign in").get_by_label(re.compile(rf"^{re.escape(label)}"))


def test_the_form_shows_the_fields_for_the_address_and_tests_without_a_page_load(
    signed_in_page: Page, shoot, started_at, settings, transactional_db
):
    page = signed_in_page
    settings.HRSYNC_WEB_CHECK_SECONDS = 3
    server = SlowServer(delay=30, body=ROSTER.encode(), content_type="text/csv").start()
    shots: list[Path] = []
    try:
        # -- the fields for the scheme of the address -------------------------------------
        new_csv_connection(page, name="Slow export", uri="sftp://files.example.com/exports/staff.csv")
        expect(field(page, "Private key (SFTP)")).to_be_visible()
        expect(field(page, "Pinned host key (SFTP)")).to_be_visible()
        expect(field(page, "CA bundle (HTTPS)")).to_be_hidden()
        expect(page.get_by_label("Other format")).to_be_hidden()  # shown only for "Other…"
        shots += [shoot(page, "csv-form-sftp"), shoot(page, "csv-form-sftp", width=390)]

        field(page, "File address").fill("https://hr.example.com/staff.csv")
        expect(field(page, "Private key (SFTP)")).to_be_hidden()
        expect(field(page, "Key passphrase (SFTP)")).to_be_hidden()
        expect(field(page, "Pinned host key (SFTP)")).to_be_hidden()
        expect(field(page, "CA bundle (HTTPS)")).to_be_visible()
        expect(sign_in_field(page, "Username")).to_be_visible()
        page.get_by_label("Date format").select_option("other")
        expect(page.get_by_label("Other format")).to_be_visible()
        page.get_by_label("Date format").select_option("%d/%m/%Y")
        shots += [shoot(page, "csv-form-https"), shoot(page, "csv-form-https", width=390)]

        field(page, "File address").fill("file:///srv/exports/staff.csv")
        expect(page.get_by_role("group", name="How to sign in")).to_be_hidden()

        # -- Save and test against a server that does not answer ----------------------------
        field(page, "File address").fill(f"{server.url}/staff.csv")
        expect(page.get_by_text("This can take up to 3 seconds.")).to_be_visible()  # said before it starts
        page.evaluate("window.__sameDocument = true")
        page.get_by_role("button", name="Save and test").click()

        testing = page.get_by_role("button", name="Testing… (up to 3 seconds)")
        expect(testing).to_be_visible()
        expect(testing).to_be_disabled()
        expect(page.get_by_role("status").filter(has_text="Testing the connection…")).to_be_visible()
        shots.append(shoot(page, "csv-testing"))

        failed = page.get_by_role("region", name="The connection test failed, so nothing was saved yet")
        expect(failed).to_contain_text("did not answer within 3 seconds, so the check stopped")
        expect(page.get_by_role("button", name="Save anyway")).to_be_visible()
        expect(page.get_by_role("button", name="Save and test")).to_be_enabled()
        assert page.evaluate("window.__sameDocument") is True  # no page load
        expect(field(page, "Name")).to_have_value("Slow export")
        assert not Connection.objects.filter(name="Slow export").exists()
        shots += [shoot(page, "csv-test-failed"), shoot(page, "csv-test-failed", width=390)]
    finally:
        server.stop()

    for path in shots:
        assert path.stat().st_size > 0 and path.stat().st_mtime >= started_at


@pytest.mark.parametrize("tab", ["settings", "overview"])
def test_test_connection_shows_the_new_result_without_a_page_load(
    tab: str, signed_in_page: Page, tmp_path: Path, shoot, started_at, transactional_db
):
    page = signed_in_page
    roster = tmp_path / "staff.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    connection = services.connection_create(kind="csv_file", name="Payroll export", config={"uri": f"file://{roster}"})
    services.connection_check(connection=connection)
    page.goto(f"/connections/{connection.pk}/" + ("settings/" if tab == "settings" else ""))
    expect(page.locator(".health.ok")).to_be_visible()
    shots = [shoot(page, f"csv-{tab}"), shoot(page, f"csv-{tab}", width=390)]

    roster.unlink()
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Test connection").click()

    expect(page.locator(".health.bad")).to_contain_text(f"No file at {roster}")
    expect(page.get_by_role("status").filter(has_text="The connection test failed; the bar below says why.")).to_be_visible()
    expect(page.get_by_role("button", name="Test connection")).to_be_enabled()
    assert page.evaluate("window.__sameDocument") is True  # no page load
    for path in shots:
        assert path.stat().st_size > 0 and path.stat().st_mtime >= started_at
