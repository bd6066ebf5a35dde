"""The connection pages: list, new connection, Overview, Settings, delete,
and the POST/JSON endpoints behind the Overview's buttons."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import json
import re
import time

import pytest
import responses
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from connections import services
from connections.models import Connection, SyncRun
from connectors.actionhrm.forms import ActionHRMConfigForm
from hrsync.people.models import Person
from mappings.models import DepotMapping, EmployeeMapping
from tests.connections.slow_vendor import SlowServer
from tests.factories import DepotFactory, DepotMappingFactory, EmployeeMappingFactory, PersonFactory

BASE = "https://acme.actionhrm.com"
LOCATIONS = f"{BASE}/api/v1/locations"
PASSWORD = "hunter2-very-secret-Qx7"
NEW_PASSWORD = "correct-horse-battery-Zk9"


# -- fixtures and helpers ----------------------------------------------------------


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("admin", "admin@example.com", is_staff=True)


@pytest.fixture
def client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def vendor():
    """ActionHRM at acme.actionhrm.com; nothing else is reachable."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def vendor_ok(vendor) -> None:
    vendor.get(LOCATIONS, json={"locations": [{"id": "L1", "name": "Sydney Depot"}]})


def vendor_rejects(vendor) -> None:
    vendor.get(LOCATIONS, status=401, json={"error": "Unauthorized"})


def make_connection(name: str = "Acme HR", **values) -> Connection:
    return services.connection_create(
        kind="actionhrm",
        name=name,
        config={"subdomain": "acme", "username": "api-user", **values}, secrets={"password": PASSWORD},
    )


def create_form(**overrides) -> dict[str, str]:
    return {
        "name": "Acme HR",
        "config-subdomain": "acme",
        "config-username": "api-user",
        "config-password": PASSWORD,
        "config-base_url": "",
        "config-locations_path": "",
        "config-employees_path": "",
        "config-per_page": "",
        **overrides,
    }


def settings_form(connection: Connection, **overrides) -> dict[str, str]:
    """The settings page's form as a browser would send it unchanged
    (secrets blank: they are never shown)."""
    data = {
        "name": connection.name,
        "sync_interval_hours": "3",
        "safeguard_percent": str(connection.safeguard_percent),
        "safeguard_min": str(connection.safeguard_min),
        "config-subdomain": connection.config.get("subdomain", ""),
        "config-username": connection.config.get("username", ""),
        "config-password": "",
        "config-base_url": connection.config.get("base_url", ""),
        "config-locations_path": connection.config.get("locations_path", ""),
        "config-employees_path": connection.config.get("employees_path", ""),
        "config-per_page": str(connection.config.get("per_page", "")),
    }
    rows = list(connection.status_map.items())
    for index, (vendor_status, person_status) in enumerate(rows):
        data[f"status-{index}-vendor_status"] = vendor_status
        data[f"status-{index}-person_status"] = person_status
        data[f"status-{index}-existing"] = "True"
    extra = len(rows)
    data[f"status-{extra}-vendor_status"] = ""
    data[f"status-{extra}-person_status"] = ""
    data.update({
        "status-TOTAL_FORMS": str(extra + 1),
        "status-INITIAL_FORMS": str(extra),
        "status-MIN_NUM_FORMS": "0",
        "status-MAX_NUM_FORMS": "1000",
    })
    # The field map as shown: its saved entries (none here) and the empty row to add one.
    data.update({
        "field_map-TOTAL_FORMS": "1",
        "field_map-INITIAL_FORMS": "0",
        "field_map-MIN_NUM_FORMS": "0",
        "field_map-MAX_NUM_FORMS": "1000",
        "field_map-0-person_field": "",
        "field_map-0-new_field": "",
        "field_map-0-attribute": "",
    })
    data.update(overrides)
    return data


def html(response) -> str:
    return response.content.decode()


def health_bar(response) -> tuple[str, str]:
    """(ok|bad|unknown, text) of the health bar on a connection page."""
    match = re.search(r'<p class="health (\w+)"[^>]*>(.*?)</p>', html(response), re.S)
    assert match, "no health bar on the page"
    return match.group(1), match.group(2).strip()


