"""The Fields section of a connection's Settings tab: which attribute of the HR
system fills each person field (the connection's field map), edited on the page
with the same names as ``manage.py connections set … --set field_map.<field>=…``."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.management import call_command
from django.urls import reverse

from connections import services
from connections.models import Connection

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ACTIONHRM = "https://acme.actionhrm.com"
ACTIONHRM_LOCATIONS = f"{ACTIONHRM}/api/v1/locations"
PERSONIO = "https://api.personio.de"
PERSONIO_AUTH = f"{PERSONIO}/v1/auth"
PERSONIO_ATTRIBUTES = f"{PERSONIO}/v1/company/employees/attributes"
PERSONIO_EMPLOYEES = f"{PERSONIO}/v1/company/employees"
PASSWORD = "hunter2-very-secret-Qx7"
SECRET = "Zq8-personio-unmistakable-secret"


def fixture(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / name).read_text())


# -- the page as a browser reads and sends it -----------------------------------------


class _SettingsForm(HTMLParser):
    """The values the settings form sends unchanged, as a browser would:
    text and hidden inputs, checked boxes, each select's selected option."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._in_form = False
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._in_form = attr.get("id") == "settings-form"
        if not self._in_form:
            return
        if tag == "input" and attr.get("name") and attr.get("type") not in {"file", "submit"}:
            if attr.get("type") == "checkbox":
                if "checked" in attr:
                    self.values[attr["name"]] = attr.get("value") or "on"
            else:
                self.values[attr["name"]] = attr.get("value", "")
        elif tag == "select":
            self._select, self._first_option = attr.get("name"), None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = attr.get("value", "")
                self.values.setdefault(self._select, self._first_option)
            if "selected" in attr:
                self.values[self._select] = attr.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None


def page_form(page: str) -> dict[str, str]:
    parser = _SettingsForm()
    parser.feed(page)
    return parser.values


def field_map_rows(data: dict[str, str]) -> dict[str, int]:
    """Saved field → the index of its row in the posted form."""
    return {
        value: int(name.split("-")[1])
        for name, value in data.items()
        if name.startswith("field_map-") and name.endswith("-person_field") and value
    }


def new_row(data: dict[str, str]) -> int:
    """The index of the empty row that adds a field."""
    return int(data["field_map-TOTAL_FORMS"]) - 1


def saved(connection: Connection) -> dict[str, Any]:
    """Everything saved about the connection (health aside: every test records it)."""
    row = Connection.objects.values().get(pk=connection.pk)
    return {key: value for key, value in row.items() if not key.startswith("last_check")}


# -- connections and their vendors --------------------------------------------------------


@pytest.fixture
def vendor():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def actionhrm(**field_map: str) -> Connection:
    return services.connection_create(
        kind="actionhrm", name="Acme HR", config={"subdomain": "acme", "username": "api-user"},
        secrets={"password": PASSWORD}, field_map=field_map,
    )


def actionhrm_answers(vendor, *, status: int = 200) -> None:
    if status == 200:
        vendor.get(ACTIONHRM_LOCATIONS, json={"locations": [{"id": "L1", "name": "Sydney Depot"}]})
    else:
        vendor.get(ACTIONHRM_LOCATIONS, status=status, json={"error": "Unauthorized"})


def personio(field_map: dict[str, str] | None = None, *, name: str = "Personio – Germany") -> Connection:
    return services.connection_create(
        kind="personio", name=name, config={"client_id": "papi-id"},
        secrets={"client_secret": SECRET}, field_map=field_map,
    )


def personio_answers(vendor) -> None:
    vendor.post(PERSONIO_AUTH, json=fixture("personio", "auth_token.json"))
    vendor.get(PERSONIO_ATTRIBUTES, json=fixture("personio", "attributes.json"))
    vendor.get(PERSONIO_EMPLOYEES, json=fixture("personio", "connector_employees.json"))


def settings_url(connection: Connection) -> str:
    return reverse("connections:settings", args=[connection.pk])


def calls_to(vendor, url: str) -> int:
    return sum(1 for call in vendor.calls if call.request.url.split("?")[0] == url)


# -- what the page shows ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_actionhrm_connection_shows_its_field_map_with_a_row_to_add_one(staff):
    connection = actionhrm(email="work_email")

    response = staff.get(settings_url(connection))

    page = response.content.decode()
    assert '<h3 id="s-fields">Fields</h3>' in page
    assert "Which attribute of ActionHRM fills each field. Leave a field out to use the default" in page
    data = page_form(page)
    rows = field_map_rows(data)
    assert list(rows) == ["email"]
    assert data[f"field_map-{rows['email']}-attribute"] == "work_email"
    assert "Attribute of ActionHRM that fills “Email”" in page
    assert data[f"field_map-{new_row(data)}-new_field"] == ""
    assert '<option value="mobile_phone">Mobile phone</option>' in page
    # ActionHRM reads no custom fields and lists no attributes.
    assert "Custom field" not in page
    assert "<datalist" not in page


