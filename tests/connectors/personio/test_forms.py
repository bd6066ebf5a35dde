"""A Personio connection's settings form: on its own, on the pages, and through ``manage.py connections``."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from connections.models import Connection
from connections.services import connection_create
from connectors.personio.forms import PersonioConfigForm

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "personio"
BASE = "https://api.personio.de"
SECRET = "Zq8-personio-unmistakable-secret"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def bound(data: dict[str, Any], files: dict[str, Any] | None = None) -> PersonioConfigForm:
    return PersonioConfigForm(data={"client_id": "papi-id", "client_secret": SECRET} | data, files=files)


# -- the form on its own ----------------------------------------------------------------


def test_the_form_fills_its_defaults():
    form = bound({})
    assert form.is_valid(), form.errors
    assert form.cleaned_data | {"client_secret": "…"} == {
        "client_id": "papi-id", "client_secret": "…", "credentials_file": None,
        "base_url": "https://api.personio.de", "partner_id": "HRSYNC", "app_id": "HRSYNC",
        "employee_number_attribute": "", "include_new": False, "use_hire_date": False,
        "use_last_working_day": False, "absences": "off", "absence_days_back": 30, "absence_days_ahead": 180,
        "only_approved_absences": False, "full_sync_at": "06:30",
    }


def test_the_form_shows_its_fields_in_four_sections():
    assert [section.legend for section in PersonioConfigForm.sections] == ["Connection", "People", "Absences", "Schedule"]
    shown = {name for section in PersonioConfigForm.sections for name in section.fields}
    assert shown == set(PersonioConfigForm.base_fields)


def test_the_form_refuses_what_the_normalisers_refuse():
    form = bound({"partner_id": "acme-hr", "full_sync_at": "25:00", "absences": "both", "absence_days_back": "-3"})
    assert not form.is_valid()
    assert set(form.errors) == {"partner_id", "full_sync_at", "absences", "absence_days_back"}


def test_without_credentials_the_form_asks_for_them_or_the_file():
    form = PersonioConfigForm(data={})
    assert not form.is_valid()
    assert form.errors["client_id"] == [
        "Enter the client ID of the Personio API credentials, or upload their credentials file."
    ]
    assert "client_secret" in form.errors


def test_a_credentials_file_fills_the_client_id_and_secret():
    upload = SimpleUploadedFile("credentials.json", b'{"client_id": "papi-from-file", "client_secret": "s-from-file"}')
    form = PersonioConfigForm(data={}, files={"credentials_file": upload})
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["client_id"], form.cleaned_data["client_secret"]) == ("papi-from-file", "s-from-file")
    assert form.cleaned_data["credentials_file"] is None  # the values are kept, not the file


def test_a_credentials_file_with_neither_value_is_an_error_on_the_file():
    upload = SimpleUploadedFile("notes.txt", b"nothing useful here\n")
    form = PersonioConfigForm(data={}, files={"credentials_file": upload})
    assert not form.is_valid()
    assert "holds no client ID or client secret" in form.errors["credentials_file"][0]


# -- the pages ----------------------------------------------------------------------------


@pytest.fixture
def connection(db) -> Connection:
    return connection_create(
        kind="personio", name="Personio – Germany",
        config={"client_id": "papi-id", "employee_number_attribute": "dynamic_7"},
        secrets={"client_secret": SECRET},
    )


def test_the_new_connection_page_shows_the_personio_sections(staff):
    page = staff.get(reverse("connections:new"), {"kind": "personio"}).content.decode()
    for legend in ("Connection", "People", "Absences", "Schedule"):
        assert f"<legend>{legend}</legend>" in page
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file" name="config-credentials_file"' in page


def test_a_new_connection_from_a_credentials_file_is_saved_with_both_values(staff):
    upload = SimpleUploadedFile("personio.txt", f"Client ID: papi-id-9\nClient secret: {SECRET}\n".encode())
    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v1/auth", json=fixture("auth_token.json"))
        mocked.get(f"{BASE}/v1/company/employees", json=fixture("connector_employees.json"))
        response = staff.post(reverse("connections:new") + "?kind=personio", {
            "kind": "personio", "name": "Personio", "config-credentials_file": upload,
            "config-client_id": "", "config-client_secret": "",
        })
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Connection.objects.get(name="Personio")
    assert saved.config["client_id"] == "papi-id-9"
    assert saved.secrets == {"client_secret": SECRET}
    assert "credentials_file" not in saved.config


def test_the_settings_page_offers_the_attributes_personio_lists(staff, connection):
    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v1/auth", json=fixture("auth_token.json"))
        mocked.get(f"{BASE}/v1/company/employees/attributes", json=fixture("attributes.json"))
        page = staff.get(reverse("connections:settings", args=[connection.pk])).content.decode()
    assert 'list="id_config-employee_number_attribute-attributes"' in page
    assert '<option value="dynamic_7">Employee number (dynamic_7)</option>' in page
    assert SECRET not in page


def test_the_settings_page_says_why_it_cannot_list_the_attributes(staff, connection):
    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v1/auth", json=fixture("auth_rejected.json"), status=401)
        response = staff.get(reverse("connections:settings", args=[connection.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "hrsync could not list the attributes: Personio rejected the client ID or client secret (401)" in page
    assert "<datalist" not in page


# -- the command line ---------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_connections_add_personio_takes_every_setting_by_its_name(db):
    out = run(
        "connections", "add", "--kind", "personio", "--name", "Personio",
        "--set", "client_id=papi-id", "--set", f"client_secret={SECRET}",
        "--set", "partner_id=acme_hr", "--set", "app_id=ACME_SYNC",
        "--set", "employee_number_attribute=dynamic_21", "--set", "include_new=false",
        "--set", "use_hire_date=yes", "--set", "use_last_working_day=true",
        "--set", "absences=to_personio", "--set", "absence_days_back=7", "--set", "absence_days_ahead=90",
        "--set", "only_approved_absences=yes", "--set", "full_sync_at=5:15",
        "--set", "field_map.custom.marital_status=dynamic_2", "--set", "field_map.mobile_phone=dynamic_9",
    )
    saved = Connection.objects.get(pk=int(out.strip()))
    assert saved.config == {
        "client_id": "papi-id", "base_url": "https://api.personio.de", "partner_id": "ACME_HR",
        "app_id": "ACME_SYNC", "employee_number_attribute": "dynamic_21", "include_new": False,
        "use_hire_date": True, "use_last_working_day": True, "absences": "to_personio",
        "absence_days_back": 7, "absence_days_ahead": 90, "only_approved_absences": True, "full_sync_at": "05:15",
    }
    assert saved.secrets == {"client_secret": SECRET}
    assert saved.field_map == {"custom.marital_status": "dynamic_2", "mobile_phone": "dynamic_9"}


def test_connections_set_reads_a_credentials_file_by_its_path(connection, tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"client_id": "papi-new", "client_secret": "new-secret-value"}))
    run("connections", "set", str(connection.pk), "--set", f"credentials_file={path}")
    connection.refresh_from_db()
    assert connection.config["client_id"] == "papi-new"
    assert connection.secrets == {"client_secret": "new-secret-value"}
    assert connection.config["employee_number_attribute"] == "dynamic_7"


def test_connections_set_with_a_bad_setting_names_it_and_changes_nothing(connection):
    with pytest.raises(CommandError) as caught:
        run("connections", "set", str(connection.pk), "--set", "partner_id=acme-hr")
    assert "partner_id" in str(caught.value) and "UPPER_SNAKE_CASE" in str(caught.value)
    connection.refresh_from_db()
    assert connection.config["partner_id"] == "HRSYNC"


def test_the_settings_page_does_not_wait_long_on_a_personio_that_is_down(staff, connection, monkeypatch):
    waits: list[float] = []
    clock = [1000.0]

    def sleep(seconds: float) -> None:  # waits on a clock of its own, instantly
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("connectors.http.backoff_sleep", sleep)
    monkeypatch.setattr("connectors.outbound.time.monotonic", lambda: clock[0])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.post(f"{BASE}/v1/auth", json=fixture("auth_token.json"))
        mocked.get(f"{BASE}/v1/company/employees/attributes", status=503, json={})
        response = staff.get(reverse("connections:settings", args=[connection.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Personio did not answer in time. Type the attribute" in page
    assert "next sync" not in page.split("could not list the attributes", 1)[1][:200]
    # Within the page's few seconds, never the whole Test connection allowance.
    assert sum(waits) <= 5
