"""Delta runs: read only what changed since the last successful read (less
an overlap), never deactivate anyone by absence, say so on the run page and
in ``runs show``; the schedule reads everything once a day at the
connector's full-sync time and the changes in between."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from connections.models import SyncRun
from connections.runs import sync_run_start, syncs_dispatch_due
from connections.sync import runner
from connections.sync.runner import DELTA_OVERLAP
from connectors import registry
from hrsync.people.models import Person
from tests.connections.delta_connector import DeltaConnector
from tests.connections.static_connector import employee
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory, SyncRunFactory

pytestmark = pytest.mark.django_db

Status = SyncRun.Status


@pytest.fixture
def delta_source(monkeypatch, source):
    monkeypatch.setitem(
        registry.CONNECTORS, "static_delta", ("Static delta", "tests.connections.delta_connector.DeltaConnector")
    )
    monkeypatch.setattr(DeltaConnector, "employees", [])
    monkeypatch.setattr(DeltaConnector, "changed", [])
    monkeypatch.setattr(DeltaConnector, "asked_since", [])
    monkeypatch.setattr(DeltaConnector, "daily_full_at", dt.time(6, 30))
    return DeltaConnector


@pytest.fixture
def delta_connection(delta_source):
    return ConnectionFactory(kind="static_delta", name="Delta HR")


def run_delta(connection, *, dry_run: bool = False) -> SyncRun:
    run = sync_run_start(connection=connection, delta=True, dry_run=dry_run, enqueue=False)
    return runner.sync_run_execute(run_id=run.pk)


def finished_read(connection, *, started_at, delta=False, **fields) -> SyncRun:
    defaults = {"status": Status.SUCCEEDED, "scope": SyncRun.Scope.ALL, "finished_at": started_at}
    return SyncRunFactory(connection=connection, started_at=started_at, delta=delta, **{**defaults, **fields})


def test_a_delta_reads_the_changes_since_the_last_successful_read_less_the_overlap(delta_connection, delta_source):
    last_read = timezone.now() - dt.timedelta(hours=2)
    finished_read(delta_connection, started_at=last_read - dt.timedelta(hours=5))
    finished_read(delta_connection, started_at=last_read, delta=True)
    # Neither a dry run nor a failed run is a read to start from.
    finished_read(delta_connection, started_at=last_read + dt.timedelta(minutes=30), dry_run=True)
    finished_read(delta_connection, started_at=last_read + dt.timedelta(minutes=40), status=Status.FAILED)
    delta_source.changed = [employee("1", first_name="Changed")]

    run = run_delta(delta_connection)

    assert DELTA_OVERLAP == dt.timedelta(minutes=10)
    assert delta_source.asked_since == [last_read - DELTA_OVERLAP]
    assert run.status == Status.SUCCEEDED
    assert run.delta is True
    assert run.read_since == last_read - DELTA_OVERLAP
    assert Person.objects.get().first_name == "Changed"
    assert run.report["streams"]["employees"]["full_snapshot"] is False


def test_a_delta_never_deactivates_the_people_it_did_not_read(delta_connection, delta_source):
    finished_read(delta_connection, started_at=timezone.now() - dt.timedelta(hours=1))
    people = []
    for remote_id in ("1", "2", "3"):
        person = PersonFactory(email=f"{remote_id}@example.com", managed_by=delta_connection)
        EmployeeMappingFactory(connection=delta_connection, remote_id=remote_id, person=person)
        people.append(person)
    delta_source.changed = [employee("1", email="1@example.com", first_name="Only")]

    run = run_delta(delta_connection)

    assert run.status == Status.SUCCEEDED
    assert run.counts["deactivated"] == 0
    assert list(Person.objects.order_by("pk").values_list("status", flat=True)) == ["active"] * 3
    assert not delta_connection.employee_mappings.filter(missing_since_run__isnull=False).exists()


def test_a_full_read_of_the_same_source_does_deactivate_those_missing(delta_connection, delta_source):
    # The same situation as above, read whole: the test above can fail.
    person = PersonFactory(email="2@example.com", managed_by=delta_connection)
    EmployeeMappingFactory(connection=delta_connection, remote_id="2", person=person)
    delta_source.employees = [employee("1")]

    run = runner.sync_run_execute(run_id=sync_run_start(connection=delta_connection, enqueue=False).pk)

    person.refresh_from_db()
    assert run.delta is False
    assert person.status == Person.Status.INACTIVE


def test_a_delta_with_no_earlier_read_reads_everything_and_says_why(delta_connection, delta_source):
    delta_source.employees = [employee("1")]

    run = run_delta(delta_connection)

    assert run.delta is False
    assert run.read_since is None
    assert delta_source.asked_since == []
    assert any("no earlier sync of Delta HR read it successfully" in note for note in run.report["notes"])


def test_a_delta_asked_of_a_connector_that_cannot_read_changes_is_a_full_read(connection, source):
    source.employees = [employee("1")]

    run = run_delta(connection)

    assert run.status == Status.SUCCEEDED
    assert run.delta is False
    assert any("cannot list only the records changed" in note for note in run.report["notes"])


def test_the_run_page_and_runs_show_say_delta_or_full(staff, delta_connection, delta_source, capsys):
    last_read = timezone.now() - dt.timedelta(hours=1)
    full = finished_read(delta_connection, started_at=last_read)
    delta = run_delta(delta_connection)
    since = timezone.localtime(delta.read_since)

    delta_page = staff.get(reverse("connections:run", args=[delta_connection.pk, delta.pk])).content.decode()
    full_page = staff.get(reverse("connections:run", args=[delta_connection.pk, full.pk])).content.decode()

    assert f"Delta: changes since {since.day} {since:%b %Y, %H:%M}" in delta_page
    assert "Full read" in full_page and "Delta:" not in full_page
    call_command("runs", "show", str(delta.pk))
    assert f"Delta: changes since {since.day} {since:%b %Y, %H:%M}" in capsys.readouterr().out


def test_sync_delta_runs_a_delta_by_hand(delta_connection, delta_source, capsys):
    finished_read(delta_connection, started_at=timezone.now() - dt.timedelta(hours=1))

    call_command("sync", "Delta HR", "--delta")

    run = SyncRun.objects.filter(trigger=SyncRun.Trigger.CLI).get()
    assert run.delta is True and run.read_since is not None
    assert "Delta: changes since" in capsys.readouterr().out


def test_sync_delta_is_refused_for_a_connector_that_cannot_read_changes(connection):
    with pytest.raises(CommandError) as refused:
        call_command("sync", "Static HR", "--delta")

    assert str(refused.value) == (
        "Static HR cannot run a delta: Static test source cannot list only the records changed since a time. "
        "Run the sync without --delta."
    )
    assert not SyncRun.objects.exists()


def test_the_connector_s_waits_show_on_the_run_s_progress_without_resetting_its_counts(
    delta_connection, delta_source, monkeypatch
):
    finished_read(delta_connection, started_at=timezone.now() - dt.timedelta(hours=1))
    delta_source.changed = [employee("1"), employee("2")]
    rows = []
    real_write = runner._Progress._write

    def spy(self, **fields):
        real_write(self, **fields)
        rows.append(
            (fields, SyncRun.objects.values_list("progress_stage", "progress_done").get(pk=self.run.pk))
        )

    monkeypatch.setattr(runner._Progress, "_write", spy)

    run_delta(delta_connection)

    waited = next(i for i, (_fields, (stage, _done)) in enumerate(rows) if stage.startswith("Waiting"))
    fields, (stage, _done) = rows[waited]
    assert fields == {"progress_stage": "Waiting 2 s: the source asked to slow down"}  # the counts kept
    # The next write (the read's count) says the stage again.
    _fields, (stage, done) = rows[waited + 1]
    assert stage.startswith("Reading employees changed since")
    assert done == 2


# -- the schedule ---------------------------------------------------------------------


def local(hour: int, minute: int = 0, *, days: int = 0) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def scheduled(delta_source):
    return ConnectionFactory(
        kind="static_delta", name="Delta HR", background_sync=True, sync_interval=dt.timedelta(hours=1)
    )


def test_the_first_pass_after_the_full_sync_time_runs_a_full_read(scheduled, django_capture_on_commit_callbacks):
    finished_read(scheduled, started_at=local(6, 0))  # before today's 06:30: yesterday's rhythm
    now = local(6, 33)

    with django_capture_on_commit_callbacks(execute=False):
        [run] = syncs_dispatch_due(now=now)

    scheduled.refresh_from_db()
    assert run.delta is False
    assert scheduled.next_sync_at == now + dt.timedelta(hours=1)


def test_passes_after_today_s_full_read_run_deltas(scheduled, django_capture_on_commit_callbacks):
    finished_read(scheduled, started_at=local(6, 35))
    now = local(9, 0)

    with django_capture_on_commit_callbacks(execute=False):
        [run] = syncs_dispatch_due(now=now)

    assert run.delta is True
    assert run.trigger == SyncRun.Trigger.SCHEDULE


def test_a_failed_full_read_is_tried_again_at_the_next_pass(scheduled, django_capture_on_commit_callbacks):
    finished_read(scheduled, started_at=local(6, 35), status=Status.FAILED)
    finished_read(scheduled, started_at=local(7, 35), delta=True)

    with django_capture_on_commit_callbacks(execute=False):
        [run] = syncs_dispatch_due(now=local(8, 40))

    assert run.delta is False


def test_before_the_full_sync_time_a_pass_runs_a_delta_and_the_next_is_due_at_the_full_time(
    scheduled, django_capture_on_commit_callbacks
):
    now = local(6, 0)

    with django_capture_on_commit_callbacks(execute=False):
        [run] = syncs_dispatch_due(now=now)

    scheduled.refresh_from_db()
    assert run.delta is True
    assert scheduled.next_sync_at == local(6, 30)


def test_after_today_s_full_read_the_next_time_is_never_later_than_tomorrow_s(
    scheduled, django_capture_on_commit_callbacks
):
    scheduled.sync_interval = dt.timedelta(hours=12)
    scheduled.save()
    finished_read(scheduled, started_at=local(6, 35))

    with django_capture_on_commit_callbacks(execute=False):
        syncs_dispatch_due(now=local(23, 0))

    scheduled.refresh_from_db()
    assert scheduled.next_sync_at == local(6, 30, days=1)


def test_a_connector_without_a_full_sync_time_or_without_deltas_always_reads_everything(
    scheduled, delta_source, source, django_capture_on_commit_callbacks
):
    delta_source.daily_full_at = None
    plain = ConnectionFactory(kind="static", background_sync=True)
    finished_read(scheduled, started_at=local(6, 35))
    finished_read(plain, started_at=local(6, 35))

    with django_capture_on_commit_callbacks(execute=False):
        started = syncs_dispatch_due(now=local(9, 0))

    assert sorted(run.delta for run in started) == [False, False]