def flashes(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def run_for(connection: Connection, **fields) -> SyncRun:
    return SyncRun.objects.create(connection=connection, **fields)


# -- the list ----------------------------------------------------------------------


@pytest.mark.django_db
def test_list_without_connections_explains_the_next_step(client):
    response = client.get(reverse("connections:list"))

    assert response.status_code == 200
    page = html(response)
    assert 'class="empty"' in page
    assert "No connections yet" in page
    assert f'<a class="button primary" href="{reverse("connections:new")}">New connection</a>' in page


@pytest.mark.django_db
def test_list_shows_each_connection_with_health_last_run_and_schedule(client):
    quiet = make_connection("Quiet HR")
    busy = make_connection("Busy HR")
    services.connection_record_health(connection=busy, ok=False, message="ActionHRM rejected the username or password (401).")
    services.connection_update(connection=busy, options={"background_sync": True})
    run = run_for(busy, status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now() - dt.timedelta(minutes=3))

    page = html(client.get(reverse("connections:list")))

    assert f'href="{reverse("connections:overview", args=[quiet.pk])}">Quiet HR</a>' in page
    assert f'href="{reverse("connections:overview", args=[busy.pk])}">Busy HR</a>' in page
    assert page.count('<td data-label="Integration">ActionHRM</td>') == 2
    assert "Not checked" in page
    assert '<span class="badge badge-bad">Failing</span>' in page
    assert "rejected the username or password" in page
    assert f'class="badge badge-succeeded" href="{reverse("connections:run", args=[busy.pk, run.pk])}">Succeeded</a>' in page
    assert "3\xa0minutes ago" in page
    assert "Never run" in page  # Quiet HR
    assert "Background sync off" in page  # Quiet HR
    busy.refresh_from_db()
    assert busy.next_sync_at is not None
    assert "New connection" in page


# -- creating a connection ------------------------------------------------------------


@pytest.mark.django_db
def test_new_connection_starts_by_choosing_an_enabled_integration(client, settings):
    settings.HRSYNC_SAMPLE_CONNECTOR = False

    response = client.get(reverse("connections:new"))

    page = html(response)
    assert "<legend>Integration</legend>" in page
    assert 'type="radio" id="kind-actionhrm" name="kind" value="actionhrm"' in page
    assert "ActionHRM" in page
    assert 'value="sample"' not in page
    assert 'method="get"' in page
    assert ">Continue</button>" in page


@pytest.mark.django_db
def test_each_kind_card_says_what_that_integration_does(client, settings):
    settings.HRSYNC_SAMPLE_CONNECTOR = True

    page = html(client.get(reverse("connections:new")))

    cards = {
        name: htmllib.unescape(text)
        for name, text in re.findall(r'<strong>(.*?)</strong><span class="small muted">(.*?)</span>', page)
    }
    assert cards == {
        "accessplanit": "Reads users and companies from accessplanit, can send user details back, and shows "
        "people's course bookings and awards; accessplanit's webhooks tell hrsync of changes.",
        "ActionHRM": "Reads employees and locations from your ActionHRM account through its API on every sync.",
        "CSV file (SFTP/HTTPS)": "Reads a CSV file of employees from an SFTP server or an HTTPS address on every sync.",
        "Personio": "Reads employees and offices from your Personio account through its API; absences can flow "
        "either way.",
        "Sample HR data (demo)": "Serves a bundled demo roster of made-up people and depots, to try hrsync without "
        "an HR system.",
        "XML upload (REST API)": "Receives an employee file and a position file in XML, uploaded to hrsync's REST "
        "API by your HR system or a script, with this connection's API key.",
    }
    assert "Reads employees, locations" not in page


@pytest.mark.django_db
def test_the_sub_domain_is_not_labelled_optional_but_the_base_url_is(client):
    page = html(client.get(reverse("connections:new"), {"kind": "actionhrm"}))

    assert '<label for="id_config-subdomain">Sub-domain</label>' in page
    assert '<label for="id_config-base_url">Base URL <span class="optional">(optional)</span></label>' in page
    assert '<label for="id_config-username">API username</label>' in page


@pytest.mark.django_db
def test_an_invalid_integration_choice_goes_back_to_the_cards(client):
    response = client.get(reverse("connections:new"), {"kind": ""})

    assert response.status_code == 400
    assert "Reads employees and locations from your ActionHRM account" in html(response)


@pytest.mark.django_db
def test_an_unknown_integration_goes_back_to_the_choice(client):
    response = client.get(reverse("connections:new"), {"kind": "nope"})

    assert response.status_code == 400
    assert "<legend>Integration</legend>" in html(response)
    assert "Choose one of the integrations listed." in html(response)


@pytest.mark.django_db
def test_step_two_shows_the_connectors_own_fields_with_the_password_as_a_password(client):
    response = client.get(reverse("connections:new"), {"kind": "actionhrm"})

    page = html(response)
    assert response.status_code == 200
    assert 'name="name"' in page
    for field in ("subdomain", "username", "base_url", "locations_path", "employees_path", "per_page"):
        assert f'name="config-{field}"' in page
    assert re.search(r'<input type="password" name="config-password"[^>]*>', page)
    assert "API username" in page  # the connector's own label
    assert ">Save and test</button>" in page


@pytest.mark.django_db
def test_creating_an_actionhrm_connection_tests_it_and_shows_the_green_bar(client, vendor):
    vendor_ok(vendor)

    response = client.post(
        reverse("connections:new") + "?kind=actionhrm", create_form(), follow=True
    )

    connection = Connection.objects.get()
    assert response.redirect_chain == [(reverse("connections:overview", args=[connection.pk]), 302)]
    assert (connection.kind, connection.name) == ("actionhrm", "Acme HR")
    assert connection.config["subdomain"] == "acme"
    assert connection.secrets == {"password": PASSWORD}
    assert connection.last_check_ok is True
    assert connection.status_map["On Leave"] == "on_leave"  # the connector's defaults
    state, text = health_bar(response)
    assert state == "ok"
    assert text == "Connected to ActionHRM at acme.actionhrm.com (1 location)"
    # The flash says what was done; the test's own sentence is the health bar's alone.
    assert flashes(response) == ["Acme HR saved. The connection test passed."]
    assert html(response).count("Connected to ActionHRM at acme.actionhrm.com") == 1
    assert vendor.calls[0].request.headers["Authorization"].startswith("Basic ")


def field_value(page: str, name: str) -> str | None:
    """The value attribute of the input named ``name`` (None: no value)."""
    tag = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert tag, f"no input {name}"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return value.group(1) if value else None


@pytest.mark.django_db
def test_a_first_test_that_fails_keeps_the_form_open_and_saves_nothing(client, vendor):
    vendor_rejects(vendor)

    response = client.post(reverse("connections:new") + "?kind=actionhrm", create_form(**{"config-per_page": "80"}))

    assert response.status_code == 400
    assert Connection.objects.count() == 0
    page = html(response)
    assert "The connection test failed, so nothing was saved yet" in page
    assert "ActionHRM rejected the username or password (401)" in page
    assert re.search(r'<button type="submit" class="button" name="save_anyway" value="1"[^>]*>Save anyway</button>', page)
    # Save anyway comes after Save and test: Enter in a field must not save a failing connection.
    assert page.index(">Save and test</button>") < page.index(">Save anyway</button>")
    # What was typed is kept, except the password, which is asked for again.
    assert (field_value(page, "name"), field_value(page, "config-subdomain")) == ("Acme HR", "acme")
    assert (field_value(page, "config-username"), field_value(page, "config-per_page")) == ("api-user", "80")
    assert field_value(page, "config-password") is None
    assert PASSWORD not in page
    assert "Type “API password” again first" in page


@pytest.mark.django_db
def test_trying_again_and_again_leaves_no_failing_connections_behind(client, vendor):
    vendor_rejects(vendor)

    for _ in range(5):
        client.post(reverse("connections:new") + "?kind=actionhrm", create_form())

    assert Connection.objects.count() == 0


@pytest.mark.django_db
def test_save_anyway_saves_the_failing_connection_with_a_red_bar_and_the_reason(client, vendor):
    vendor_rejects(vendor)

    response = client.post(
        reverse("connections:new") + "?kind=actionhrm", create_form(save_anyway="1"), follow=True
    )

    connection = Connection.objects.get()
    assert response.redirect_chain == [(reverse("connections:overview", args=[connection.pk]), 302)]
    assert connection.secrets == {"password": PASSWORD}
    assert connection.last_check_ok is False
    state, text = health_bar(response)
    assert state == "bad"
    assert "ActionHRM rejected the username or password (401)" in text
    assert flashes(response) == ["Acme HR saved. The connection test failed; the bar below says why."]
    assert html(response).count("ActionHRM rejected the username or password (401)") == 1
    assert 'role="alert"' in html(response)


@pytest.mark.django_db
def test_a_post_from_the_page_script_gets_the_next_address_instead_of_a_redirect(client, vendor):
    vendor_ok(vendor)

    response = client.post(
        reverse("connections:new") + "?kind=actionhrm", create_form(), headers={"X-Hrsync-Fetch": "1"}
    )

    connection = Connection.objects.get()
    assert response.status_code == 204
    assert response["X-Hrsync-Location"] == reverse("connections:overview", args=[connection.pk])
    # The flash waits for the page the script opens.
    page = client.get(response["X-Hrsync-Location"])
    assert flashes(page) == ["Acme HR saved. The connection test passed."]


@pytest.mark.django_db
def test_the_new_connection_page_says_how_long_a_test_can_take(client, settings):
    settings.HRSYNC_WEB_CHECK_SECONDS = 20

    page = html(client.get(reverse("connections:new"), {"kind": "actionhrm"}))

    assert "This can take up to 20 seconds." in page
    assert re.search(r'<form [^>]*data-check-form data-check-seconds="20"', page)
    assert "js/connection-setup.js" in page


@pytest.mark.django_db
def test_an_invalid_form_shows_the_errors_and_saves_nothing(client, vendor):
    response = client.post(
        reverse("connections:new") + "?kind=actionhrm",
        create_form(**{"name": "", "config-subdomain": "", "config-username": ""}),
    )

    assert response.status_code == 400
    assert Connection.objects.count() == 0
    assert len(vendor.calls) == 0
    page = html(response)
    assert "Enter the ActionHRM sub-domain (such as my-company), or a base URL." in page
    assert page.count('class="errorlist') >= 3  # name, username and the form-wide error
    # The typed password is not sent back.
    assert PASSWORD not in page


@pytest.mark.django_db
def test_a_taken_name_is_an_error_on_the_name(client, vendor):
    make_connection("Acme HR")

    response = client.post(reverse("connections:new") + "?kind=actionhrm", create_form())

    assert response.status_code == 400
    assert Connection.objects.count() == 1
    assert "Another connection already has this name." in html(response)


@pytest.mark.django_db
def test_the_connectors_own_field_validation_is_shown_on_its_field(client, vendor):
    response = client.post(
        reverse("connections:new") + "?kind=actionhrm", create_form(**{"config-base_url": "http://evil.example"})
    )

    assert response.status_code == 400
    assert Connection.objects.count() == 0
    assert response.context["config_form"].errors["base_url"] == ["The base URL must start with https://."]


@pytest.mark.django_db
def test_a_validation_error_from_the_service_is_shown_and_nothing_is_saved(client, vendor, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError({"name": ["Too similar to another name."], "config": ["Bad settings."]})

    monkeypatch.setattr(services, "connection_create_tested", refuse)

    response = client.post(reverse("connections:new") + "?kind=actionhrm", create_form())

    assert response.status_code == 400
    assert Connection.objects.count() == 0
    form = response.context["name_form"]
    assert form.errors["name"] == ["Too similar to another name."]
    assert form.non_field_errors() == ["Config: Bad settings."]
    assert len(vendor.calls) == 0


# -- secrets ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_secret_never_appears_in_any_page_after_saving(client, vendor):
    vendor_ok(vendor)
    client.post(reverse("connections:new") + "?kind=actionhrm", create_form())
    connection = Connection.objects.get()
    run_for(connection, status=SyncRun.Status.RUNNING, progress_stage="Reading employees", progress_done=5)

    pages = [
        client.get(reverse("connections:list")),
        client.get(reverse("connections:new"), {"kind": "actionhrm"}),
        client.get(reverse("connections:overview", args=[connection.pk])),
        client.get(reverse("connections:settings", args=[connection.pk])),
        client.get(reverse("connections:delete", args=[connection.pk])),
        client.get(reverse("connections:progress", args=[connection.pk])),
        client.post(reverse("connections:settings", args=[connection.pk]), settings_form(connection, name="")),
    ]

    for response in pages:
        assert response.status_code in (200, 400), response.request["PATH_INFO"]
        assert PASSWORD not in html(response), response.request["PATH_INFO"]
    settings_page = html(pages[3])
    assert re.search(r'<input type="password" name="config-password"[^>]*>', settings_page)
    assert "Saved — leave blank to keep." in settings_page


# -- settings ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_saving_settings_with_a_blank_password_keeps_the_stored_one(client, vendor):
    vendor_ok(vendor)
    connection = make_connection()

    response = client.post(
        reverse("connections:settings", args=[connection.pk]),
        settings_form(connection, **{"config-username": "other-user"}),
        follow=True,
    )

    assert response.redirect_chain == [(reverse("connections:settings", args=[connection.pk]), 302)]
    connection.refresh_from_db()
    assert connection.secrets == {"password": PASSWORD}
    assert connection.config["username"] == "other-user"
    assert health_bar(response)[0] == "ok"
    assert flashes(response) == ["Settings saved. The connection test passed."]


@pytest.mark.django_db
def test_saving_settings_validates_the_connectors_form_once(client, vendor, monkeypatch):
    vendor_ok(vendor)
    connection = make_connection()
    cleaned = []
    full_clean = ActionHRMConfigForm.full_clean
    monkeypatch.setattr(ActionHRMConfigForm, "full_clean", lambda form: cleaned.append(form) or full_clean(form))

    response = client.post(
        reverse("connections:settings", args=[connection.pk]),
        settings_form(connection, **{"config-username": "other-user"}),
    )

    assert response.status_code == 302
    assert Connection.objects.get(pk=connection.pk).config["username"] == "other-user"
    assert len(cleaned) == 1


@pytest.mark.django_db
def test_a_new_password_replaces_the_stored_one(client, vendor):
    vendor_ok(vendor)
    connection = make_connection()

    client.post(
        reverse("connections:settings", args=[connection.pk]),
        settings_form(connection, **{"config-password": NEW_PASSWORD}),
    )

    connection.refresh_from_db()
    assert connection.secrets == {"password": NEW_PASSWORD}


@pytest.mark.django_db
def test_settings_show_a_row_per_vendor_status_and_one_to_add(client):
    connection = make_connection()
    services.connection_update(connection=connection, status_map={"Casual": "active"})

    response = client.get(reverse("connections:settings", args=[connection.pk]))

    formset = response.context["status_formset"]
    vendor_statuses = [form.initial.get("vendor_status") for form in formset]
    assert vendor_statuses == [
        "Candidate", "Onboarding", "Active", "On Leave", "Inactive", "Terminated", "Casual", None,
    ]
    page = html(response)
    assert 'name="status-6-vendor_status" value="Casual"' in page
    assert '<option value="on_leave">On leave</option>' in page
    assert 'type="text" name="status-7-vendor_status"' in page


@pytest.mark.django_db
def test_editing_the_status_map_saves_changes_and_new_statuses(client, vendor):
    vendor_ok(vendor)
    connection = make_connection()
    data = settings_form(connection)
    on_leave = next(k for k, v in data.items() if v == "On Leave" and k.endswith("vendor_status"))
    data[on_leave.replace("vendor_status", "person_status")] = "inactive"
    data["status-6-vendor_status"] = "Casual"
    data["status-6-person_status"] = "active"

    response = client.post(reverse("connections:settings", args=[connection.pk]), data)

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status_map["On Leave"] == "inactive"
    assert connection.status_map["Casual"] == "active"
    assert connection.status_map["Active"] == "active"


@pytest.mark.django_db
def test_a_new_status_without_a_person_status_is_ignored_but_half_a_row_is_an_error(client, vendor):
    vendor_ok(vendor)
    connection = make_connection()

    response = client.post(
        reverse("connections:settings", args=[connection.pk]),
        settings_form(connection, **{"status-6-vendor_status": "", "status-6-person_status": "active"}),
    )

    assert response.status_code == 400
    assert "Enter the status as the HR system spells it." in html(response)
    connection.refresh_from_db()
    assert "" not in connection.status_map


@pytest.mark.django_db
def test_changed_settings_that_fail_their_test_keep_the_working_ones_until_save_anyway(client, vendor):
    vendor_ok(vendor)
    connection = make_connection()
    services.connection_check(connection=connection)
    before = Connection.objects.values().get(pk=connection.pk)
    vendor.replace(responses.GET, LOCATIONS, status=401, json={"error": "Unauthorized"})
    data = settings_form(connection, **{"config-username": "typo-user", "config-password": NEW_PASSWORD})

    response = client.post(reverse("connections:settings", args=[connection.pk]), data)

    assert response.status_code == 400
    assert Connection.objects.values().get(pk=connection.pk) == before  # the working settings, still green
    page = html(response)
    assert "The connection test failed, so nothing was saved yet" in page
    assert "ActionHRM rejected the username or password (401)" in page
    assert field_value(page, "config-username") == "typo-user"
    assert NEW_PASSWORD not in page and PASSWORD not in page
    assert page.index(">Save and test</button>") < page.index(">Save anyway</button>")

    response = client.post(reverse("connections:settings", args=[connection.pk]), {**data, "save_anyway": "1"}, follow=True)

    connection.refresh_from_db()
    assert (connection.config["username"], connection.secrets) == ("typo-user", {"password": NEW_PASSWORD})
    assert connection.last_check_ok is False
    assert health_bar(response)[0] == "bad"
    assert flashes(response) == ["Settings saved. The connection test failed; the bar below says why."]


@pytest.mark.django_db
def test_a_schedule_change_is_saved_even_while_the_vendor_fails(client, vendor):
    vendor_rejects(vendor)
    connection = make_connection()

    response = client.post(
        reverse("connections:settings", args=[connection.pk]), settings_form(connection, sync_interval_hours="6"),
        follow=True,
    )

    connection.refresh_from_db()
    assert connection.sync_interval == dt.timedelta(hours=6)
    assert health_bar(response)[0] == "bad"
    assert ">Save anyway</button>" not in html(response)


@pytest.mark.django_db
def test_interval_safeguard_and_name_are_saved(client, vendor):
    vendor_ok(vendor)
    connection = make_connection()

    client.post(
        reverse("connections:settings", args=[connection.pk]),
        settings_form(
            connection, name="Acme Australia", sync_interval_hours="1.5", safeguard_percent="10", safeguard_min="2"
        ),
    )

    connection.refresh_from_db()
    assert connection.name == "Acme Australia"
    assert connection.sync_interval == dt.timedelta(hours=1.5)
    assert (connection.safeguard_percent, connection.safeguard_min) == (10, 2)


@pytest.mark.django_db
def test_invalid_settings_show_errors_and_change_nothing(client, vendor):
    connection = make_connection()
    before = Connection.objects.values().get(pk=connection.pk)

    response = client.post(
        reverse("connections:settings", args=[connection.pk]),
        settings_form(connection, name="Renamed", sync_interval_hours="0.1", safeguard_percent="150",
                      **{"config-per_page": "5000"}),
    )

    assert response.status_code == 400
    page = html(response)
    assert "Ensure this value is greater than or equal to 0.25." in page
    assert "Ensure this value is less than or equal to 100." in page
    assert "Ensure this value is less than or equal to 1000." in page
    assert Connection.objects.values().get(pk=connection.pk) == before
    assert "<h1>Acme HR" in page  # the frame shows the saved name, not the rejected one
    assert len(vendor.calls) == 0


# -- sync actions ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "scope", "dry_run", "queued"),
    [
        ("all", "all", False, "Sync #{} of all data queued."),
        ("locations", "locations", False, "Sync #{} of locations queued."),
        ("employees_dry_run", "employees", True, "Dry run #{} of employees queued."),
        ("employees", "employees", False, "Sync #{} of employees queued."),
    ],
)
def test_each_sync_action_enqueues_the_right_run(
    client, staff, django_capture_on_commit_callbacks, action, scope, dry_run, queued
):
    connection = make_connection()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("connections:sync", args=[connection.pk]), {"action": action})

    assert response.status_code == 302
    assert response.url == reverse("connections:overview", args=[connection.pk])
    run = SyncRun.objects.get()
    assert (run.scope, run.dry_run, run.trigger, run.requested_by) == (scope, dry_run, "manual", staff)
    assert run.status == SyncRun.Status.QUEUED
    assert len(callbacks) == 1  # the Celery task, sent after commit
    page = html(client.get(response.url))
    assert queued.format(run.pk) in page


