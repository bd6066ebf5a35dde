"""The upload a customer's script makes, with curl, against a running server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from connections.models import InboundFile
from connections.services import connection_create
from tests.conftest import need_service

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "xml_upload" / "employees_valid.xml"


@pytest.fixture
def curl():
    path = shutil.which("curl")
    need_service(path is not None, "curl")
    return path


def test_the_curl_example_uploads_a_file_and_is_answered_202(curl, live_server, xml_upload_kind, dispatched):
    connection = connection_create(kind="xml_upload", name="Acme uploads")
    url = f"{live_server.url}/api/v2/hrdatasync/employee"

    done = subprocess.run(
        [
            curl, "-sS", "-u", f"api-key:{connection.issued_api_key}", "-H", "Content-Type: application/xml",
            "--data-binary", f"@{FIXTURE}", url,
            "--write-out", "\n%{http_code}",  # the status on the last line, for the test
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    assert status == "202"
    answer = json.loads(body)
    stored = InboundFile.objects.get(pk=answer["upload_id"])
    assert answer["status_url"] == f"/api/v2/hrdatasync/uploads/{stored.pk}"
    assert stored.content.read() == FIXTURE.read_bytes()
    assert dispatched == [connection.pk]


def test_curl_with_a_wrong_key_is_answered_401_in_json(curl, live_server, xml_upload_kind, dispatched):
    connection_create(kind="xml_upload", name="Acme uploads")

    done = subprocess.run(
        [
            curl, "-sS", "-u", "api-key:hrs_0123456789ab_" + "A" * 43, "-H", "Content-Type: application/xml",
            "--data-binary", f"@{FIXTURE}", f"{live_server.url}/api/v2/hrdatasync/employee",
            "--write-out", "\n%{http_code}",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )

    body, _, status = done.stdout.rpartition("\n")
    assert status == "401"
    assert "not valid" in json.loads(body)["error"]
    assert not InboundFile.objects.exists()


def test_a_file_sent_with_curl_is_processed_and_its_people_are_in_the_directory(curl, live_server, xml_upload_kind):
    from hrsync.people.models import Person

    connection = connection_create(kind="xml_upload", name="Acme uploads")
    key = connection.issued_api_key

    def run_curl(*args: str) -> tuple[str, str]:
        done = subprocess.run(
            [curl, "-sS", "-u", f"api-key:{key}", *args, "--write-out", "\n%{http_code}"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        body, _, status = done.stdout.rpartition("\n")
        return body, status

    body, status = run_curl(
        "-H", "Content-Type: application/xml", "--data-binary", f"@{FIXTURE}",
        f"{live_server.url}/api/v2/hrdatasync/employee",
    )
    assert status == "202"
    # The worker runs in the request here (eager Celery, after the commit): by
    # now the status resource says how it went.
    body, status = run_curl(live_server.url + json.loads(body)["status_url"])

    assert status == "200"
    assert json.loads(body)["status"] == "complete", body
    assert set(Person.objects.filter(managed_by=connection).values_list("employee_reference", flat=True)) >= {
        "00042", "42", "007",
    }
