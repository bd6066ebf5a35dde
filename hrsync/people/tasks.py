"""Celery tasks: take ids, call a service, nothing else."""

from celery import shared_task
from django.utils import timezone

from hrsync.people.access import people_access_dates_apply


@shared_task(name="people.tasks.apply_access_dates", ignore_result=True)
def apply_access_dates() -> None:
    people_access_dates_apply(today=timezone.localdate())