@pytest.mark.django_db
def test_a_second_click_says_a_sync_is_already_running(client, django_capture_on_commit_callbacks):
    connection = make_connection()

    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("connections:sync", args=[connection.pk]), {"action": "all"})
        response = client.post(
            reverse("connections:sync", args=[connection.pk]), {"action": "employees"}, follow=True
        )

    assert SyncRun.objects.count() == 1
    assert "A sync is already running for Acme HR." in flashes(response)
    assert '<li class="alert alert-warning">A sync is already running for Acme HR.</li>' in html(response)


@pytest.mark.django_db
def test_a_disabled_connection_does_not_sync(client):
    connection = make_connection()
    services.connection_update(connection=connection, options={"enabled": False})

    response = client.post(reverse("connections:sync", args=[connection.pk]), {"action": "all"}, follow=True)

    assert SyncRun.objects.count() == 0
    assert "Acme HR is disabled: enable it before syncing." in flashes(response)


@pytest.mark.django_db
def test_an_unknown_action_starts_nothing(client):
    connection = make_connection()

    response = client.post(reverse("connections:sync", args=[connection.pk]), {"action": "everything"}, follow=True)

    assert SyncRun.objects.count() == 0
    assert "Choose one of the sync actions." in flashes(response)


@pytest.mark.django_db
def test_sync_only_accepts_post(client):
    connection = make_connection()

    assert client.get(reverse("connections:sync", args=[connection.pk])).status_code == 405
    assert SyncRun.objects.count() == 0


