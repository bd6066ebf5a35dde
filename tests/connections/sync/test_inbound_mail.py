"""The contacts of an upload connection are emailed about each real file that
fails, is blocked or is partly processed: never about the others, never
with a key, and never at the cost of the file's outcome."""

from __future__ import annotations

import io
import smtplib
from pathlib import Path

import pytest

from connections.inbound import inbound_file_receive
from connections.models import InboundFile
from connections.runs import sync_run_approve
from connections.services import connection_create
from connections.sync.inbound import inbound_file_process
from connections.sync.runner import sync_run_execute
from tests.connections.upload_source import employee_file, upload_source  # noqa: F401 - a fixture
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

Status = InboundFile.Status
CONTACTS = ("hr@acme.example", "it@acme.example")
BASE_URL = "https://hrsync.acme.example"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "xml_upload"


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.HRSYNC_BASE_URL = BASE_URL


@pytest.fixture
def connection(upload_source, monkeypatch):  # noqa: F811
    """An upload connection whose connector names two contacts."""
    monkeypatch.setattr(upload_source, "upload_contacts", property(lambda self: CONTACTS), raising=False)
    return ConnectionFactory(name="Uploads HR")


@pytest.fixture
def process(django_capture_on_commit_callbacks):
    """Store and process a file, running what waits for the commit (the emails)."""

    def run(connection, text: str | bytes, *, kind: str = "employee", dry_run: bool = False) -> InboundFile:
        data = text.encode() if isinstance(text, str) else text
        with django_capture_on_commit_callbacks(execute=True):
            stored = inbound_file_receive(
                connection=connection,
                kind=kind,
                stream=io.BytesIO(data),
                content_type="application/xml" if data.startswith(b"<") else "text/plain",
                max_bytes=1_000_000,
                original_name=f"{kind}s.txt",
                received_from="test",
                dry_run=dry_run,
                dispatch=False,
            )
            done = inbound_file_process(inbound_file_id=stored.pk)
        return done

    return run


def ids(count: int) -> list[str]:
    return [f"E{n:03}" for n in range(count)]


def uploads_link(connection) -> str:
    return f"{BASE_URL}/connections/{connection.pk}/uploads/"


def test_a_rejected_file_emails_its_contacts_once_with_its_lines_and_the_uploads_link(
    connection, process, mailoutbox
):
    refused = process(connection, employee_file("C") + "REJECT Element 'surname': missing.\n")

    assert refused.status == Status.ERROR
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == list(CONTACTS)
    assert mail.subject == f"hrsync: employee file #{refused.pk} for Uploads HR failed"
    assert refused.error in mail.body
    assert "- Line 2, no employee id: Element 'surname': missing." in mail.body
    assert "Nothing was changed. Fix the problems listed above in the file and upload it again." in mail.body
    assert uploads_link(connection) in mail.body
    # The file's contents beyond its problem lines stay out of the email.
    assert "FirstC" not in mail.body and "c@example.com" not in mail.body


def test_a_blocked_file_emails_what_it_would_change_and_how_to_approve_or_reject_its_run(
    connection, process, mailoutbox, django_capture_on_commit_callbacks
):
    process(connection, employee_file(*ids(10)))
    blocked = process(connection, employee_file(*ids(2)))

    assert blocked.status == Status.BLOCKED
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject == f"hrsync: employee file #{blocked.pk} for Uploads HR was blocked"
    assert "would deactivate 8 of 10" in mail.body
    assert "What the run would change: 8 deactivated" in mail.body
    assert f"Review Sync #{blocked.run_id} on the Runs tab and approve it" in mail.body
    assert f"{BASE_URL}/connections/{connection.pk}/runs/{blocked.run_id}/" in mail.body
    assert uploads_link(connection) in mail.body

    # Approved, it completes: nothing more to tell.
    with django_capture_on_commit_callbacks(execute=True):
        run = sync_run_approve(run=blocked.run, enqueue=False)
        sync_run_execute(run_id=run.pk)
    blocked.refresh_from_db()
    assert blocked.status == Status.COMPLETE
    assert len(mailoutbox) == 1


