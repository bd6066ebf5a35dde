"""Processing uploaded files: statuses, turns, positions, cancelling, purging."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.utils import timezone

from connections.models import InboundFile, SyncRun
from connections.inbound import inbound_file_receive
from connections.runs import sync_run_approve, sync_run_reject, sync_run_start
from connections.sync.inbound import (
    InboundFileStateError,
    inbound_file_cancel,
    inbound_file_process,
    inbound_files_dispatch,
    inbound_files_purge,
)
from connections.sync.runner import sync_run_execute
from hrsync.people.models import Person
from tests.connections.helpers import table_snapshot
from tests.connections.upload_source import employee_file, upload_source  # noqa: F401 - a fixture
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

Status = InboundFile.Status


@pytest.fixture
def connection(upload_source):  # noqa: F811
    return ConnectionFactory(name="Uploads HR")


def store(connection, text: str, *, kind: str = "employee", dry_run: bool = False) -> InboundFile:
    return inbound_file_receive(
        connection=connection,
        kind=kind,
        stream=io.BytesIO(text.encode()),
        content_type="text/plain",
        max_bytes=1_000_000,
        original_name=f"{kind}s.txt",
        received_from="test",
        dry_run=dry_run,
        dispatch=False,
    )


def process(connection, text: str, **kwargs) -> InboundFile:
    return inbound_file_process(inbound_file_id=store(connection, text, **kwargs).pk)


def ids(count: int) -> list[str]:
    return [f"E{n:03}" for n in range(count)]


def test_an_employee_file_creates_its_people_and_completes_with_the_runs_counts(connection):
    done = process(connection, employee_file("0042", "0043", "0044"))

    assert done.status == Status.COMPLETE
    assert done.counts["created"] == 3
    assert done.finished_at is not None and done.results == []
    run = SyncRun.objects.get(pk=done.run_id)
    assert (run.trigger, run.status, run.inbound_file_id) == ("upload", "succeeded", done.pk)
    # Leading zeros are text all the way.
    assert set(connection.employee_mappings.values_list("remote_id", flat=True)) == {"0042", "0043", "0044"}
    assert Person.objects.filter(managed_by=connection).count() == 3


def test_the_same_bytes_as_the_last_completed_file_are_skipped_without_a_run(connection):
    first = process(connection, employee_file("A", "B"))
    again = process(connection, employee_file("A", "B"))

    assert again.status == Status.SKIPPED
    assert again.run_id is None
    assert f"Upload #{first.pk}" in again.error
    assert SyncRun.objects.count() == 1


def test_a_file_differing_from_the_last_completed_one_is_processed(connection):
    process(connection, employee_file("A", "B"))
    changed = process(connection, employee_file("A", "B", "C"))

    assert changed.status == Status.COMPLETE
    assert changed.counts["created"] == 1


def test_a_file_dropping_80_percent_is_blocked_then_completes_when_its_run_is_approved(connection):
    process(connection, employee_file(*ids(10)))
    blocked = process(connection, employee_file(*ids(2)))

    assert blocked.status == Status.BLOCKED
    assert "would deactivate 8 of 10" in blocked.error
    assert Person.objects.filter(status="active").count() == 10

    run = sync_run_approve(run=blocked.run, enqueue=False)
    sync_run_execute(run_id=run.pk)
    blocked.refresh_from_db()

    assert blocked.status == Status.COMPLETE
    assert blocked.counts["deactivated"] == 8
    assert blocked.error == ""
    assert Person.objects.filter(status="active").count() == 2


def test_a_blocked_file_whose_run_is_rejected_is_cancelled(connection, django_capture_on_commit_callbacks):
    process(connection, employee_file(*ids(10)))
    blocked = process(connection, employee_file(*ids(2)))

    with django_capture_on_commit_callbacks(execute=True):
        sync_run_reject(run=blocked.run)
    blocked.refresh_from_db()

    assert blocked.status == Status.CANCELLED
    assert Person.objects.filter(status="active").count() == 10


def test_a_rejected_file_is_an_error_with_its_lines_and_changes_nothing(connection):
    process(connection, employee_file("A", "B"))
    before = table_snapshot(exclude=("connections.SyncRun", "connections.InboundFile"))

    refused = process(connection, employee_file("C") + "REJECT Element 'surname': missing.\n")

    assert refused.status == Status.ERROR
    assert refused.results == [{"line": 2, "employee_id": "", "message": "Element 'surname': missing."}]
    assert "Nothing was changed" in refused.error
    assert table_snapshot(exclude=("connections.SyncRun", "connections.InboundFile")) == before


def test_per_record_problems_make_it_complete_with_errors_listing_each_line(connection):
    done = process(connection, employee_file("A") + "B,FirstB,LastB,not-an-email\n")

    assert done.status == Status.COMPLETE_WITH_ERRORS
    assert [(r["line"], r["employee_id"]) for r in done.results] == [(2, "B")]
    assert "not-an-email" in done.results[0]["message"]
    assert Person.objects.filter(managed_by=connection).count() == 1


def test_a_dry_run_file_applies_nothing_and_completes_with_the_reports_counts(connection):
    done = process(connection, employee_file("A", "B"), dry_run=True)

    assert done.status == Status.COMPLETE
    assert done.counts["created"] == 2
    assert SyncRun.objects.get(pk=done.run_id).dry_run
    assert not Person.objects.exists()
    # A dry run is not the last file processed: the same bytes for real are not skipped.
    assert process(connection, employee_file("A", "B")).status == Status.COMPLETE


def test_a_file_arriving_during_a_run_waits_then_is_processed_when_the_run_ends(
    connection, django_capture_on_commit_callbacks
):
    running = sync_run_start(connection=connection, enqueue=False)
    waiting = store(connection, employee_file("A", "B"))

    assert inbound_files_dispatch(connection_id=connection.pk) is None
    waiting.refresh_from_db()
    assert waiting.status == Status.SCHEDULED

    # No dispatcher pass: the end of the run starts it.
    with django_capture_on_commit_callbacks(execute=True):
        sync_run_execute(run_id=running.pk)
    waiting.refresh_from_db()

    assert waiting.status == Status.COMPLETE
    assert Person.objects.filter(managed_by=connection).count() == 2


def test_an_employee_file_goes_before_a_position_file_uploaded_with_it(
    connection, upload_source, django_capture_on_commit_callbacks  # noqa: F811
):
    running = sync_run_start(connection=connection, enqueue=False)
    positions = store(connection, "P1,A,Director,\nP2,B,Analyst,A\n", kind="position")
    employees = store(connection, employee_file("A", "B"))
    # The employee file arrived a moment after the position file.
    InboundFile.objects.filter(pk=employees.pk).update(received_at=positions.received_at + dt.timedelta(seconds=5))

    with django_capture_on_commit_callbacks(execute=True):
        sync_run_execute(run_id=running.pk)
    positions.refresh_from_db()
    employees.refresh_from_db()

    assert upload_source.parsed == [employees.pk, positions.pk]
    assert (employees.status, positions.status) == (Status.COMPLETE, Status.COMPLETE)
    assert Person.objects.get(employee_mappings__remote_id="B").job_title == "Analyst"


def test_positions_set_titles_and_managers_and_an_unknown_holder_is_a_row_error(connection):
    process(connection, employee_file("A", "B", "C"))

    done = process(
        connection,
        "P1,A,Chief Executive,\nP2,,Vacant Deputy,A\nP3,B,Head of IT,A\nP4,C,Developer,B\nP5,Z,Tester,B\n",
        kind="position",
    )

    people = {p.employee_mappings.get().remote_id: p for p in Person.objects.all()}
    assert {key: p.job_title for key, p in people.items()} == {
        "A": "Chief Executive", "B": "Head of IT", "C": "Developer",
    }
    assert people["A"].manager_id is None
    assert people["B"].manager_id == people["A"].pk
    assert people["C"].manager_id == people["B"].pk
    assert done.status == Status.COMPLETE_WITH_ERRORS
    assert [(r["line"], r["employee_id"]) for r in done.results] == [(5, "Z")]
    assert "not in Uploads HR" in done.results[0]["message"]
    assert done.counts["positions"] == 5
    assert done.counts["created"] == 0 and done.counts["deactivated"] == 0


def test_a_position_file_changes_nobodys_status_and_creates_nobody(connection):
    process(connection, employee_file("A", "B"))
    Person.objects.filter(employee_mappings__remote_id="B").update(status="on_leave")

    process(connection, "P1,A,Director,\n", kind="position")

    assert dict(Person.objects.values_list("employee_mappings__remote_id", "status")) == {"A": "active", "B": "on_leave"}
    assert Person.objects.count() == 2


def test_an_employee_file_leaves_the_titles_and_managers_the_position_file_set(connection):
    process(connection, employee_file("A", "B"))
    process(connection, "P1,A,Director,\nP2,B,Analyst,A\n", kind="position")

    process(connection, employee_file("A", "B", "C"))

    b = Person.objects.get(employee_mappings__remote_id="B")
    assert b.job_title == "Analyst"
    assert b.manager == Person.objects.get(employee_mappings__remote_id="A")


def test_a_position_file_removing_too_many_positions_is_blocked(connection):
    process(connection, employee_file("A"))
    all_positions = "".join(f"P{n},{'A' if n == 0 else ''},Title {n},\n" for n in range(10))
    assert process(connection, all_positions, kind="position").status == Status.COMPLETE

    blocked = process(connection, "Q1,A,New title,\nP1,,Title 1,\n", kind="position")

    assert blocked.status == Status.BLOCKED
    assert "remove 9 of the 10 positions" in blocked.error
    assert Person.objects.get().job_title == "Title 0"


def test_a_waiting_file_can_be_cancelled_and_is_then_never_processed(connection, upload_source):  # noqa: F811
    waiting = store(connection, employee_file("A"))

    inbound_file_cancel(inbound_file=waiting)
    after = inbound_file_process(inbound_file_id=waiting.pk)

    assert after.status == Status.CANCELLED
    assert upload_source.parsed == []


def test_a_processing_file_cannot_be_cancelled(connection):
    processing = store(connection, employee_file("A"))
    InboundFile.objects.filter(pk=processing.pk).update(status=Status.PROCESSING)

    with pytest.raises(InboundFileStateError, match="being processed"):
        inbound_file_cancel(inbound_file=processing)
    processing.refresh_from_db()
    assert processing.status == Status.PROCESSING


def test_purge_deletes_the_bytes_of_files_older_than_30_days_and_keeps_the_rows(connection):
    old = process(connection, employee_file("A"))
    recent = process(connection, employee_file("A", "B"))
    InboundFile.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=31))
    old_path = Path(old.content.path)

    assert inbound_files_purge() == 1
    old.refresh_from_db()
    recent.refresh_from_db()

    assert not old_path.exists()
    assert (old.content.name, old.purged_at is not None, old.status) == ("", True, Status.COMPLETE)
    assert old.run_id is not None
    assert recent.content and recent.purged_at is None and Path(recent.content.path).exists()
    # Purged already: not counted again.
    assert inbound_files_purge() == 0