# -- the overview ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_overview_has_the_sync_split_button_and_its_keyboard_menu(client):
    connection = make_connection()

    page = html(client.get(reverse("connections:overview", args=[connection.pk])))

    assert '<button type="submit" name="action" value="all" class="button primary">Sync All Data</button>' in page
    toggle = re.search(r"<button[^>]*split-toggle[^>]*>", page).group(0)
    assert 'aria-haspopup="menu"' in toggle
    assert 'aria-expanded="false"' in toggle
    assert 'aria-label="More sync options"' in toggle
    assert 'aria-controls="sync-menu"' in toggle
    assert '<ul class="menu" id="sync-menu" role="menu"' in page
    for action, label in [
        ("locations", "Sync Locations"),
        ("employees_dry_run", "Sync Employees (Dry Run)"),
        ("employees", "Sync Employees"),
    ]:
        item = re.search(rf'<button type="submit" role="menuitem" name="action" value="{action}"[^>]*>(.*?)</button>', page).group(0)
        assert f'aria-labelledby="sync-{action}"' in item
        assert f'<span id="sync-{action}">{label}</span>' in item
    assert "js/hrsync.js" in page
    assert 'role="switch" aria-checked="false" name="value" value="true"' in page
    assert "Enable Background Sync" in page and "Syncs employees every 3 hours." in page
    assert "Credential Notifications" in page
    assert "Creates a login for each new person and emails them a link to set a password." in page
    assert "Background sync off" in page
    assert "data-progress-url" not in page
    assert " disabled" not in re.search(r"<form class=\"split\".*?</form>", page, re.S).group(0)


