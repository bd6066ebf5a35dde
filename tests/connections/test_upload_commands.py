"""``manage.py upload`` and ``manage.py uploads``: the exit codes and JSON keys are a contract."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.models import InboundFile, SyncRun
from connections.runs import sync_run_start
from hrsync.people.models import Person
from tests.connections.upload_source import employee_file, upload_source  # noqa: F401 - a fixture
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

SUMMARY_KEYS = {
    "upload_id", "connection", "kind", "status", "dry_run", "original_name", "size", "sha256",
    "received_at", "received_from", "finished_at", "run", "counts", "results", "error", "purged",
}


@pytest.fixture
def connection(upload_source):  # noqa: F811
    return ConnectionFactory(name="Uploads HR")


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "employees.txt") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fails(*args: str, code: int) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command(*args, stdout=out, stderr=StringIO())
    assert info.value.returncode == code, str(info.value)
    return info.value, out.getvalue()


def test_upload_processes_the_file_in_process_and_prints_its_status(connection, write):
    out = run("upload", "Uploads HR", write(employee_file("0042", "0043")))

    upload = InboundFile.objects.get()
    assert upload.status == InboundFile.Status.COMPLETE
    assert upload.received_from == "command line"
    assert f"Upload #{upload.pk} of Uploads HR (employee file): Complete" in out
    assert "created 2" in out
    assert Person.objects.count() == 2


def test_upload_json_prints_the_upload_with_its_counts(connection, write):
    out = run("upload", str(connection.pk), write(employee_file("A")), "--json")

    data = json.loads(out)
    assert set(data) == SUMMARY_KEYS
    assert (data["status"], data["counts"]["created"], data["kind"]) == ("complete", 1, "employee")


def test_upload_of_the_same_file_again_is_skipped_and_exits_0(connection, write):
    path = write(employee_file("A"))
    run("upload", "Uploads HR", path)

    out = run("upload", "Uploads HR", path)

    assert "Skipped" in out and "nothing to do" in out


def test_upload_of_a_rejected_file_exits_1_with_its_problems(connection, write):
    error, out = fails("upload", "Uploads HR", write("REJECT Element 'email': not valid.\n"), code=1)

    assert re.fullmatch(r"Upload #\d+: The file does not match the schema\. Nothing was changed\.", str(error))
    assert "line 1: Element 'email': not valid." in out
    assert not Person.objects.exists()


def test_upload_of_a_file_the_safeguard_blocks_exits_3_naming_the_run_to_approve(connection, write):
    run("upload", "Uploads HR", write(employee_file(*[f"E{n}" for n in range(10)])))

    error, _ = fails("upload", "Uploads HR", write(employee_file("E1"), "short.txt"), code=3)

    blocked = InboundFile.objects.get(status="blocked")
    assert f"manage.py runs approve {blocked.run_id}" in str(error)
    run("runs", "approve", str(blocked.run_id))
    blocked.refresh_from_db()
    assert blocked.status == InboundFile.Status.COMPLETE


def test_upload_dry_run_changes_nothing(connection, write):
    out = run("upload", "Uploads HR", write(employee_file("A")), "--dry-run")

    assert "dry run" in out and "created 1" in out
    assert not Person.objects.exists()


def test_upload_while_a_sync_runs_leaves_the_file_waiting_and_exits_4(connection, write):
    sync_run_start(connection=connection, enqueue=False)

    error, _ = fails("upload", "Uploads HR", write(employee_file("A")), code=4)

    assert "waits its turn" in str(error)
    assert InboundFile.objects.get().status == InboundFile.Status.SCHEDULED


def test_upload_to_a_connection_that_takes_no_files_exits_2_and_stores_nothing(source, write):
    ConnectionFactory(name="Pulled HR")

    error, _ = fails("upload", "Pulled HR", write("P1,A,Boss,\n"), "--kind", "position", code=2)

    assert "does not take uploaded files" in str(error)
    assert not InboundFile.objects.exists()


def test_upload_of_an_unreadable_file_exits_2(connection, tmp_path):
    error, _ = fails("upload", "Uploads HR", str(tmp_path / "missing.xml"), code=2)

    assert "Cannot read the file" in str(error)


def test_uploads_list_shows_the_connections_uploads(connection, write):
    run("upload", "Uploads HR", write(employee_file("A")))

    out = run("uploads", "list", "Uploads HR")
    listed = json.loads(run("uploads", "list", "Uploads HR", "--json"))

    assert "complete" in out and "employees.txt" in out
    assert [item["status"] for item in listed] == ["complete"]


def test_uploads_show_prints_every_problem(connection, write):
    run("upload", "Uploads HR", write(employee_file("A") + "B,FirstB,LastB,broken\n"))
    upload = InboundFile.objects.get()

    out = run("uploads", "show", str(upload.pk))

    assert "Complete with errors" in out
    assert "line 2, employee B:" in out
    assert json.loads(run("uploads", "show", str(upload.pk), "--json"))["results"][0]["line"] == 2


def test_uploads_cancel_cancels_a_waiting_file_and_refuses_a_finished_one(connection, write):
    sync_run_start(connection=connection, enqueue=False)
    fails("upload", "Uploads HR", write(employee_file("A")), code=4)
    waiting = InboundFile.objects.get()

    out = run("uploads", "cancel", str(waiting.pk))
    waiting.refresh_from_db()
    error, _ = fails("uploads", "cancel", str(waiting.pk), code=2)

    assert "Cancelled" in out and waiting.status == InboundFile.Status.CANCELLED
    assert "nothing to cancel" in str(error)
    assert SyncRun.objects.count() == 1


def test_uploads_show_of_an_unknown_upload_exits_2(connection):
    error, _ = fails("uploads", "show", "999", code=2)

    assert "No upload with id '999'" in str(error)
