"""Celery tasks: take ids, call a service, nothing else."""

from celery import shared_task
from django.utils import timezone

from connections import runs
from connections.sync import runner
from hrsync.people.access import people_access_dates_apply


@shared_task(name="connections.tasks.run_sync", ignore_result=True)
def run_sync(run_id: int) -> None:
    runner.sync_run_execute(run_id=run_id)


@shared_task(name="connections.tasks.dispatch_due_syncs", ignore_result=True)
def dispatch_due_syncs() -> None:
    runs.sync_runs_fail_stale()
    # The daily task's work again, before the syncs: one query when nothing
    # is due, and a day whose 00:05 task was missed (beat or the worker down
    # at midnight) is caught up within minutes.
    people_access_dates_apply(today=timezone.localdate())
    runs.syncs_dispatch_due()