@pytest.mark.django_db
def test_overview_while_a_run_is_active_shows_progress_and_disables_the_buttons(client):
    connection = make_connection()
    run = run_for(connection, status=SyncRun.Status.RUNNING, scope="employees", dry_run=True,
                  progress_stage="Reading employees from ActionHRM", progress_done=40, progress_total=100)

    page = html(client.get(reverse("connections:overview", args=[connection.pk])))

    assert f'data-progress-url="{reverse("connections:progress", args=[connection.pk])}"' in page
    assert f"Running now: Dry run #{run.pk} <span class=\"muted small\">Employees</span>" in page
    assert '<progress value="40" max="100"' in page
    assert "40 of 100" in page
    assert "Reading employees from ActionHRM" in page
    split = re.search(r"<form class=\"split\".*?</form>", page, re.S).group(0)
    assert split.count(" disabled") == 5  # main, toggle and the three menu items


@pytest.mark.django_db
def test_overview_summarises_the_last_finished_run(client):
    connection = make_connection()
    run = run_for(
        connection, status=SyncRun.Status.COMPLETED_WITH_ERRORS, scope="all", finished_at=timezone.now(),
        counts={"created": 12, "updated": 3, "errors": 1},
    )
    run_for(connection, status=SyncRun.Status.QUEUED)  # not finished: not the "last run"

    page = html(client.get(reverse("connections:overview", args=[connection.pk])))

    assert f'href="{reverse("connections:run", args=[connection.pk, run.pk])}">Sync #{run.pk}</a>' in page
    assert '<span class="badge badge-completed_with_errors">Completed with errors</span>' in page
    assert '<span class="stat-value">12</span><span class="stat-label">created</span>' in page
    assert '<span class="stat-value">1</span><span class="stat-label">errors</span>' in page


