"""The absences stream: copied from a source (inside its window only), or
recorded here and sent to it after the run's commit, each push's outcome
recorded on the absence and the run."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from connections.models import SyncRun
from connections.sync.absences import AbsenceSettings, absence_state_load
from hrsync.people.absences import absence_create, absence_remove
from hrsync.people.models import Absence
from mappings.models import EmployeeMapping
from tests.connections.absence_source import TODAY, absence, absence_source  # noqa: F401 - a fixture
from tests.connections.helpers import linked_person, run_sync, table_snapshot
from tests.connections.static_connector import employee
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db

Status = SyncRun.Status
PushState = Absence.PushState


@pytest.fixture
def connection(absence_source):
    return ConnectionFactory(name="Static HR")


@pytest.fixture
def ada(connection):
    return linked_person(connection=connection)


def _rows(connection):
    return {
        a.remote_id: (a.person_id, a.type_name, a.start_date.isoformat(), a.end_date.isoformat(), a.status)
        for a in Absence.objects.filter(connection=connection)
    }


# -- from the source -------------------------------------------------------------------


def test_pulled_absences_are_created_for_the_linked_person_and_counted_on_the_run(absence_source, connection, ada):
    absence_source.absences = [
        absence("A1", "E1", "2026-03-10", "2026-03-12", half_day_end=True, comment="Skiing", remote_id_v2="v2-a1"),
        absence("A2", "E1", "2026-04-01", type_name="Sick leave", status="pending"),
    ]

    run = run_sync(connection, scope="absences")

    assert run.status == Status.SUCCEEDED
    assert _rows(connection) == {
        "A1": (ada.pk, "Holiday", "2026-03-10", "2026-03-12", "approved"),
        "A2": (ada.pk, "Sick leave", "2026-04-01", "2026-04-01", "pending"),
    }
    first = Absence.objects.get(remote_id="A1")
    assert (first.half_day_start, first.half_day_end, first.comment, first.remote_id_v2) == (
        False, True, "Skiing", "v2-a1",
    )
    assert run.counts["absences"] == {
        "created": 2, "updated": 0, "removed": 0, "unchanged": 0, "skipped": 0, "errors": 0,
    }
    assert run.report["streams"]["absences"]["counts"]["created"] == 2


def test_a_changed_absence_is_updated_a_dropped_one_removed_and_one_outside_the_window_left_alone(
    absence_source, connection, ada
):
    absence_source.absences = [
        absence("A1", "E1", "2026-03-10"),
        absence("A2", "E1", "2026-03-20"),
        absence("OLD", "E1", "2025-12-01"),  # before the window (30 days back)
    ]
    run_sync(connection, scope="absences")
    # The source now: A1 longer and pending, A2 gone, OLD no longer listed (outside the window).
    absence_source.absences = [absence("A1", "E1", "2026-03-10", "2026-03-13", status="pending")]

    run = run_sync(connection, scope="absences")

    assert _rows(connection) == {
        "A1": (ada.pk, "Holiday", "2026-03-10", "2026-03-13", "pending"),
        "OLD": (ada.pk, "Holiday", "2025-12-01", "2025-12-01", "approved"),
    }
    assert run.counts["absences"] == {
        "created": 0, "updated": 1, "removed": 1, "unchanged": 0, "skipped": 0, "errors": 0,
    }
    updated = next(c for c in run.report["absences"] if c["action"] == "update")
    assert updated["fields"] == {"To": ["10 Mar 2026", "13 Mar 2026"], "Status": ["Approved", "Pending"]}


def test_a_second_run_over_the_same_absences_changes_nothing(absence_source, connection, ada):
    absence_source.absences = [absence("A1", "E1", "2026-03-10")]
    run_sync(connection, scope="absences")
    before = table_snapshot(exclude=("connections.SyncRun",))

    run = run_sync(connection, scope="absences")

    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert run.counts["absences"]["unchanged"] == 1
    assert run.report["absences"] == []


def test_only_approved_keeps_no_pending_absence_and_removes_one_that_is_no_longer_approved(
    absence_source, connection, ada
):
    absence_source.absences = [absence("A1", "E1", "2026-03-10")]
    run_sync(connection, scope="absences")
    absence_source.only_approved = True
    absence_source.absences = [
        absence("A1", "E1", "2026-03-10", status="rejected"),
        absence("A2", "E1", "2026-03-20", status="pending"),
        absence("A3", "E1", "2026-03-25"),
    ]

    run = run_sync(connection, scope="absences")

    assert set(_rows(connection)) == {"A3"}
    assert run.counts["absences"] == {
        "created": 1, "updated": 0, "removed": 1, "unchanged": 0, "skipped": 1, "errors": 0,
    }
    skipped = next(c for c in run.report["absences"] if c["action"] == "skip")
    assert skipped["message"] == "Not kept: it is pending, and only approved absences are kept."


def test_an_absence_of_an_unknown_employee_is_an_error_line_and_one_of_an_excluded_employee_is_skipped(
    absence_source, connection, ada
):
    EmployeeMappingFactory(connection=connection, remote_id="E2", state=EmployeeMapping.State.EXCLUDED)
    absence_source.absences = [
        absence("A1", "E1", "2026-03-10"),
        absence("A2", "NOBODY", "2026-03-10"),
        absence("A3", "E2", "2026-03-10"),
    ]

    run = run_sync(connection, scope="absences")

    assert run.status == Status.COMPLETED_WITH_ERRORS
    assert set(_rows(connection)) == {"A1"}
    by_id = {c["remote_id"]: c for c in run.report["absences"]}
    assert by_id["A2"]["action"] == "error"
    assert "employee 'NOBODY', whom this connection does not know" in by_id["A2"]["message"]
    assert by_id["A3"]["action"] == "skip"
    assert by_id["A3"]["message"] == "Not kept: employee E2 is excluded from this connection's sync."


def test_a_malformed_absence_is_an_error_line_not_a_crash(absence_source, connection, ada):
    absence_source.absences = [
        absence("A1", "E1", "2026-03-12", "2026-03-10"),
        absence("A2", "E1", "2026-03-10", type_name=" "),
        absence("A3", "E1", "2026-03-10"),
    ]

    run = run_sync(connection, scope="absences")

    assert set(_rows(connection)) == {"A3"}
    messages = [c["message"] for c in run.report["absences"] if c["action"] == "error"]
    assert messages == [
        "The absence ends (2026-03-10) before it starts (2026-03-12).",
        "The absence has no type.",
    ]


def test_absences_of_people_the_same_run_creates_are_kept_for_them(absence_source, connection):
    absence_source.employees = [employee("E9", first_name="Grace", last_name="Hopper")]
    absence_source.absences = [absence("A1", "E9", "2026-03-10")]

    run = run_sync(connection, scope="all")

    grace = EmployeeMapping.objects.get(connection=connection, remote_id="E9").person
    assert run.status == Status.SUCCEEDED
    assert Absence.objects.get(remote_id="A1").person == grace


def test_a_dry_run_lists_the_absence_changes_and_changes_nothing(absence_source, connection, ada):
    absence_source.absences = [absence("A1", "E1", "2026-03-10")]
    before = table_snapshot(exclude=("connections.SyncRun",))

    run = run_sync(connection, scope="absences", dry_run=True)

    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert [(c["action"], c["remote_id"], c["name"]) for c in run.report["absences"]] == [
        ("create", "A1", "Ada Lovelace")
    ]


def test_the_absence_state_is_read_in_the_same_number_of_queries_for_10_and_200_absences(connection, ada):
    settings = AbsenceSettings(
        direction="from_source", window=(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
        only_approved=False, connection_name="Static HR",
    )

    def queries(count: int) -> int:
        Absence.objects.all().delete()
        Absence.objects.bulk_create(
            Absence(person=ada, connection=connection, remote_id=f"A{n}", type_name="Holiday",
                    start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 1))
            for n in range(count)
        )
        with CaptureQueriesContext(db) as ctx:
            state = absence_state_load(
                connection_id=connection.pk, settings=settings, remote_ids=[f"A{n}" for n in range(count)] + ["X"]
            )
        assert len(state.rows) == count
        return len(ctx.captured_queries)

    assert queries(10) == queries(200)


def test_a_connection_with_absences_off_reads_none(absence_source, connection, ada):
    absence_source.direction = ""
    absence_source.absences = [absence("A1", "E1", "2026-03-10")]

    run = run_sync(connection, scope="all")

    assert not Absence.objects.exists()
    assert "absences" not in run.report["streams"]


def test_sync_scope_absences_on_the_command_line_reads_only_absences(absence_source, connection, ada):
    absence_source.employees = [employee("E1", first_name="Changed")]
    absence_source.absences = [absence("A1", "E1", "2026-03-10")]
    out = StringIO()

    call_command("sync", connection.name, "--scope", "absences", stdout=out, stderr=StringIO())

    run = SyncRun.objects.get(connection=connection)
    assert (run.scope, run.trigger, run.status) == ("absences", "cli", Status.SUCCEEDED)
    assert set(_rows(connection)) == {"A1"}
    ada.refresh_from_db()
    assert ada.first_name == "Ada"
    assert "absences: created 1" in out.getvalue()


# -- to the source ---------------------------------------------------------------------


@pytest.fixture
def sending(absence_source, connection, ada):
    absence_source.direction = "to_source"
    return connection


def _record(person, start="2026-03-10", **fields):
    return absence_create(
        person=person, type_name=fields.pop("type_name", "Holiday"), start_date=dt.date.fromisoformat(start),
        end_date=dt.date.fromisoformat(fields.pop("end", start)), send=False, **fields,
    )


def test_an_absence_recorded_here_is_sent_after_the_commit_and_gets_the_sources_id(absence_source, sending, ada):
    recorded = _record(ada, half_day_start=True, comment="Dentist")
    assert (recorded.push_connection, recorded.push_state) == (sending, PushState.PENDING)

    run = run_sync(sending, scope="absences")

    recorded.refresh_from_db()
    assert (recorded.push_state, recorded.remote_id, recorded.push_error) == (PushState.SENT, "T1", "")
    [change] = absence_source.pushed
    assert (change.stream, change.operation, change.key) == ("absences", "create", f"absence:{recorded.pk}")
    assert dict(change.values) == {
        "employee_remote_id": "E1", "type_name": "Holiday", "start_date": "2026-03-10", "end_date": "2026-03-10",
        "half_day_start": True, "half_day_end": False, "comment": "Dentist",
    }
    assert run.status == Status.SUCCEEDED
    assert run.counts["pushes"] == {"planned": 0, "sent": 1, "rejected": 0, "failed": 0, "not_sent": 0}
    [pushed] = run.report["pushes"]
    assert (pushed["key"], pushed["name"], pushed["what"], pushed["outcome"]) == (
        f"absence:{recorded.pk}", "Ada Lovelace", "Holiday, 10 Mar 2026", "sent",
    )


def test_a_push_is_not_sent_twice(absence_source, sending, ada):
    _record(ada)
    run_sync(sending, scope="absences")

    again = run_sync(sending, scope="absences")

    assert len(absence_source.pushed) == 1
    assert again.report["pushes"] == []


def test_a_refused_push_keeps_the_sources_message_and_is_not_sent_again(absence_source, sending, ada):
    recorded = _record(ada)
    absence_source.outcomes = {f"absence:{recorded.pk}": ("rejected", "The absence type Holiday does not exist.")}

    run = run_sync(sending, scope="absences")
    run_sync(sending, scope="absences")

    recorded.refresh_from_db()
    assert (recorded.push_state, recorded.push_error) == (PushState.REJECTED, "The absence type Holiday does not exist.")
    assert len(absence_source.pushed) == 1
    assert run.status == Status.COMPLETED_WITH_ERRORS
    assert run.report["pushes"][0]["message"] == "The absence type Holiday does not exist."


def test_a_failed_push_is_tried_again_at_the_next_run(absence_source, sending, ada):
    recorded = _record(ada)
    absence_source.outcomes = {f"absence:{recorded.pk}": ("failed", "The source answered 503.")}
    run_sync(sending, scope="absences")
    recorded.refresh_from_db()
    assert (recorded.push_state, recorded.push_error) == (PushState.FAILED, "The source answered 503.")
    absence_source.outcomes = {}

    run_sync(sending, scope="absences")

    recorded.refresh_from_db()
    assert (recorded.push_state, recorded.remote_id) == (PushState.SENT, "T2")
    assert len(absence_source.pushed) == 2


def test_removing_a_sent_absence_sends_the_removal_and_then_the_row_goes(absence_source, sending, ada):
    recorded = _record(ada)
    run_sync(sending, scope="absences")

    assert absence_remove(absence=Absence.objects.get(pk=recorded.pk), send=False) is False
    assert Absence.objects.get(pk=recorded.pk).removed_at is not None
    run_sync(sending, scope="absences")

    assert not Absence.objects.filter(pk=recorded.pk).exists()
    assert [(c.operation, c.remote_id) for c in absence_source.pushed] == [("create", ""), ("delete", "T1")]


def test_removing_an_absence_never_sent_deletes_it_at_once(absence_source, sending, ada):
    recorded = _record(ada)

    assert absence_remove(absence=recorded, send=False) is True

    assert not Absence.objects.filter(pk=recorded.pk).exists()
    run_sync(sending, scope="absences")
    assert absence_source.pushed == []


def test_with_only_approved_a_pending_absence_is_not_sent_and_says_why(absence_source, sending, ada):
    absence_source.only_approved = True
    pending = _record(ada, status="pending")
    approved = _record(ada, start="2026-03-20")

    run = run_sync(sending, scope="absences")

    pending.refresh_from_db()
    approved.refresh_from_db()
    assert [c.key for c in absence_source.pushed] == [f"absence:{approved.pk}"]
    assert pending.push_state == PushState.NOT_PUSHED
    assert pending.push_error == "Not sent: it is pending, and Static HR receives only approved absences."
    assert run.counts["pushes"]["not_sent"] == 1


def test_a_dry_run_lists_the_pushes_it_would_send_and_sends_nothing(absence_source, sending, ada):
    recorded = _record(ada)

    run = run_sync(sending, scope="absences", dry_run=True)

    recorded.refresh_from_db()
    assert absence_source.pushed == []
    assert recorded.push_state == PushState.PENDING
    assert [(p["key"], p["outcome"]) for p in run.report["pushes"]] == [(f"absence:{recorded.pk}", "planned")]


def test_an_absence_of_a_person_not_linked_yet_waits_and_is_sent_once_they_are(absence_source, sending):
    grace = PersonFactory(first_name="Grace", managed_by=sending)
    recorded = _record(grace)

    run_sync(sending, scope="absences")
    recorded.refresh_from_db()
    assert recorded.push_state == PushState.PENDING
    assert "not linked to a record in Static HR" in recorded.push_error
    EmployeeMappingFactory(connection=sending, remote_id="E7", person=grace)

    run_sync(sending, scope="absences")

    recorded.refresh_from_db()
    assert recorded.push_state == PushState.SENT
    assert absence_source.pushed[0].values["employee_remote_id"] == "E7"


def test_recording_an_absence_starts_a_run_after_the_commit_that_sends_it(
    absence_source, sending, ada, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        recorded = absence_create(
            person=ada, type_name="Holiday", start_date=dt.date(2026, 3, 10), end_date=dt.date(2026, 3, 10)
        )

    run = SyncRun.objects.get(connection=sending)
    assert (run.scope, run.trigger) == ("absences", "manual")
    recorded.refresh_from_db()
    # The tests' task queue runs the task at once.
    assert recorded.push_state == PushState.SENT


def test_an_absence_recorded_while_a_run_is_active_waits_for_the_next_run(
    absence_source, sending, ada, django_capture_on_commit_callbacks
):
    SyncRun.objects.create(connection=sending, status=Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        recorded = absence_create(
            person=ada, type_name="Holiday", start_date=dt.date(2026, 3, 10), end_date=dt.date(2026, 3, 10)
        )

    assert SyncRun.objects.filter(connection=sending).count() == 1
    recorded.refresh_from_db()
    assert recorded.push_state == PushState.PENDING


def test_a_source_that_cannot_be_reached_fails_every_push_of_the_run_with_its_message(
    absence_source, sending, ada, monkeypatch
):
    from connectors.base import ConnectorError

    first, second = _record(ada), _record(ada, start="2026-03-20")
    calls = []

    def unreachable(self, changes):
        calls.append(changes)
        raise ConnectorError("Static HR did not answer (timeout).")

    monkeypatch.setattr(absence_source, "push", unreachable)

    run = run_sync(sending, scope="absences")

    assert len(calls) == 1  # the second is not tried against a source that is down
    for recorded in (first, second):
        recorded.refresh_from_db()
        assert (recorded.push_state, recorded.push_error) == (
            PushState.FAILED, "Static HR did not answer (timeout). Tried again at the next sync.",
        )
    assert run.status == Status.COMPLETED_WITH_ERRORS
    assert run.counts["pushes"]["failed"] == 2


def test_applying_a_dry_run_after_the_sources_absences_changed_plans_again_and_says_so(absence_source, connection, ada):
    from connections.runs import sync_run_apply_dry_run
    from connections.sync.runner import sync_run_execute

    absence_source.absences = [absence("A1", "E1", "2026-03-10")]
    dry = run_sync(connection, scope="absences", dry_run=True)
    absence_source.absences = [absence("A1", "E1", "2026-03-10"), absence("A2", "E1", "2026-03-11")]

    applied = sync_run_execute(run_id=sync_run_apply_dry_run(dry_run=dry, enqueue=False).pk)

    assert set(_rows(connection)) == {"A1", "A2"}
    assert any("changed since" in note for note in applied.report["notes"])


def test_absences_of_people_waiting_to_be_included_are_skipped_not_errors(absence_source, connection, monkeypatch):
    monkeypatch.setattr(absence_source, "include_new_records", False)
    absence_source.employees = [employee("E7", email="new@example.com")]
    absence_source.absences = [absence("A7", "E7", "2026-03-10")]

    run = run_sync(connection, scope="all", dry_run=True)

    assert run.status == Status.SUCCEEDED, run.error
    assert run.counts["absences"]["skipped"] == 1 and run.counts["absences"]["errors"] == 0
    [pulled] = run.report["absences"]
    assert pulled["message"] == "Not kept: employee E7 is not synced yet."
