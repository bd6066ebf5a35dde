import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hrsync.settings")

app = Celery("hrsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_dispatcher(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    # One dispatcher does all scheduling: it finds due connections and stale
    # runs in the database, so beat itself holds no per-connection state.
    sender.add_periodic_task(
        float(settings.HRSYNC_DISPATCH_EVERY),
        sender.signature("connections.tasks.dispatch_due_syncs"),
        name="dispatch due syncs",
    )
    # Access dates take effect at the start of the day, local time (the
    # dispatcher applies them too, so a day the beat missed is caught up
    # within minutes).
    sender.add_periodic_task(
        crontab(hour=0, minute=5),
        sender.signature("people.tasks.apply_access_dates"),
        name="apply access dates",
    )
    # Uploaded files' bytes are kept for 30 days (the rows and runs stay).
    sender.add_periodic_task(
        crontab(hour=1, minute=15),
        sender.signature("connections.tasks.purge_inbound_files"),
        name="purge old uploads",
    )