@pytest.mark.django_db
def test_the_checklist_ticks_steps_done_and_disappears_when_all_are(client):
    connection = make_connection()
    url = reverse("connections:overview", args=[connection.pk])

    page = html(client.get(url))
    assert "Getting started" in page
    assert page.count('<li class="done">') == 0

    run_for(connection, status=SyncRun.Status.SUCCEEDED, scope="locations", finished_at=timezone.now())
    DepotMappingFactory(connection=connection, remote_location_id="L1", remote_name="Sydney Depot")
    page = html(client.get(url))
    assert page.count('<li class="done">') == 1  # locations read, depots not yet mapped
    assert "1 location is not mapped to a depot." in page
    assert f'href="{reverse("connections:depots", args=[connection.pk])}"' in page

    DepotMapping.objects.update(depot=DepotFactory(name="Sydney"))
    run_for(connection, status=SyncRun.Status.SUCCEEDED, scope="employees", dry_run=True, finished_at=timezone.now())
    page = html(client.get(url))
    assert page.count('<li class="done">') == 3
    assert "not mapped to a depot" not in page

    run_for(connection, status=SyncRun.Status.SUCCEEDED, scope="employees", finished_at=timezone.now())
    page = html(client.get(url))
    assert "Getting started" not in page


@pytest.mark.django_db
def test_the_unmapped_warning_counts_every_unmapped_location(client):
    connection = make_connection()
    DepotMappingFactory.create_batch(3, connection=connection)
    DepotMappingFactory(connection=connection, depot=DepotFactory())

    page = html(client.get(reverse("connections:overview", args=[connection.pk])))

    assert "3 locations are not mapped to a depot." in page


# -- options ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_background_sync_toggles_on_and_off(client):
    connection = make_connection()
    url = reverse("connections:options", args=[connection.pk])

    response = client.post(url, {"option": "background_sync", "value": "true"}, follow=True)

    connection.refresh_from_db()
    assert connection.background_sync is True
    assert connection.next_sync_at is not None
    assert "Background sync is on: hrsync syncs this connection every 3 hours." in flashes(response)
    assert 'role="switch" aria-checked="true" name="value" value="false"' in html(response)

    client.post(url, {"option": "background_sync", "value": "false"})
    connection.refresh_from_db()
    assert connection.background_sync is False


@pytest.mark.django_db
def test_credential_notifications_toggle(client):
    connection = make_connection()

    response = client.post(
        reverse("connections:options", args=[connection.pk]),
        {"option": "credential_notifications", "value": "true"},
        follow=True,
    )

    connection.refresh_from_db()
    assert connection.credential_notifications is True
    assert connection.background_sync is False
    assert any(m.startswith("Credential notifications are on") for m in flashes(response))


@pytest.mark.django_db
def test_options_refuse_other_fields(client):
    connection = make_connection()

    client.post(reverse("connections:options", args=[connection.pk]), {"option": "safeguard_min", "value": "true"})

    connection.refresh_from_db()
    assert connection.safeguard_min == 5


