"""An employee file sent as CSV: accepted on the employee endpoint, read with
the CSV file connector's reader and the connection's CSV columns, and
processed as the XML employee file is."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from connections.models import InboundFile
from connectors.xml_upload.connector import XmlUploadConnector
from connectors.xml_upload.csv_upload import csv_employee_file_read, default_csv_columns
from connectors.xml_upload.forms import XmlUploadConfigForm
from connectors.xml_upload.parsing import UploadRejected, employee_file_read
from hrsync.people.models import Person
from tests.connections.api.conftest import basic
from tests.connections.api.conftest import media_root, xml_upload_kind  # noqa: F401 - fixtures

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "xml_upload"
EMPLOYEES_CSV = (FIXTURES / "employees_valid.csv").read_bytes()
EMPLOYEE_URL = "/api/v2/hrdatasync/employee"
POSITION_URL = "/api/v2/hrdatasync/position"
Status = InboundFile.Status


@pytest.fixture
def uploads(db, xml_upload_kind):  # noqa: F811
    from connections.services import connection_create

    connection = connection_create(kind="xml_upload", name="Acme uploads", config={})
    return connection, basic(connection.issued_api_key)


def post_csv(client, auth: str, body: bytes, url: str = EMPLOYEE_URL):
    return client.generic(
        "POST", url, body, content_type="text/csv; charset=utf-8",
        HTTP_AUTHORIZATION=auth, CONTENT_LENGTH=str(len(body)),
    )


def fixture_copy(tmp_path, name: str) -> Path:
    path = tmp_path / name
    shutil.copy(FIXTURES / name, path)
    return path


# -- through the API ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_csv_employee_file_is_accepted_processed_and_creates_its_people_keeping_leading_zeros(client, uploads):
    connection, auth = uploads

    answer = post_csv(client, auth, EMPLOYEES_CSV)

    assert answer.status_code == 202, answer.content
    upload = InboundFile.objects.get(pk=answer.json()["upload_id"])
    assert upload.content_type == "text/csv" and upload.content.name.endswith(".csv")
    assert upload.status == Status.COMPLETE, (upload.error, upload.results)
    people = {p.employee_reference: p for p in Person.objects.filter(managed_by=connection)}
    assert set(people) == {"00042", "42", "007", "A-1"}
    assert (people["00042"].first_name, people["00042"].email) == ("Ada", "ada.lovelace@example.com")
    assert str(people["00042"].hire_date) == "2019-04-01"
    assert people["A-1"].last_name == "O'Brien & Söhne"
    assert all(person.status == Person.Status.ACTIVE for person in people.values())


@pytest.mark.django_db(transaction=True)
def test_a_multipart_file_named_csv_is_stored_and_processed_as_csv(client, uploads):
    connection, auth = uploads
    upload = SimpleUploadedFile("staff.CSV", EMPLOYEES_CSV, content_type="application/octet-stream")

    answer = client.post(EMPLOYEE_URL, {"file": upload}, HTTP_AUTHORIZATION=auth)

    assert answer.status_code == 202, answer.content
    stored = InboundFile.objects.get(pk=answer.json()["upload_id"])
    assert (stored.content_type, stored.original_name, stored.status) == ("text/csv", "staff.CSV", Status.COMPLETE)
    assert Person.objects.filter(managed_by=connection, employee_reference="00042").exists()


@pytest.mark.django_db(transaction=True)
def test_a_csv_without_an_employee_id_column_is_an_error_naming_the_column_and_changes_nothing(client, uploads):
    connection, auth = uploads

    answer = post_csv(client, auth, (FIXTURES / "employees_no_employee_id.csv").read_bytes())

    upload = InboundFile.objects.get(pk=answer.json()["upload_id"])
    assert upload.status == Status.ERROR
    assert "employee_id" in upload.error
    assert upload.results[0]["line"] == 1 and "no employee_id column" in upload.results[0]["message"]
    assert not Person.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_csv_that_is_not_utf8_is_an_error_on_its_line(client, uploads):
    connection, auth = uploads

    answer = post_csv(client, auth, (FIXTURES / "employees_latin1.csv").read_bytes())

    upload = InboundFile.objects.get(pk=answer.json()["upload_id"])
    assert upload.status == Status.ERROR
    assert upload.results == [
        {
            "line": 3,
            "employee_id": "",
            "message": 'Line 3 is not valid UTF-8. Save the file as CSV UTF-8 (in Excel: "CSV UTF-8 (Comma '
            'delimited)") and upload it again.',
        }
    ]
    assert not Person.objects.exists()


@pytest.mark.django_db
def test_the_position_endpoint_refuses_csv_with_415_saying_why(client, uploads):
    connection, auth = uploads

    raw = post_csv(client, auth, b"position_title,position_id\nCEO,P1\n", url=POSITION_URL)
    part = client.post(
        POSITION_URL,
        {"file": SimpleUploadedFile("positions.csv", b"position_title,position_id\n", content_type="text/csv")},
        HTTP_AUTHORIZATION=auth,
    )

    for response in (raw, part):
        assert response.status_code == 415
        assert "only an employee file can be sent as CSV" in response.json()["error"]
    assert not InboundFile.objects.exists()


@pytest.mark.django_db
def test_another_type_on_the_employee_endpoint_is_415_naming_xml_and_csv(client, uploads):
    connection, auth = uploads

    response = client.generic(
        "POST", EMPLOYEE_URL, b"{}", content_type="application/json", HTTP_AUTHORIZATION=auth, CONTENT_LENGTH="2"
    )

    assert response.status_code == 415
    assert "application/xml" in response.json()["error"] and "text/csv" in response.json()["error"]


# -- reading ------------------------------------------------------------------------


@pytest.mark.parametrize("location_element", ["department", "country"])
def test_a_csv_named_as_the_xml_elements_reads_as_the_xml_file_does(tmp_path, location_element):
    from_csv = csv_employee_file_read(
        fixture_copy(tmp_path, "employees_valid.csv"), columns={}, location_element=location_element
    )
    from_xml = employee_file_read(FIXTURES / "employees_valid.xml", location_element=location_element)

    def shape(record):
        return (
            record.remote_id, record.employee_reference, record.first_name, record.last_name, record.email,
            record.hire_date, record.location_id, record.status,
            {key: value for key, value in record.custom.items() if value}, record.problems,
        )

    assert [shape(r) for r in from_csv] == [shape(r) for r in from_xml]
    assert [r.source_position for r in from_csv] == ["line 2", "line 3", "line 4", "line 5"]


def test_the_default_columns_follow_the_location_element():
    assert default_csv_columns(location_element="department") == {
        "forename": "first_name", "surname": "last_name", "employee_id": "employee_reference",
        "employee_type": "custom.employee_type", "department": "location", "start_date": "hire_date",
        "country": "custom.country", "email": "email",
    }
    assert default_csv_columns(location_element="country")["country"] == "location"
    assert "department" not in default_csv_columns(location_element="country")


def test_own_headers_are_read_through_the_csv_columns_setting_and_its_separator(tmp_path):
    columns = {
        "Staff No": "employee_reference", "First Name": "first_name", "Last Name": "last_name",
        "Team": "location", "Started": "hire_date",
    }

    records = csv_employee_file_read(fixture_copy(tmp_path, "employees_own_headers.csv"), columns=columns, delimiter=";")

    assert [(r.remote_id, r.first_name, r.location_id, str(r.hire_date)) for r in records] == [
        ("00042", "Ada", "Engineering", "2019-04-01"),
        ("0007", "Grace", "Research", "None"),
    ]


def test_a_detected_separator_reads_a_semicolon_file(tmp_path):
    columns = {"Staff No": "employee_reference", "First Name": "first_name"}

    records = csv_employee_file_read(fixture_copy(tmp_path, "employees_own_headers.csv"), columns=columns, delimiter="auto")

    assert [r.remote_id for r in records] == ["00042", "0007"]


def test_the_wrong_separator_is_refused_naming_the_right_one(tmp_path):
    with pytest.raises(UploadRejected) as refused:
        csv_employee_file_read(fixture_copy(tmp_path, "employees_own_headers.csv"), columns={}, delimiter=",")

    assert "is the separator ';'?" in refused.value.message
    assert refused.value.problems[0].line is None


def test_a_row_without_an_id_is_that_rows_error_not_the_files(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_bytes(b"forename,surname,employee_id\nAda,Lovelace,00042\nAlan,Turing,\n")

    records = csv_employee_file_read(path, columns={})

    assert records[0].problems == []
    assert records[1].problems == ["The record has no id: its employee_id is empty."]


def test_a_header_without_rows_is_refused(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_bytes(b"forename,surname,employee_id\n")

    with pytest.raises(UploadRejected, match="no employees"):
        csv_employee_file_read(path, columns={})


def test_a_mapped_header_the_file_lacks_is_refused_on_the_header_line(tmp_path):
    columns = {"Staff No": "employee_reference", "Grade": "custom.grade"}

    with pytest.raises(UploadRejected) as refused:
        csv_employee_file_read(fixture_copy(tmp_path, "employees_own_headers.csv"), columns=columns, delimiter=";")

    assert refused.value.problems[0].line == 1
    assert "no column 'Grade'" in refused.value.message


def test_the_connector_reads_a_stored_csv_with_its_own_columns_and_separator(tmp_path):
    connector = XmlUploadConnector(
        config={"csv_columns": {"Staff No": "employee_reference", "Team": "location"}, "csv_delimiter": ";"},
        secrets={},
    )
    stored = SimpleNamespace(
        kind="employee", content_type="text/csv",
        content=SimpleNamespace(path=str(fixture_copy(tmp_path, "employees_own_headers.csv"))),
    )

    records = list(connector.parse_upload(stored))

    assert [(r.remote_id, r.location_id, r.status) for r in records] == [
        ("00042", "Engineering", "active"), ("0007", "Research", "active"),
    ]


def test_the_connector_refuses_a_position_file_stored_as_csv(tmp_path):
    stored = SimpleNamespace(
        kind="position", content_type="text/csv",
        content=SimpleNamespace(path=str(fixture_copy(tmp_path, "employees_valid.csv"))),
    )

    with pytest.raises(UploadRejected, match="A position file is XML"):
        list(XmlUploadConnector(config={}, secrets={}).parse_upload(stored))


# -- the settings -------------------------------------------------------------------


def test_the_csv_settings_default_to_the_xml_names_and_a_comma():
    form = XmlUploadConfigForm(data={})

    assert form.is_valid(), form.errors
    assert (form.cleaned_data["csv_columns"], form.cleaned_data["csv_delimiter"]) == ({}, ",")


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ('{"First Name": "first_name"}', "Map the column holding the employee id to employee_reference"),
        ('{"Staff No": "employee_reference", "Boss": "manager"}', "job titles and managers come from the position file"),
        ('["Staff No"]', "must be a JSON object"),
    ],
)
def test_csv_columns_that_cannot_work_are_refused_on_the_form(columns, message):
    form = XmlUploadConfigForm(data={"csv_columns": columns})

    assert not form.is_valid()
    assert message in " ".join(form.errors["csv_columns"])