@pytest.mark.django_db
def test_a_personio_connection_offers_the_attributes_personio_lists_read_once(staff, vendor):
    personio_answers(vendor)
    connection = personio({"custom.family": "dynamic_2", "job_title": "dynamic_7"})

    page = staff.get(settings_url(connection)).content.decode()

    data = page_form(page)
    assert list(field_map_rows(data)) == ["job_title", "custom.family"]  # standard fields first
    # A custom field is named by its attribute's label in Personio.
    assert "Attribute of Personio that fills “Marital status”" in page
    assert '<datalist id="field_map-attributes"><option value="first_name">First name (first_name)</option>' in page
    assert '<option value="dynamic_2">Marital status (dynamic_2)</option>' in page
    assert page.count('list="field_map-attributes"') == 3  # two saved rows and the new one
    assert '<option value="custom">Custom field…</option>' in page
    assert "whitelisted on the API credential" in page
    # The employee number box offers the same list: Personio was asked once for both.
    assert 'list="id_config-employee_number_attribute-attributes"' in page
    assert calls_to(vendor, PERSONIO_ATTRIBUTES) == 1
    assert SECRET not in page


@pytest.mark.django_db
def test_the_page_opens_with_plain_boxes_when_personio_cannot_list_its_attributes(staff, vendor):
    vendor.post(PERSONIO_AUTH, json=fixture("personio", "auth_rejected.json"), status=401)
    connection = personio({"job_title": "position"})

    response = staff.get(settings_url(connection))

    page = response.content.decode()
    assert response.status_code == 200
    assert (
        "hrsync could not list the attributes of Personio: Personio rejected the client ID or client secret (401)"
    ) in page
    assert "<datalist" not in page
    assert page_form(page)["field_map-0-attribute"] == "position"
    assert calls_to(vendor, PERSONIO_AUTH) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind, config", [
    ("csv_file", {"uri": "https://files.example.com/staff.csv"}),
    ("sample", {"size": 20}),
])
def test_connectors_that_read_no_field_map_have_no_fields_section(staff, kind, config):
    connection = services.connection_create(kind=kind, name="No field map", config=config)

    page = staff.get(settings_url(connection)).content.decode()

    assert 'id="s-fields"' not in page
    assert "field_map-TOTAL_FORMS" not in page
    assert 'id="s-status"' in page  # the rest of the tab is there


# -- saving ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_saving_adds_changes_and_removes_entries(staff, vendor):
    actionhrm_answers(vendor)
    connection = actionhrm(email="work_email", job_title="position")
    data = page_form(staff.get(settings_url(connection)).content.decode())
    rows = field_map_rows(data)
    data[f"field_map-{rows['email']}-attribute"] = "contact.email"
    data[f"field_map-{rows['job_title']}-attribute"] = ""  # back to the default
    data[f"field_map-{new_row(data)}-new_field"] = "mobile_phone"
    data[f"field_map-{new_row(data)}-attribute"] = " cell_phone "

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.field_map == {"email": "contact.email", "mobile_phone": "cell_phone"}
    assert connection.last_check_ok is True


@pytest.mark.django_db
def test_a_custom_field_is_added_under_the_name_the_command_line_uses(staff, vendor):
    personio_answers(vendor)
    connection = personio()
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data[f"field_map-{new_row(data)}-new_field"] = "custom"
    data[f"field_map-{new_row(data)}-custom_key"] = "marital_status"
    data[f"field_map-{new_row(data)}-attribute"] = "dynamic_2"

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    out = StringIO()
    call_command("connections", "list", "--json", stdout=out)
    listed = next(item for item in json.loads(out.getvalue()) if item["id"] == connection.pk)
    assert listed["field_map"] == {"custom.marital_status": "dynamic_2"}
    # The same entry set from the command line is the same saved map.
    other = personio(name="Personio – Austria")
    call_command(
        "connections", "set", str(other.pk), "--set", "field_map.custom.marital_status=dynamic_2",
        stdout=StringIO(), stderr=StringIO(),
    )
    other.refresh_from_db()
    assert other.field_map == listed["field_map"]


