"""Celery tasks: take ids, call a service, nothing else."""

from celery import shared_task
from django.utils import timezone

from connections import runs
from connections.sync import inbound, runner
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
    # A file whose turn came while no run ended to start it (its worker
    # was unreachable, a blocked run was decided elsewhere) starts here.
    inbound.inbound_files_dispatch_waiting()


@shared_task(name="connections.tasks.process_inbound_file", ignore_result=True)
def process_inbound_file(inbound_file_id: int) -> None:
    inbound.inbound_file_process(inbound_file_id=inbound_file_id)


@shared_task(name="connections.tasks.purge_inbound_files", ignore_result=True)
def purge_inbound_files() -> None:
    inbound.inbound_files_purge()
