"""The dispatcher: due connections get a run, stale runs are failed, and a
task queue that is down is logged and tried again at the next pass."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from connections import tasks
from connections.models import SyncRun
from connections.runs import sync_runs_fail_stale, syncs_dispatch_due
from tests.factories import ConnectionFactory, SyncRunFactory

pytestmark = pytest.mark.django_db


def test_the_dispatcher_enqueues_due_connections_and_sets_their_next_time(source, django_capture_on_commit_callbacks):
    now = timezone.now()
    due = ConnectionFactory(background_sync=True, next_sync_at=now - dt.timedelta(minutes=1))
    never_run = ConnectionFactory(background_sync=True, next_sync_at=None)
    later = ConnectionFactory(background_sync=True, next_sync_at=now + dt.timedelta(hours=1))
    off = ConnectionFactory(background_sync=False, next_sync_at=now - dt.timedelta(hours=1))
    disabled = ConnectionFactory(background_sync=True, enabled=False, next_sync_at=None)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = syncs_dispatch_due(now=now)

    assert {run.connection_id for run in started} == {due.pk, never_run.pk}
    assert all(run.trigger == "schedule" and run.scope == "all" for run in started)
    assert len(callbacks) == 2  # each run is handed to a worker after commit
    due.refresh_from_db()
    assert due.next_sync_at == now + dt.timedelta(hours=3)
    for untouched in (later, off, disabled):
        assert not untouched.runs.exists()


def test_the_dispatcher_skips_a_connection_that_is_already_running(source):
    now = timezone.now()
    busy = ConnectionFactory(background_sync=True, next_sync_at=None)
    SyncRunFactory(connection=busy, status=SyncRun.Status.RUNNING, heartbeat_at=now)

    assert syncs_dispatch_due(now=now) == []
    busy.refresh_from_db()
    assert busy.next_sync_at == now + busy.sync_interval


def test_runs_with_a_stale_heartbeat_or_never_picked_up_are_marked_failed(source, settings):
    settings.HRSYNC_STALE_AFTER = 600
    settings.HRSYNC_QUEUED_TIMEOUT = 3600
    now = timezone.now()
    stale = SyncRunFactory(status=SyncRun.Status.RUNNING, heartbeat_at=now - dt.timedelta(minutes=11))
    alive = SyncRunFactory(status=SyncRun.Status.RUNNING, heartbeat_at=now - dt.timedelta(minutes=1))
    forgotten = SyncRunFactory(status=SyncRun.Status.QUEUED)
    SyncRun.objects.filter(pk=forgotten.pk).update(created_at=now - dt.timedelta(hours=2))

    assert sync_runs_fail_stale(now=now) == 2

    stale.refresh_from_db()
    alive.refresh_from_db()
    forgotten.refresh_from_db()
    assert stale.status == "failed" and "stopped responding" in stale.error
    assert forgotten.status == "failed" and "Check that the hrsync worker is running" in forgotten.error
    assert alive.status == "running"


def test_the_dispatch_task_runs_due_syncs_to_completion_in_eager_mode(source, django_capture_on_commit_callbacks):
    from tests.connections.static_connector import employee

    source.employees = [employee("1")]
    connection = ConnectionFactory(background_sync=True)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.dispatch_due_syncs.delay()

    run = connection.runs.get()
    assert run.status == "succeeded" and run.trigger == "schedule"
    assert run.counts["created"] == 1


def test_beat_schedules_the_dispatcher_every_five_minutes():
    from hrsync.celery import app

    app.loader.import_default_modules()
    entries = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    assert "connections.tasks.dispatch_due_syncs" in entries
    assert entries["connections.tasks.dispatch_due_syncs"]["schedule"] == 300


@pytest.mark.django_db(transaction=True)
def test_a_queue_that_is_down_fails_the_scheduled_run_and_leaves_the_connections_due(source):
    from tests.connections.test_worker import QUEUE_DOWN, closed_port_url, tasks_sent_to

    now = timezone.now()
    first = ConnectionFactory(name="A HR", background_sync=True, next_sync_at=None)
    second = ConnectionFactory(name="B HR", background_sync=True, next_sync_at=None)

    with tasks_sent_to(closed_port_url()):
        assert syncs_dispatch_due(now=now) == []

    failed = SyncRun.objects.get()
    assert (failed.connection, failed.status, failed.error) == (first, "failed", QUEUE_DOWN)
    assert not second.runs.exists()
    for connection in (first, second):
        connection.refresh_from_db()
        assert connection.next_sync_at is None or connection.next_sync_at <= now
