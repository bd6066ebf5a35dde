"""A run's life after it was claimed: its heartbeat while it waits on a
vendor, and a run that something else has failed never applying afterwards."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.conf import settings
from django.db import connection as db
from django.db import connections
from django.utils import timezone

from connections import tasks
from connections.models import SyncRun
from connections.runs import sync_run_start, sync_runs_fail_stale
from connections.sync import runner
from hrsync.people.models import Person
from tests.conftest import need_service
from tests.connections.helpers import run_sync, table_snapshot
from tests.connections.static_connector import employee
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory

Status = SyncRun.Status


def _the_dispatcher_finds_it_stale() -> None:
    """What the dispatcher does once the run's heartbeat is older than the limit."""
    sync_runs_fail_stale(now=timezone.now() + dt.timedelta(seconds=settings.HRSYNC_STALE_AFTER + 1))


def _heartbeat_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.endswith("heartbeat")]


def _seed(connection) -> None:
    for remote_id in ("0", "1"):
        EmployeeMappingFactory(
            connection=connection, remote_id=remote_id, person=PersonFactory(email=f"{remote_id}@example.com")
        )


# -- the heartbeat -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_beating_while_the_connector_waits_and_stops_with_the_run(source, settings, monkeypatch):
    settings.HRSYNC_STALE_AFTER = 1
    connection = ConnectionFactory()
    source.employees = [employee("1")]
    heartbeats = []

    def slow_fetch(self):
        # One long request: no record arrives, so nothing but the heartbeat writes.
        for _ in range(3):
            heartbeats.append(SyncRun.objects.get(connection=connection).heartbeat_at)
            time.sleep(0.4)
        yield from type(self).employees

    monkeypatch.setattr(source, "fetch_employees", slow_fetch)
    run = run_sync(connection, scope="employees")

    assert run.status == Status.SUCCEEDED
    assert heartbeats[0] < heartbeats[1] < heartbeats[2]
    assert _heartbeat_threads() == []


@pytest.mark.django_db(transaction=True)
def test_a_run_that_crashes_while_it_waits_leaves_no_heartbeat_behind(source, settings, monkeypatch):
    settings.HRSYNC_STALE_AFTER = 1
    connection = ConnectionFactory()
    heartbeats = []

    def crashing_fetch(self):
        for _ in range(2):
            heartbeats.append(SyncRun.objects.get(connection=connection).heartbeat_at)
            time.sleep(0.4)
        raise RuntimeError("the connector broke")
        yield  # a generator, like every connector's fetch

    monkeypatch.setattr(source, "fetch_employees", crashing_fetch)
    run = run_sync(connection, scope="employees")

    assert run.status == Status.FAILED and "unexpected error" in run.error
    assert heartbeats[0] < heartbeats[1]
    assert _heartbeat_threads() == []


@pytest.mark.django_db(transaction=True)
def test_a_run_waiting_on_a_slow_vendor_is_not_failed_and_no_second_run_starts(source, settings, monkeypatch):
    need_service(db.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    settings.HRSYNC_STALE_AFTER = 2
    connection = ConnectionFactory(name="Slow HR", background_sync=True, next_sync_at=None)
    source.employees = [employee("1"), employee("2")]
    waiting, answered = threading.Event(), threading.Event()
    fetches = []

    def slow_fetch(self):
        fetches.append(1)
        if len(fetches) == 1:
            # A vendor answering slowly, or a 429 whose Retry-After is long.
            waiting.set()
            answered.wait(timeout=60)
        yield from type(self).employees

    monkeypatch.setattr(source, "fetch_employees", slow_fetch)
    run = sync_run_start(connection=connection, enqueue=False)

    def worker() -> None:
        try:
            runner.sync_run_execute(run_id=run.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert waiting.wait(timeout=10)
        time.sleep(settings.HRSYNC_STALE_AFTER * 2)  # well past the limit, inside one request
        tasks.dispatch_due_syncs()  # fail stale runs, then start the due background sync

        assert SyncRun.objects.get(pk=run.pk).status == Status.RUNNING
        assert list(connection.runs.values_list("pk", flat=True)) == [run.pk]
    finally:
        answered.set()
        thread.join(timeout=60)

    run.refresh_from_db()
    assert (run.status, run.counts["created"], run.error) == (Status.SUCCEEDED, 2, "")
    assert connection.runs.count() == 1 and len(fetches) == 1
    assert Person.objects.count() == 2


# -- a run that was failed meanwhile ----------------------------------------------------------


@pytest.mark.django_db
def test_a_run_failed_by_the_stale_check_while_it_reads_never_applies(connection, source, monkeypatch):
    _seed(connection)
    source.employees = [employee("0", first_name="Changed"), employee("new")]
    before = table_snapshot(exclude=("connections.SyncRun",))

    def fetch_then_go_stale(self):
        yield from type(self).employees
        _the_dispatcher_finds_it_stale()

    monkeypatch.setattr(source, "fetch_employees", fetch_then_go_stale)
    run = run_sync(connection, scope="employees")

    assert run.status == Status.FAILED and "stopped responding" in run.error
    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert not Person.objects.filter(email="new@example.com").exists()


@pytest.mark.django_db
def test_a_run_failed_just_before_it_applies_applies_nothing_and_stays_failed(connection, source, monkeypatch):
    _seed(connection)
    source.employees = [employee("0", first_name="Changed"), employee("new")]
    before = table_snapshot(exclude=("connections.SyncRun",))
    original = runner._Progress.stage

    def stage(self, stage, **kwargs):
        original(self, stage, **kwargs)
        if stage == "Applying":
            _the_dispatcher_finds_it_stale()

    monkeypatch.setattr(runner._Progress, "stage", stage)
    run = run_sync(connection, scope="employees")

    assert run.status == Status.FAILED and "stopped responding" in run.error
    assert run.counts == {} and run.report == {} and run.changes == []
    assert table_snapshot(exclude=("connections.SyncRun",)) == before


@pytest.mark.django_db
def test_a_dry_run_failed_while_it_plans_keeps_its_failure_and_saves_no_report(connection, source, monkeypatch):
    source.employees = [employee("1")]
    original = runner._Progress.stage

    def stage(self, stage, **kwargs):
        original(self, stage, **kwargs)
        if stage == "Planning":
            _the_dispatcher_finds_it_stale()

    monkeypatch.setattr(runner._Progress, "stage", stage)
    run = run_sync(connection, scope="employees", dry_run=True)

    assert run.status == Status.FAILED and "stopped responding" in run.error
    assert run.counts == {} and run.report == {} and run.changes == []