# -- progress JSON ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_progress_while_a_run_is_running(client):
    connection = make_connection()
    run = run_for(connection, status=SyncRun.Status.RUNNING, scope="employees", dry_run=True,
                  progress_stage="Reading employees from ActionHRM", progress_done=250, progress_total=1000)

    data = client.get(reverse("connections:progress", args=[connection.pk])).json()

    assert data["active"] is True
    assert data["last"] is None
    assert data["run"] == {
        "id": run.pk,
        "title": f"Dry run #{run.pk}",
        "scope": "Employees",
        "status": "running",
        "status_label": "Running",
        "stage": "Reading employees from ActionHRM",
        "done": 250,
        "total": 1000,
        "dry_run": True,
        "url": reverse("connections:run", args=[connection.pk, run.pk]),
    }


@pytest.mark.django_db
def test_progress_when_idle_gives_the_last_finished_run(client):
    connection = make_connection()
    run = run_for(connection, status=SyncRun.Status.SUCCEEDED, scope="all", finished_at=timezone.now(),
                  counts={"created": 2})

    data = client.get(reverse("connections:progress", args=[connection.pk])).json()

    assert data["active"] is False
    assert data["run"] is None
    assert data["last"]["id"] == run.pk
    assert data["last"]["status"] == "succeeded"
    assert data["last"]["counts"]["created"] == 2
    assert data["last"]["url"] == reverse("connections:run", args=[connection.pk, run.pk])


@pytest.mark.django_db
def test_progress_of_a_connection_that_never_ran(client):
    connection = make_connection()

    data = client.get(reverse("connections:progress", args=[connection.pk])).json()

    assert data == {"active": False, "run": None, "last": None}


# -- test connection ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_test_connection_records_health_and_returns_to_next(client, vendor):
    vendor_rejects(vendor)
    connection = make_connection()
    settings_url = reverse("connections:settings", args=[connection.pk])

    response = client.post(reverse("connections:test", args=[connection.pk]), {"next": settings_url}, follow=True)

    assert response.redirect_chain == [(settings_url, 302)]
    assert health_bar(response)[0] == "bad"
    connection.refresh_from_db()
    assert connection.last_check_ok is False


@pytest.mark.django_db
def test_test_connection_from_the_page_script_answers_with_the_page_to_show(client, vendor):
    vendor_rejects(vendor)
    connection = make_connection()
    settings_url = reverse("connections:settings", args=[connection.pk])

    response = client.post(
        reverse("connections:test", args=[connection.pk]), {"next": settings_url}, headers={"X-Hrsync-Fetch": "1"}
    )

    assert response.status_code == 204
    assert response["X-Hrsync-Location"] == settings_url
    page = client.get(settings_url)
    # The flash and the health bar do not say the same sentence.
    assert flashes(page) == ["The connection test failed; the bar below says why."]
    assert html(page).count("ActionHRM rejected the username or password (401)") == 1
    assert '<div id="check-result" data-swap>' in html(page)
    assert re.search(r'<form class="inline-form" method="post" action="[^"]+/test/" data-check-form', html(page))


@pytest.mark.django_db
def test_test_connection_ignores_an_offsite_next(client, vendor):
    vendor_ok(vendor)
    connection = make_connection()

    response = client.post(reverse("connections:test", args=[connection.pk]), {"next": "https://evil.example/"})

    assert response.url == reverse("connections:overview", args=[connection.pk])


# -- a vendor slower than a page may wait ---------------------------------------------------------
#
# A page waits on the vendor at most HRSYNC_WEB_CHECK_SECONDS (1 s here),
# however slow the vendor (5 s here, well below the full 60 s read timeout).

DEADLINE = 1
MARGIN = 2.0
SLOW_ANSWER = json.dumps({"locations": [{"id": "L1", "name": "Sydney Depot"}]}).encode()


@pytest.fixture
def slow_vendor(settings):
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True  # a stand-in ActionHRM on 127.0.0.1, over http
    settings.HRSYNC_WEB_CHECK_SECONDS = DEADLINE
    server = SlowServer(delay=5, body=SLOW_ANSWER, content_type="application/json").start()
    yield server
    server.stop()


def stopped(server, *, saved: bool) -> str:
    then = "The settings were saved; the next sync" if saved else "The next sync"
    return (
        f"The server at {server.url.removeprefix('http://')} did not answer within 1 second, so the check "
        f"stopped. {then} will try again with the full time allowance (60 s per request, with retries)."
    )


def stopped_before_saving(server) -> str:
    return (
        f"The server at {server.url.removeprefix('http://')} did not answer within 1 second, so the check "
        "stopped. A sync waits longer (60 s per request, with retries)."
    )


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.django_db
def test_changed_settings_with_a_slow_vendor_stay_unsaved_and_say_the_check_stopped(client, slow_vendor):
    connection = make_connection()
    before = Connection.objects.values().get(pk=connection.pk)
    data = settings_form(connection, **{"config-base_url": slow_vendor.url, "config-per_page": "50"})

    response, took = timed(lambda: client.post(reverse("connections:settings", args=[connection.pk]), data))

    assert took < DEADLINE + MARGIN
    assert response.status_code == 400
    assert Connection.objects.values().get(pk=connection.pk) == before
    page = html(response)
    assert stopped_before_saving(slow_vendor) in page
    assert ">Save anyway</button>" in page
    assert slow_vendor.requests  # it was asked, and not waited for

    response = client.post(reverse("connections:settings", args=[connection.pk]), {**data, "save_anyway": "1"})

    assert response.status_code == 302
    saved = Connection.objects.get(pk=connection.pk)
    assert (saved.config["base_url"], saved.config["per_page"]) == (slow_vendor.url, 50)
    assert saved.secrets == {"password": PASSWORD}
    assert saved.last_check_ok is False
    assert saved.last_check_message == stopped(slow_vendor, saved=True)
    page = client.get(response.url)
    assert flashes(page) == ["Settings saved. The connection test failed; the bar below says why."]


