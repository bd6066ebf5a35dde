"""The pages of an XML upload connection: the API key shown once, the Uploads
tab (upload by hand, the processed file, the error file, Cancel), the
Overview's endpoint and curl card, and Regenerate key on Settings."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from connections.api.auth import connection_for_api_key
from connections.models import Connection, InboundFile, SyncRun
from connections.services import connection_create
from connectors import registry
from hrsync.people.models import Person
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

Status = InboundFile.Status
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xml_upload"
XML_UPLOAD = ("XML upload (REST API)", "connectors.xml_upload.connector.XmlUploadConnector")
COPY_NOW = "Copy it now: hrsync keeps only a fingerprint of it"


def page_text(response) -> str:
    html = response.content.decode()
    body = html[html.index("<main"):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.fixture(autouse=True)
def xml_upload_kind(monkeypatch, settings, tmp_path):
    monkeypatch.setitem(registry.CONNECTORS, "xml_upload", XML_UPLOAD)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.HRSYNC_BASE_URL = "https://hr.example.com"


@pytest.fixture
def uploads():
    """An XML upload connection; its key is ``uploads.issued_api_key``."""
    return connection_create(kind="xml_upload", name="Acme uploads")


def stored(connection, *, status=Status.COMPLETE, kind="employee", text=b"<employees/>", **fields) -> InboundFile:
    upload = InboundFile(
        connection=connection, kind=kind, status=status, sha256="0" * 64, size=len(text),
        content_type="application/xml", original_name=fields.pop("original_name", "employees.xml"),
        received_from=fields.pop("received_from", "API (203.0.113.7)"), **fields,
    )
    upload.content.save("employees.xml", ContentFile(text), save=False)
    upload.save()
    return upload


def upload_url(name: str, upload: InboundFile) -> str:
    return reverse(f"connections:{name}", args=[upload.connection_id, upload.pk])


# -- the tab ---------------------------------------------------------------------------


def test_only_a_connection_that_receives_files_has_the_uploads_tab(staff, uploads, monkeypatch):
    monkeypatch.setitem(registry.CONNECTORS, "static", ("Static", "tests.connections.static_connector.StaticConnector"))
    other = ConnectionFactory(name="Static HR")

    page = staff.get(reverse("connections:overview", args=[uploads.pk]))
    tabs = [label for _slug, label, _url in page.context["tabs"]]
    assert tabs == ["Overview", "Employees", "Depots", "Runs", "Uploads", "Settings"]
    assert "Uploads" not in [t[1] for t in staff.get(reverse("connections:overview", args=[other.pk])).context["tabs"]]
    assert staff.get(reverse("connections:uploads", args=[other.pk])).status_code == 404
    assert staff.get(reverse("connections:uploads", args=[uploads.pk])).status_code == 200


def test_the_tab_lists_the_last_30_days_of_uploads_with_their_status_in_words(staff, uploads):
    run = SyncRun.objects.create(connection=uploads, status=SyncRun.Status.BLOCKED, trigger=SyncRun.Trigger.UPLOAD)
    complete = stored(uploads, counts={"created": 3, "updated": 1, "unchanged": 0})
    stored(uploads, status=Status.SKIPPED)
    blocked = stored(uploads, status=Status.BLOCKED, run=run)
    stored(uploads, status=Status.COMPLETE_WITH_ERRORS, results=[{"line": 4, "employee_id": "7", "message": "x"}])
    stored(uploads, status=Status.SCHEDULED, kind="position", original_name="positions.xml")
    old = stored(uploads, original_name="ancient.xml")
    InboundFile.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=31))

    response = staff.get(reverse("connections:uploads", args=[uploads.pk]))

    text = page_text(response)
    assert response.status_code == 200
    assert len(response.context["rows"]) == 5
    assert "ancient.xml" not in text
    words = [row["status_word"] for row in response.context["rows"]]
    assert words == ["Scheduled", "Complete with errors", "Blocked", "Skipped", "Complete"]
    assert "Identical to the last file processed" in text
    assert "Waiting for an admin" in text
    assert f'href="{reverse("connections:run", args=[uploads.pk, run.pk])}"' in response.content.decode()
    assert f"Upload #{complete.pk} employees.xml" in text
    assert "3 created · 1 updated" in text
    assert "1 problem" in text
    assert "Position file" in text and "API (203.0.113.7)" in text
    # Only files still waiting can be cancelled.
    assert response.content.decode().count("/cancel/") == 1
    assert blocked.pk in [row["upload"].pk for row in response.context["rows"]]


def test_the_tab_pages_its_uploads_50_at_a_time(staff, uploads):
    for _ in range(51):
        stored(uploads)

    first = staff.get(reverse("connections:uploads", args=[uploads.pk]))
    second = staff.get(reverse("connections:uploads", args=[uploads.pk]), {"page": 2})

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 1
    assert "1–50 of 51 uploads" in page_text(first)


# -- upload by hand ---------------------------------------------------------------------


def post_file(staff, connection, name: str, *, kind="employee", dry_run=False, content_type="application/xml",
              data: bytes | None = None, capture=None):
    body = data if data is not None else (FIXTURES / name).read_bytes()
    upload = io.BytesIO(body)
    upload.name = name
    form = {"file": upload, "kind": kind}
    if dry_run:
        form["dry_run"] = "on"
    with capture(execute=True):
        return staff.post(reverse("connections:upload_new", args=[connection.pk]), form)


def test_a_file_uploaded_by_hand_is_stored_and_processed_into_people(
    staff, uploads, django_capture_on_commit_callbacks
):
    response = post_file(staff, uploads, "employees_valid.xml", capture=django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response.url == reverse("connections:uploads", args=[uploads.pk])
    upload = InboundFile.objects.get()
    assert (upload.received_from, upload.uploaded_by_id, upload.dry_run) == ("web upload", staff.user.pk, False)
    assert upload.original_name == "employees_valid.xml"
    assert upload.status in (Status.COMPLETE, Status.COMPLETE_WITH_ERRORS)
    assert upload.run.trigger == SyncRun.Trigger.UPLOAD
    # Leading zeros survive: "00042" and "42" are two people.
    assert {"00042", "42"} <= set(uploads.employee_mappings.values_list("remote_id", flat=True))
    assert Person.objects.filter(managed_by=uploads).exists()
    page = staff.get(response.url)
    assert f"Upload #{upload.pk} received" in page_text(page)


def test_a_dry_run_upload_by_hand_changes_nobody(staff, uploads, django_capture_on_commit_callbacks):
    post_file(staff, uploads, "employees_valid.xml", dry_run=True, capture=django_capture_on_commit_callbacks)

    upload = InboundFile.objects.get()
    assert upload.dry_run is True
    assert upload.run.dry_run is True
    assert upload.status == Status.COMPLETE
    assert not Person.objects.exists()


def test_a_schema_invalid_file_uploaded_by_hand_ends_as_error_with_its_lines(
    staff, uploads, django_capture_on_commit_callbacks
):
    post_file(staff, uploads, "employees_missing_surname.xml", capture=django_capture_on_commit_callbacks)

    upload = InboundFile.objects.get()
    assert upload.status == Status.ERROR
    assert upload.results and all(result["line"] for result in upload.results)
    assert not Person.objects.exists()
    page = staff.get(reverse("connections:uploads", args=[uploads.pk]))
    assert "Refused as a whole" in page_text(page)
    assert upload_url("upload_errors", upload) in page.content.decode()


def test_a_file_that_is_not_xml_is_refused_on_the_form_and_nothing_is_stored(
    staff, uploads, django_capture_on_commit_callbacks
):
    response = post_file(
        staff, uploads, "staff.xml", data=b"id,name\n1,Ada\n", content_type="text/plain",
        capture=django_capture_on_commit_callbacks,
    )

    assert response.status_code == 400
    assert "The file is not XML" in page_text(response)
    assert not InboundFile.objects.exists()


def test_an_upload_by_hand_needs_a_file(staff, uploads):
    response = staff.post(reverse("connections:upload_new", args=[uploads.pk]), {"kind": "employee"})

    assert response.status_code == 400
    assert response.context["form"].errors["file"]
    assert not InboundFile.objects.exists()


# -- the processed file and the error file ----------------------------------------------


def test_the_processed_file_downloads_as_an_attachment_while_it_is_kept(staff, uploads):
    upload = stored(uploads, text=b"<employees><employee/></employees>")

    response = staff.get(upload_url("upload_file", upload))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"<employees><employee/></employees>"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="employees.xml"' in response["Content-Disposition"]
    upload.content.delete(save=False)
    InboundFile.objects.filter(pk=upload.pk).update(content="", purged_at=timezone.now())
    assert staff.get(upload_url("upload_file", upload)).status_code == 404
    assert "File removed" in page_text(staff.get(reverse("connections:uploads", args=[uploads.pk])))


def test_an_upload_of_another_connection_is_not_found(staff, uploads):
    other = connection_create(kind="xml_upload", name="Other uploads")
    upload = stored(other)

    url = reverse("connections:upload_file", args=[uploads.pk, upload.pk])
    assert staff.get(url).status_code == 404


def test_the_error_file_lists_line_employee_id_and_message_safe_for_a_spreadsheet(staff, uploads):
    upload = stored(uploads, status=Status.COMPLETE_WITH_ERRORS, results=[
        {"line": 12, "employee_id": "00042", "message": "The email is not an email address."},
        {"line": None, "employee_id": "", "message": "=HYPERLINK(\"http://evil\")"},
    ])

    response = staff.get(upload_url("upload_errors", upload))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="hrsync-upload-{upload.pk}-errors.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["line", "employee_id", "message"],
        ["12", "00042", "The email is not an email address."],
        ["", "", "'=HYPERLINK(\"http://evil\")"],
    ]


# -- cancel ------------------------------------------------------------------------------


def test_cancel_asks_first_then_cancels_a_waiting_file(staff, uploads):
    upload = stored(uploads, status=Status.SCHEDULED)

    asked = staff.post(upload_url("upload_cancel", upload))
    assert asked.status_code == 200
    assert f"Cancel Upload #{upload.pk}?" in page_text(asked)
    upload.refresh_from_db()
    assert upload.status == Status.SCHEDULED

    done = staff.post(upload_url("upload_cancel", upload), {"confirm": "yes"})
    assert done.status_code == 302
    upload.refresh_from_db()
    assert upload.status == Status.CANCELLED
    assert "was cancelled" in page_text(staff.get(done.url))


def test_a_file_already_processed_cannot_be_cancelled(staff, uploads):
    upload = stored(uploads, status=Status.COMPLETE)

    response = staff.post(upload_url("upload_cancel", upload), {"confirm": "yes"}, follow=True)

    upload.refresh_from_db()
    assert upload.status == Status.COMPLETE
    assert "there is nothing to cancel" in page_text(response)


# -- the Overview's card -----------------------------------------------------------------


def test_the_overview_shows_the_endpoints_and_a_curl_with_a_placeholder_never_the_key(staff, uploads):
    key = uploads.issued_api_key

    response = staff.get(reverse("connections:overview", args=[uploads.pk]))

    html = response.content.decode()
    assert "https://hr.example.com/api/v2/hrdatasync/employee" in html
    assert "https://hr.example.com/api/v2/hrdatasync/position" in html
    assert (
        'curl -u api-key:YOUR_API_KEY -H &quot;Content-Type: application/xml&quot; --data-binary @employees.xml '
        "https://hr.example.com/api/v2/hrdatasync/employee"
    ) in html
    assert 'data-copy="curl-employee"' in html and "js/copy.js" in html
    assert key and key not in html


def test_the_overview_of_another_kind_has_no_endpoint_card(staff, monkeypatch):
    monkeypatch.setitem(registry.CONNECTORS, "static", ("Static", "tests.connections.static_connector.StaticConnector"))
    other = ConnectionFactory(name="Static HR")

    html = staff.get(reverse("connections:overview", args=[other.pk])).content.decode()

    assert "api/v2/hrdatasync" not in html and "copy.js" not in html


# -- the key, shown once -------------------------------------------------------------------


def test_a_new_xml_upload_connection_shows_its_key_once_then_never_again(staff):
    response = staff.post(reverse("connections:new") + "?kind=xml_upload", {"name": "Acme uploads"})

    connection = Connection.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("connections:api_key", args=[connection.pk])
    shown = staff.get(response.url)
    key = re.search(r'id="api-key-value">([^<]+)<', shown.content.decode()).group(1)
    assert connection_for_api_key(key=key) == connection
    assert COPY_NOW in page_text(shown)
    assert "no-store" in shown["Cache-Control"]
    # Shown: gone from the session, and from every later page.
    assert key not in str(dict(staff.session.items()))
    again = staff.get(response.url)
    assert "cannot be shown again" in page_text(again)
    for name in ("api_key", "overview", "settings", "uploads", "runs", "employees", "depots"):
        assert key not in staff.get(reverse(f"connections:{name}", args=[connection.pk])).content.decode(), name


def test_a_connection_that_receives_no_files_has_no_key_page(staff, monkeypatch):
    monkeypatch.setitem(registry.CONNECTORS, "static", ("Static", "tests.connections.static_connector.StaticConnector"))
    other = ConnectionFactory(name="Static HR")

    assert staff.get(reverse("connections:api_key", args=[other.pk])).status_code == 404
    assert staff.post(reverse("connections:api_key_regenerate", args=[other.pk]), {"confirm": "yes"}).status_code == 404
    assert "Regenerate key" not in staff.get(reverse("connections:settings", args=[other.pk])).content.decode()


# -- Regenerate key ------------------------------------------------------------------------


def test_regenerate_key_asks_first_and_keeps_the_old_key_until_confirmed(staff, uploads):
    old = uploads.issued_api_key
    settings_page = staff.get(reverse("connections:settings", args=[uploads.pk]))
    assert "Regenerate key" in page_text(settings_page)

    asked = staff.post(reverse("connections:api_key_regenerate", args=[uploads.pk]))

    assert asked.status_code == 200
    assert "The old key stops working at once" in page_text(asked)
    assert connection_for_api_key(key=old) == uploads


def test_regenerate_key_shows_the_new_key_once_and_the_old_one_stops_working(staff, uploads):
    old = uploads.issued_api_key

    response = staff.post(reverse("connections:api_key_regenerate", args=[uploads.pk]), {"confirm": "yes"})

    assert response.status_code == 302
    assert response.url == reverse("connections:api_key", args=[uploads.pk])
    shown = staff.get(response.url)
    new = re.search(r'id="api-key-value">([^<]+)<', shown.content.decode()).group(1)
    assert new != old
    assert connection_for_api_key(key=old) is None
    assert connection_for_api_key(key=new) == uploads
    assert "The old key no longer works" in page_text(shown)
    assert new not in staff.get(response.url).content.decode()



def test_an_uploads_counts_read_as_words_one_error_and_many():
    from connections.views.uploads import _counts_text

    assert _counts_text({"created": 3, "errors": 1, "unchanged": 0}) == "3 created · 1 error"
    assert _counts_text({"updated": 1, "conflicts": 2}) == "1 updated · 2 conflicts"
    assert _counts_text({"unchanged": 7}) == "7 unchanged"
