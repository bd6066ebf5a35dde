"""The XML upload connector: its settings, its check, and how a stored file
becomes records (the parsing itself is tested in test_parsing.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from connections.models import Connection
from connections.services import connection_connector, connection_create
from connectors import registry
from connectors.base import ConnectorError, Uploadable
from connectors.xml_upload.connector import XmlUploadConnector
from connectors.xml_upload.forms import XmlUploadConfigForm
from connectors.xml_upload.settings import XmlUploadSettings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "xml_upload"


@pytest.fixture
def xml_upload_kind(monkeypatch):
    monkeypatch.setitem(
        registry.CONNECTORS, "xml_upload", ("XML upload (REST API)", "connectors.xml_upload.connector.XmlUploadConnector")
    )


def connector(**config) -> XmlUploadConnector:
    return XmlUploadConnector(config=config, secrets={})


def stored_file(tmp_path, fixture: str, *, kind: str) -> SimpleNamespace:
    """An InboundFile's stand-in: the connector reads only its kind and its content's path."""
    path = tmp_path / fixture
    shutil.copy(FIXTURES / fixture, path)
    return SimpleNamespace(kind=kind, content=SimpleNamespace(path=str(path)))


# -- settings ----------------------------------------------------------------------


def test_the_settings_default_to_department_no_contacts_and_50_mb():
    assert connector().settings == XmlUploadSettings(location_element="department", contacts=(), max_upload_mb=50)
    assert connector().max_upload_bytes == 50 * 1024 * 1024


def test_the_form_normalises_the_contacts_and_keeps_each_address_once():
    form = XmlUploadConfigForm(data={"contacts": " it@example.com;hr@example.com , IT@example.com ,", "max_upload_mb": ""})

    assert form.is_valid(), form.errors
    assert form.cleaned_data == {
        "location_element": "department", "contacts": "it@example.com, hr@example.com", "max_upload_mb": 50,
        "csv_columns": {}, "csv_delimiter": ",",
    }
    assert connector(**form.cleaned_data).settings.contacts == ("it@example.com", "hr@example.com")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"contacts": "it@example.com, not an address"}, "contacts", "'not an address' is not an email address"),
        ({"max_upload_mb": "0"}, "max_upload_mb", "greater than or equal to 1"),
        ({"max_upload_mb": "201"}, "max_upload_mb", "less than or equal to 200"),
        ({"location_element": "job_title"}, "location_element", "Select a valid choice"),
    ],
)
def test_the_form_refuses_what_cannot_work(data, field, message):
    form = XmlUploadConfigForm(data=data)

    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


@pytest.mark.parametrize(
    ("config", "message"),
    [({"max_upload_mb": 500}, "largest file"), ({"location_element": "shoe_size"}, "location element"), ({"contacts": "nobody"}, "contacts")],
)
def test_a_stored_setting_that_is_no_longer_valid_is_a_permanent_error_naming_it(config, message):
    with pytest.raises(ConnectorError, match=message) as caught:
        connector(**config).settings
    assert caught.value.permanent


def test_a_new_connection_starts_with_a_75_percent_safeguard_unless_told_otherwise(db, xml_upload_kind):
    plain = connection_create(kind="xml_upload", name="Uploads")
    told = connection_create(kind="xml_upload", name="Strict uploads", options={"safeguard_percent": 30})
    other = connection_create(
        kind="actionhrm", name="Acme HR", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )

    assert [c.safeguard_percent for c in Connection.objects.order_by("pk")] == [75, 30, 20]
    assert [plain.safeguard_percent, told.safeguard_percent, other.safeguard_percent] == [75, 30, 20]


def test_a_connection_is_created_with_the_settings_typed_by_the_cli_and_form(db, xml_upload_kind):
    connection = connection_create(
        kind="xml_upload", name="Uploads", config={"location_element": "country", "contacts": "it@example.com", "max_upload_mb": "5"}
    )

    settings = connection_connector(connection=connection).settings
    assert (settings.location_element, settings.contacts, settings.max_upload_mb) == ("country", ("it@example.com",), 5)
    with pytest.raises(ValidationError, match="max_upload_mb"):
        connection_create(kind="xml_upload", name="Too big", config={"max_upload_mb": "1000"})


# -- what it does ---------------------------------------------------------------------------


def test_the_check_says_where_files_are_received_without_contacting_anything(settings):
    settings.HRSYNC_BASE_URL = "https://hrsync.example.com"

    check = connector().check()

    assert check.ok
    assert check.message == "Ready to receive files at https://hrsync.example.com/api/v2/hrdatasync/employee"


def test_a_pull_of_employees_says_that_files_arrive_by_upload():
    with pytest.raises(ConnectorError, match="uploaded to .*/api/v2/hrdatasync/employee"):
        list(connector().fetch_employees())


def test_it_takes_employee_and_position_files_by_upload():
    assert isinstance(connector(), Uploadable)
    assert XmlUploadConnector.upload_kinds == ("employee", "position")
    assert XmlUploadConnector.inbound == frozenset({"upload"})
    # Titles and managers are the position file's: an employee file never blanks them.
    assert {"job_title", "manager"}.isdisjoint(XmlUploadConnector.provides)


def test_an_employee_file_becomes_its_employees_located_by_the_chosen_element(tmp_path):
    records = list(connector(location_element="country").parse_upload(stored_file(tmp_path, "employees_valid.xml", kind="employee")))

    assert [(r.remote_id, r.first_name, r.location_id, r.status) for r in records] == [
        ("00042", "Ada", "GB", "active"),
        ("42", "Alan", "IE", "active"),
        ("007", "Grace", "", "active"),
        ("A-1", "Zoë", "", "active"),
    ]
    assert set(connector().default_status_map) == {"active"}


def test_a_position_file_becomes_one_record_per_position_with_title_and_manager(tmp_path):
    records = list(connector().parse_upload(stored_file(tmp_path, "positions_valid.xml", kind="position")))

    assert [(r.raw["position_id"], r.remote_id, r.job_title, r.manager_remote_id) for r in records] == [
        ("P010", "00042", "Head of Engineering", "42"),
        ("P001", "42", "Chief Executive", ""),
        ("P020", "", "Engineering Manager", ""),
        # The nearest filled position above: P020 is vacant, so P010's holder.
        ("P030", "007", "Software Engineer", "00042"),
        ("P040", "", "Office Manager", ""),
        ("P041", "A-1", "Receptionist", "42"),
    ]
    assert records[0].source_position.startswith("line ")


def test_a_refused_file_raises_the_parsers_refusal_with_its_problems(tmp_path):
    from connectors.xml_upload.parsing import UploadRejected

    with pytest.raises(UploadRejected) as caught:
        list(connector().parse_upload(stored_file(tmp_path, "positions_cycle.xml", kind="position")))
    assert caught.value.problems
