"""The training stream: a source's course bookings and awards copied to its
people, updated by change in a delta run, removed when the source no
longer has them, and course requests marked as waiting for a decision."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from connections.models import SyncRun
from connections.runs import sync_run_start
from connections.services import connection_connector
from connections.sync import runner
from connections.sync.state import directory_state_load
from connections.sync.streams import TRAINING, StreamRead
from connections.sync.training import plan_training, training_state_for_run
from hrsync.people.models import Person, TrainingRecord
from tests.connections.helpers import linked_person, run_sync, table_snapshot
from tests.connections.static_connector import employee
from tests.connections.training_source import TODAY, award, booking, training_source  # noqa: F401 - a fixture
from tests.factories import ConnectionFactory, TrainingRecordFactory

pytestmark = pytest.mark.django_db

Status = SyncRun.Status
NO_CHANGE = {"created": 0, "updated": 0, "removed": 0, "unchanged": 0, "skipped": 0, "errors": 0}


@pytest.fixture
def connection(training_source):
    return ConnectionFactory(name="Static Training")


@pytest.fixture
def ada(connection):
    return linked_person(connection=connection)


def _rows(connection):
    return {
        r.remote_id: (r.person_id, r.kind, r.label, r.start_date and r.start_date.isoformat(), r.status, r.is_request)
        for r in TrainingRecord.objects.filter(connection=connection)
    }


def test_records_are_created_for_the_linked_person_and_counted_on_the_run(training_source, connection, ada):
    training_source.training = [
        booking("D1", "E1", "2026-04-10", status="Provisional"),
        booking("D2", "E1", "2026-01-05", label="Fire Safety", status="Completed"),
        award("E1~7", "E1"),
    ]

    run = run_sync(connection, scope="training")

    assert run.status == Status.SUCCEEDED
    assert _rows(connection) == {
        "D1": (ada.pk, "booking", "First Aid", "2026-04-10", "Provisional", True),
        "D2": (ada.pk, "booking", "Fire Safety", "2026-01-05", "Completed", False),
        "E1~7": (ada.pk, "award", "Forklift licence", None, "Achieved", False),
    }
    assert run.counts["training"] == {**NO_CHANGE, "created": 3}
    assert run.report["streams"]["training"]["counts"]["created"] == 3


def test_a_changed_record_is_updated_and_one_the_full_read_lacks_is_removed(training_source, connection, ada):
    training_source.training = [booking("D1", "E1", status="Provisional"), booking("D2", "E1")]
    run_sync(connection, scope="training")
    training_source.training = [booking("D1", "E1", status="Booked", end="2026-04-11")]

    run = run_sync(connection, scope="training")

    assert _rows(connection) == {"D1": (ada.pk, "booking", "First Aid", "2026-04-10", "Booked", False)}
    assert run.counts["training"] == {**NO_CHANGE, "updated": 1, "removed": 1}
    updated = next(c for c in run.report["training"] if c["action"] == "update")
    assert updated["fields"] == {
        "End": ["10 Apr 2026", "11 Apr 2026"],
        "Status": ["Provisional", "Booked"],
        "Waiting for a decision": ["yes", "no"],
    }


def test_a_second_run_over_the_same_records_changes_nothing(training_source, connection, ada):
    training_source.training = [booking("D1", "E1"), award("E1~7", "E1")]
    run_sync(connection, scope="training")
    before = table_snapshot(exclude=("connections.SyncRun",))

    run = run_sync(connection, scope="training")

    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert run.counts["training"] == {**NO_CHANGE, "unchanged": 2}
    assert run.report["training"] == []


def test_a_delta_run_updates_only_what_it_read_and_removes_nothing(training_source, connection, ada):
    training_source.employees = [employee("E1", first_name="Ada", last_name="Lovelace", email=ada.email)]
    training_source.training = [booking("D1", "E1"), booking("D2", "E1")]
    run_sync(connection, scope="all")
    training_source.training_changed = [booking("D2", "E1", status="Completed")]

    run = sync_run_start(connection=connection, scope="training", delta=True, enqueue=False)
    run = runner.sync_run_execute(run_id=run.pk)

    assert run.delta is True and training_source.asked_since
    assert _rows(connection) == {
        "D1": (ada.pk, "booking", "First Aid", "2026-04-10", "Booked", False),
        "D2": (ada.pk, "booking", "First Aid", "2026-04-10", "Completed", False),
    }
    assert run.counts["training"] == {**NO_CHANGE, "updated": 1}


def test_a_record_the_source_says_is_gone_is_removed_even_from_a_partial_read(connection, ada, training_source):
    kept = TrainingRecordFactory(connection=connection, person=ada, remote_id="D1")
    gone = TrainingRecordFactory(connection=connection, person=ada, remote_id="D2")
    read = StreamRead(stream=TRAINING, records=[], full_snapshot=False, gone=frozenset({"D2"}))
    connector = connection_connector(connection=connection)
    state = training_state_for_run(connection=connection, connector=connector, read=read, today=TODAY)

    changes = plan_training(records=[], state=state, directory=directory_state_load(connection_id=connection.pk))

    assert [(c.action, c.remote_id, c.record_id, c.name) for c in changes] == [
        ("remove", "D2", gone.pk, "Ada Lovelace")
    ]
    assert kept.pk not in {c.record_id for c in changes}


def test_a_record_of_an_employee_who_is_not_a_person_here_is_skipped(training_source, connection, ada):
    training_source.training = [booking("D1", "E1"), booking("D9", "NOBODY")]

    run = run_sync(connection, scope="training")

    assert set(_rows(connection)) == {"D1"}
    assert run.counts["training"] == {**NO_CHANGE, "created": 1, "skipped": 1}
    skipped = next(c for c in run.report["training"] if c["action"] == "skip")
    assert skipped["message"] == "Not kept: employee NOBODY is not a person of this connection."


def test_records_of_people_created_in_the_same_run_are_kept_for_them(training_source, connection):
    training_source.employees = [employee("E5", first_name="Grace", last_name="Hopper")]
    training_source.training = [booking("D1", "E5", status="Provisional")]

    run = run_sync(connection, scope="all")

    grace = Person.objects.get(first_name="Grace")
    assert _rows(connection) == {"D1": (grace.pk, "booking", "First Aid", "2026-04-10", "Provisional", True)}
    assert run.counts["training"]["created"] == 1
    assert run.counts["created"] == 1


def test_bad_and_repeated_records_are_errors_and_the_rest_is_kept(training_source, connection, ada):
    training_source.training = [
        booking("D1", "E1"),
        booking("D1", "E1", label="A second copy"),
        booking("D2", "E1", label="x" * 301),
        booking("", "E1"),
    ]

    run = run_sync(connection, scope="training")

    assert set(_rows(connection)) == {"D1"}
    assert TrainingRecord.objects.get(remote_id="D1").label == "First Aid"
    assert run.counts["training"] == {**NO_CHANGE, "created": 1, "errors": 3}
    assert run.status == Status.COMPLETED_WITH_ERRORS
    messages = [c["message"] for c in run.report["training"] if c["action"] == "error"]
    assert messages == [
        "Static Training lists this record twice; the first copy is kept.",
        "The course or award name is longer than 300 characters.",
        "The training record has no id, so it cannot be kept in step.",
    ]


def test_a_dry_run_writes_nothing_but_reports_and_counts_what_it_would_do(training_source, connection, ada):
    TrainingRecordFactory(connection=connection, person=ada, remote_id="OLD")
    training_source.training = [booking("D1", "E1")]
    before = table_snapshot(exclude=("connections.SyncRun",))

    run = run_sync(connection, scope="training", dry_run=True)

    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert run.counts["training"] == {**NO_CHANGE, "created": 1, "removed": 1}
    assert {(c["action"], c["remote_id"]) for c in run.report["training"]} == {("create", "D1"), ("remove", "OLD")}


def test_a_decision_made_here_is_kept_and_the_status_follows_the_source(training_source, connection, ada):
    decided_at = timezone.now() - dt.timedelta(days=1)
    TrainingRecordFactory(
        connection=connection, person=ada, remote_id="D1", status="Booked", decision="approved",
        decided_at=decided_at, start_date=dt.date(2026, 4, 10), end_date=dt.date(2026, 4, 10),
    )
    training_source.training = [booking("D1", "E1", status="Completed")]

    run_sync(connection, scope="training")

    row = TrainingRecord.objects.get(remote_id="D1")
    assert (row.status, row.decision, row.decided_at) == ("Completed", "approved", decided_at)


def test_the_state_is_read_in_a_fixed_number_of_queries(training_source, connection, ada, django_assert_num_queries):
    for n in range(30):
        TrainingRecordFactory(connection=connection, person=ada, remote_id=f"D{n}")
    records = [booking(f"D{n}", "E1") for n in range(40)]
    read = StreamRead(stream=TRAINING, records=records, full_snapshot=True)

    connector = connection_connector(connection=connection)

    with django_assert_num_queries(1):
        state = training_state_for_run(connection=connection, connector=connector, read=read, today=TODAY)

    assert len(state.rows) == 30 and len(state.pending) == 40


def test_no_state_when_the_run_did_not_read_training(training_source, connection):
    connector = connection_connector(connection=connection)

    assert training_state_for_run(connection=connection, connector=connector, read=None, today=TODAY) is None


def test_a_sync_all_of_a_connection_without_the_training_stream_plans_no_training(
    monkeypatch, training_source, connection
):
    monkeypatch.setattr(training_source, "streams", frozenset({"employees"}))

    run = run_sync(connection, scope="all")

    assert "training" not in run.counts


def test_the_run_page_lists_a_dry_runs_training_changes_with_counters(staff, training_source, connection, ada):
    training_source.training = [booking("D1", "E1", label="Manual Handling")]
    run = run_sync(connection, scope="training", dry_run=True)

    response = staff.get(reverse("connections:run", args=[connection.pk, run.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Training records" in html and "Manual Handling" in html
    assert ("New training records", 1) in response.context["training_stats"]
    assert "training: 1 new" in response.context["counts_summary"]
    assert not TrainingRecord.objects.exists()


def test_the_sync_command_runs_the_training_scope(training_source, connection, ada):
    training_source.training = [booking("D1", "E1")]

    call_command("sync", connection.name, "--scope", "training", stdout=StringIO(), stderr=StringIO())

    run = SyncRun.objects.get(connection=connection)
    assert (run.scope, run.status) == ("training", Status.SUCCEEDED)
    assert set(_rows(connection)) == {"D1"}
