"""An XML upload connection end to end: the customer's script posts the files
to the API, hrsync stores them, answers 202, processes them (Celery is eager
in the tests) and the directory follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from connections.models import InboundFile, SyncRun
from connections.runs import sync_run_approve
from hrsync.people.models import Person
from tests.connections.api.conftest import basic  # noqa: F401 - its fixtures are used below
from tests.connections.api.conftest import media_root, xml_upload_kind  # noqa: F401

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "xml_upload"
EMPLOYEES = (FIXTURES / "employees_valid.xml").read_bytes()
POSITIONS = (FIXTURES / "positions_valid.xml").read_bytes()

pytestmark = pytest.mark.django_db(transaction=True)
Status = InboundFile.Status


@pytest.fixture
def uploads(xml_upload_kind):  # noqa: F811
    from connections.services import connection_create

    connection = connection_create(kind="xml_upload", name="Acme uploads", config={})
    return connection, basic(connection.issued_api_key)


def post(client, auth: str, body: bytes, kind: str = "employee"):
    return client.generic(
        "POST", f"/api/v2/hrdatasync/{kind}", body, content_type="application/xml",
        HTTP_AUTHORIZATION=auth, CONTENT_LENGTH=str(len(body)),
    )


def employees_file(ids: list[str]) -> bytes:
    rows = "".join(
        f"<employee><forename>F{i}</forename><surname>S{i}</surname><employee_id>{i}</employee_id>"
        f"<email>p{i}@example.com</email></employee>"
        for i in ids
    )
    return f"<?xml version='1.0' encoding='UTF-8'?><employees>{rows}</employees>".encode()


def test_an_uploaded_employee_file_creates_its_people_keeping_leading_zeros(client, uploads):
    connection, auth = uploads

    answer = post(client, auth, EMPLOYEES)

    assert answer.status_code == 202, answer.content
    upload = InboundFile.objects.get(pk=answer.json()["upload_id"])
    assert upload.status == Status.COMPLETE, (upload.error, upload.results)
    people = {p.employee_reference: p for p in Person.objects.filter(managed_by=connection)}
    assert {"00042", "42", "007", "A-1"} <= set(people)
    assert people["00042"].first_name == "Ada" and people["42"].first_name == "Alan"
    status = client.get(answer["Location"], HTTP_AUTHORIZATION=auth).json()
    assert status["status"] == "complete" and status["counts"]["created"] >= 4


def test_the_same_file_again_is_skipped_and_changes_nothing(client, uploads):
    connection, auth = uploads
    post(client, auth, EMPLOYEES)
    before = sorted(Person.objects.values_list("pk", "updated_at"))

    again = InboundFile.objects.get(pk=post(client, auth, EMPLOYEES).json()["upload_id"])

    assert again.status == Status.SKIPPED
    assert sorted(Person.objects.values_list("pk", "updated_at")) == before


def test_a_position_file_sets_job_titles_and_managers_from_the_nearest_filled_parent(client, uploads):
    connection, auth = uploads
    post(client, auth, EMPLOYEES)

    upload = InboundFile.objects.get(pk=post(client, auth, POSITIONS, kind="position").json()["upload_id"])

    assert upload.status in (Status.COMPLETE, Status.COMPLETE_WITH_ERRORS), (upload.error, upload.results)
    people = {p.employee_reference: p for p in Person.objects.select_related("manager")}
    assert people["00042"].job_title == "Head of Engineering" and people["00042"].manager == people["42"]
    # P020 is vacant: the engineer's manager is the holder of P010.
    assert people["007"].job_title == "Software Engineer" and people["007"].manager == people["00042"]
    assert people["42"].manager is None


def test_a_file_dropping_most_people_is_blocked_until_an_admin_approves_it(client, uploads):
    connection, auth = uploads
    ids = [f"{n:05d}" for n in range(1, 21)]
    post(client, auth, employees_file(ids))

    dropped = InboundFile.objects.get(pk=post(client, auth, employees_file(ids[:4])).json()["upload_id"])

    assert dropped.status == Status.BLOCKED
    assert Person.objects.filter(status=Person.Status.ACTIVE).count() == 20
    sync_run_approve(run=SyncRun.objects.get(pk=dropped.run_id))
    dropped.refresh_from_db()
    assert dropped.status == Status.COMPLETE
    assert Person.objects.filter(status=Person.Status.ACTIVE).count() == 4


def test_a_file_that_fails_the_schema_is_an_error_with_line_numbers_and_changes_nothing(client, uploads):
    connection, auth = uploads
    post(client, auth, EMPLOYEES)
    before = sorted(Person.objects.values_list("pk", "updated_at", "status"))

    bad = InboundFile.objects.get(
        pk=post(client, auth, (FIXTURES / "employees_bad_date.xml").read_bytes()).json()["upload_id"]
    )

    assert bad.status == Status.ERROR
    assert bad.results and all(isinstance(result["line"], int) for result in bad.results)
    assert sorted(Person.objects.values_list("pk", "updated_at", "status")) == before


@pytest.mark.parametrize("hostile", ["xxe.xml", "billion_laughs.xml", "external_dtd.xml"])
def test_hostile_xml_is_refused_as_an_error_and_nothing_happens(client, uploads, hostile):
    connection, auth = uploads

    upload = InboundFile.objects.get(pk=post(client, auth, (FIXTURES / hostile).read_bytes()).json()["upload_id"])

    assert upload.status == Status.ERROR and upload.error
    assert not Person.objects.exists()