def test_a_partly_processed_file_emails_each_problem_with_its_line_and_employee_id(connection, process, mailoutbox):
    done = process(connection, employee_file("A") + "B,FirstB,LastB,not-an-email\n")

    assert done.status == Status.COMPLETE_WITH_ERRORS
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject == f"hrsync: employee file #{done.pk} for Uploads HR was processed with errors"
    assert "The file was synced, except 1 record with problems" in mail.body
    assert "Counts: 1 created, 1 with errors" in mail.body
    problem_lines = [line for line in mail.body.splitlines() if line.startswith("- Line 2, employee B: ")]
    assert len(problem_lines) == 1 and "not-an-email" in problem_lines[0]
    assert uploads_link(connection) in mail.body


def test_only_the_first_20_problems_are_listed_and_the_rest_are_counted(connection, process, mailoutbox):
    bad = "".join(f"X{n:02},First,Last,not-an-email-{n:02}\n" for n in range(25))
    done = process(connection, employee_file("A") + bad)

    assert len(done.results) == 25
    body = mailoutbox[0].body
    assert "The first 20 of 25 problems" in body
    assert "employee X19:" in body and "employee X20:" not in body
    assert "...and 5 more: the error file on the Uploads tab lists them all." in body


def test_complete_and_skipped_files_email_nobody(connection, process, mailoutbox):
    first = process(connection, employee_file("A", "B"))
    again = process(connection, employee_file("A", "B"))

    assert (first.status, again.status) == (Status.COMPLETE, Status.SKIPPED)
    assert mailoutbox == []


def test_a_dry_run_emails_nobody_even_when_it_fails(connection, process, mailoutbox):
    refused = process(connection, "REJECT Element 'surname': missing.\n", dry_run=True)
    partly = process(connection, "B,FirstB,LastB,not-an-email\n", dry_run=True)

    assert (refused.status, partly.status) == (Status.ERROR, Status.COMPLETE_WITH_ERRORS)
    assert mailoutbox == []


def test_a_connector_without_contacts_emails_nobody(upload_source, process, mailoutbox):  # noqa: F811
    connection = ConnectionFactory(name="Uploads HR")

    refused = process(connection, "REJECT Element 'surname': missing.\n")

    assert refused.status == Status.ERROR
    assert mailoutbox == []


def test_a_file_of_a_disabled_connection_is_an_error_its_contacts_hear_of(connection, process, mailoutbox):
    connection.enabled = False
    connection.save(update_fields=["enabled"])

    refused = process(connection, employee_file("A"))

    assert refused.status == Status.ERROR
    assert len(mailoutbox) == 1
    assert "is disabled" in mailoutbox[0].body
    assert "Once the cause above is dealt with, upload the file again." in mailoutbox[0].body


def test_a_mail_server_that_fails_leaves_the_file_as_it_ended_and_is_logged(
    connection, process, mailoutbox, monkeypatch, caplog
):
    def refuse(**kwargs):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr("connections.sync.inbound.send_mail", refuse)

    refused = process(connection, "REJECT Element 'surname': missing.\n")

    refused.refresh_from_db()
    assert refused.status == Status.ERROR
    assert refused.results[0]["message"] == "Element 'surname': missing."
    assert mailoutbox == []
    assert f"The contacts of Upload #{refused.pk} could not be emailed" in caplog.text


def test_an_xml_upload_connection_emails_its_contacts_setting_without_its_api_key(process, mailoutbox):
    connection = connection_create(
        kind="xml_upload", name="Acme uploads", config={"contacts": "hr@acme.example, it@acme.example"}
    )
    key = connection.issued_api_key
    assert key

    refused = process(connection, (FIXTURES / "employees_missing_surname.xml").read_bytes())

    assert refused.status == Status.ERROR
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["hr@acme.example", "it@acme.example"]
    assert mail.subject == f"hrsync: employee file #{refused.pk} for Acme uploads failed"
    assert "- Line 8, employee 00043: " in mail.body and "has no <surname>" in mail.body
    assert uploads_link(connection) in mail.body
    assert key not in mail.body and key not in mail.subject
    # The valid records' data stays out of it.
    assert "Lovelace" not in mail.body