@pytest.mark.django_db
def test_a_custom_key_typed_with_its_prefix_names_the_same_field(staff, vendor):
    personio_answers(vendor)
    connection = personio()
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data[f"field_map-{new_row(data)}-custom_key"] = "custom.marital_status"
    data[f"field_map-{new_row(data)}-attribute"] = "dynamic_2"

    staff.post(settings_url(connection), data)

    connection.refresh_from_db()
    assert connection.field_map == {"custom.marital_status": "dynamic_2"}


@pytest.mark.django_db
def test_a_field_the_connector_cannot_map_is_refused_on_its_row_and_nothing_is_saved(staff, vendor):
    actionhrm_answers(vendor)
    connection = actionhrm(email="work_email")
    before = saved(connection)
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data[f"field_map-{field_map_rows(data)['email']}-person_field"] = "salary"
    data[f"field_map-{field_map_rows(data)['salary']}-attribute"] = "pay"

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 400
    assert "&#x27;salary&#x27; is not a field ActionHRM can map. Use one of:" in response.content.decode()
    assert saved(connection) == before


@pytest.mark.django_db
def test_a_field_that_is_not_offered_is_refused_in_words(staff, vendor):
    actionhrm_answers(vendor)
    connection = actionhrm()
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data[f"field_map-{new_row(data)}-new_field"] = "salary"
    data[f"field_map-{new_row(data)}-attribute"] = "pay"

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 400
    assert "Choose one of the person fields listed." in response.content.decode()
    connection.refresh_from_db()
    assert connection.field_map == {}


@pytest.mark.django_db
def test_a_bad_attribute_name_is_refused_on_its_row_with_the_rule_and_nothing_is_saved(staff, vendor):
    actionhrm_answers(vendor)
    connection = actionhrm(email="work_email")
    before = saved(connection)
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data[f"field_map-{field_map_rows(data)['email']}-attribute"] = "work email!"
    data["sync_interval_hours"] = "6"  # not saved either

    response = staff.post(settings_url(connection), data)

    page = response.content.decode()
    assert response.status_code == 400
    assert "A vendor attribute name has only letters, digits, _ and -" in page
    error_at = page.index("A vendor attribute name has only letters")
    assert page.rindex('name="field_map-0-attribute"', 0, error_at) > page.rindex("<tr>", 0, error_at)
    assert page_form(page)["field_map-0-attribute"] == "work email!"  # shown again to correct
    assert saved(connection) == before


@pytest.mark.django_db
def test_half_a_new_row_is_an_error_that_says_what_is_missing(staff, vendor):
    actionhrm_answers(vendor)
    connection = actionhrm()
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data[f"field_map-{new_row(data)}-new_field"] = "email"

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 400
    assert "Enter the attribute that fills “Email”." in response.content.decode()
    data[f"field_map-{new_row(data)}-new_field"] = ""
    data[f"field_map-{new_row(data)}-attribute"] = "work_email"

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 400
    assert "Choose the person field this attribute fills." in response.content.decode()
    connection.refresh_from_db()
    assert connection.field_map == {}


@pytest.mark.django_db
def test_a_field_mapped_already_is_changed_in_its_own_row(staff, vendor):
    actionhrm_answers(vendor)
    connection = actionhrm(email="work_email")
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data[f"field_map-{new_row(data)}-new_field"] = "email"
    data[f"field_map-{new_row(data)}-attribute"] = "private_email"

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 400
    assert "“Email” is mapped already: change its attribute in its row above." in response.content.decode()
    connection.refresh_from_db()
    assert connection.field_map == {"email": "work_email"}


@pytest.mark.django_db
def test_a_changed_field_map_is_tested_before_it_is_saved(staff, vendor):
    actionhrm_answers(vendor, status=401)
    connection = actionhrm(email="work_email")
    before = saved(connection)
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data[f"field_map-{field_map_rows(data)['email']}-attribute"] = "contact.email"

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 400
    assert "The connection test failed, so nothing was saved" in response.content.decode()
    assert saved(connection) == before

    staff.post(settings_url(connection), {**data, "save_anyway": "1"})

    connection.refresh_from_db()
    assert connection.field_map == {"email": "contact.email"}
    assert connection.last_check_ok is False


@pytest.mark.django_db
def test_an_entry_saved_before_todays_rules_does_not_block_other_changes(staff, vendor):
    actionhrm_answers(vendor)
    connection = actionhrm()
    Connection.objects.filter(pk=connection.pk).update(field_map={"email": "work email (old)"})
    data = page_form(staff.get(settings_url(connection)).content.decode())
    data["safeguard_min"] = "9"

    response = staff.post(settings_url(connection), data)

    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.safeguard_min, connection.field_map) == (9, {"email": "work email (old)"})
