import os

from celery import Celery

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