@pytest.mark.django_db
def test_creating_a_connection_with_a_slow_vendor_keeps_the_form_and_says_the_check_stopped(client, slow_vendor):
    form = create_form(**{"config-subdomain": "", "config-base_url": slow_vendor.url})

    response, took = timed(lambda: client.post(reverse("connections:new") + "?kind=actionhrm", form))

    assert took < DEADLINE + MARGIN
    assert response.status_code == 400
    assert Connection.objects.count() == 0
    assert stopped_before_saving(slow_vendor) in html(response)


@pytest.mark.django_db
def test_test_connection_with_a_slow_vendor_says_the_check_stopped(client, slow_vendor):
    connection = make_connection(subdomain="", base_url=slow_vendor.url)

    response, took = timed(lambda: client.post(reverse("connections:test", args=[connection.pk])))

    assert took < DEADLINE + MARGIN
    assert response.status_code == 302
    saved = Connection.objects.get(pk=connection.pk)
    assert saved.last_check_ok is False
    assert saved.last_check_message == stopped(slow_vendor, saved=False)


@pytest.mark.django_db
def test_a_check_outside_a_page_waits_for_a_slow_vendor(slow_vendor):
    slow_vendor.delay = 1.5  # longer than a page may wait
    connection = make_connection(subdomain="", base_url=slow_vendor.url)

    check = services.connection_check(connection=connection)

    assert check.ok, check.message
    assert Connection.objects.get(pk=connection.pk).last_check_ok is True


# -- delete -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_asks_first_and_says_what_goes_and_what_stays(client):
    connection = make_connection()
    run_for(connection, status=SyncRun.Status.SUCCEEDED)
    EmployeeMappingFactory(connection=connection, person=PersonFactory(managed_by=connection))

    response = client.get(reverse("connections:delete", args=[connection.pk]))

    page = html(response)
    assert "Delete Acme HR?" in page
    assert "its 1 sync run and their reports" in page
    assert "its 1 employee mapping and 0 depot mappings" in page
    assert "People are kept." in page
    assert "The 1 person this connection manages stay in the directory" in page
    assert Connection.objects.filter(pk=connection.pk).exists()


@pytest.mark.django_db
def test_deleting_a_connection_keeps_its_people(client):
    connection = make_connection()
    person = PersonFactory(managed_by=connection, email="kept@example.com")
    EmployeeMappingFactory(connection=connection, person=person)
    DepotMappingFactory(connection=connection)
    run_for(connection, status=SyncRun.Status.SUCCEEDED)

    response = client.post(reverse("connections:delete", args=[connection.pk]), follow=True)

    assert response.redirect_chain == [(reverse("connections:list"), 302)]
    assert not Connection.objects.exists()
    assert not SyncRun.objects.exists()
    assert not EmployeeMapping.objects.exists()
    assert not DepotMapping.objects.exists()
    person.refresh_from_db()
    assert person.managed_by is None
    assert Person.objects.filter(email="kept@example.com").exists()
    assert "Acme HR was deleted. Its people are still in the directory." in flashes(response)


@pytest.mark.django_db
def test_a_connection_with_a_running_sync_is_not_deleted(client):
    connection = make_connection()
    run_for(connection, status=SyncRun.Status.RUNNING)

    client.post(reverse("connections:delete", args=[connection.pk]))

    assert Connection.objects.filter(pk=connection.pk).exists()


# -- access ----------------------------------------------------------------------------------------


def _urls(connection: Connection) -> list[tuple[str, str]]:
    pk = connection.pk
    return [
        ("get", reverse("connections:list")),
        ("get", reverse("connections:new")),
        ("get", reverse("connections:overview", args=[pk])),
        ("get", reverse("connections:settings", args=[pk])),
        ("get", reverse("connections:progress", args=[pk])),
        ("get", reverse("connections:delete", args=[pk])),
        ("post", reverse("connections:sync", args=[pk])),
        ("post", reverse("connections:options", args=[pk])),
        ("post", reverse("connections:test", args=[pk])),
        ("post", reverse("connections:delete", args=[pk])),
    ]


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client):
    client.logout()
    connection = make_connection()

    for method, url in _urls(connection):
        response = getattr(client, method)(url, {"action": "all", "option": "background_sync", "value": "true"})
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login") + "?next="), url
    assert Connection.objects.filter(pk=connection.pk, background_sync=False).exists()
    assert SyncRun.objects.count() == 0


@pytest.mark.django_db
def test_signed_in_non_staff_get_403(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("someone"))
    connection = make_connection()

    for method, url in _urls(connection):
        response = getattr(client, method)(url, {"action": "all", "option": "background_sync", "value": "true"})
        assert response.status_code == 403, url
    assert Connection.objects.filter(pk=connection.pk, background_sync=False).exists()
    assert SyncRun.objects.count() == 0


@pytest.mark.django_db
def test_an_unknown_connection_is_404(client):
    assert client.get(reverse("connections:overview", args=[999])).status_code == 404
    assert client.get(reverse("connections:progress", args=[999])).status_code == 404
