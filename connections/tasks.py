"""Celery tasks: take ids, call a service, nothing else."""

from celery import shared_task

from connections import runs
from connections.sync import runner


@shared_task(name="connections.tasks.run_sync", ignore_result=True)
def run_sync(run_id: int) -> None:
    runner.sync_run_execute(run_id=run_id)


@shared_task(name="connections.tasks.dispatch_due_syncs", ignore_result=True)
def dispatch_due_syncs() -> None:
    runs.sync_runs_fail_stale()
    runs.syncs_dispatch_due()
