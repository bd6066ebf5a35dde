"""Two statuses that say what happened: "Completed with conflicts" (a run
whose only problems were conflicts) and "Rejected" (a blocked run an admin
rejected, which was "Cancelled").

Forward, existing runs get the status they would get now; backward, they go
back to the status that stood for them before.
"""

from django.db import migrations, models

STATUS_CHOICES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("succeeded", "Succeeded"),
    ("completed_with_conflicts", "Completed with conflicts"),
    ("completed_with_errors", "Completed with errors"),
    ("blocked", "Blocked by safeguard"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("rejected", "Rejected"),
]


def _count(counts, key):
    try:
        return int((counts or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0


def name_what_happened(apps, schema_editor):
    SyncRun = apps.get_model("connections", "SyncRun")
    # Only an admin's rejection sets decided_at on a run that then ends
    # cancelled; a superseded run was never decided.
    SyncRun.objects.filter(status="cancelled", decided_at__isnull=False).update(status="rejected")
    conflicts_only = [
        run_id
        for run_id, counts in SyncRun.objects.filter(status="completed_with_errors")
        .values_list("id", "counts")
        .iterator()
        if _count(counts, "errors") == 0 and _count(counts, "conflicts") > 0
    ]
    SyncRun.objects.filter(pk__in=conflicts_only).update(status="completed_with_conflicts")


def name_as_before(apps, schema_editor):
    SyncRun = apps.get_model("connections", "SyncRun")
    SyncRun.objects.filter(status="rejected").update(status="cancelled")
    SyncRun.objects.filter(status="completed_with_conflicts").update(status="completed_with_errors")


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0003_report_changes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncrun",
            name="status",
            field=models.CharField(choices=STATUS_CHOICES, db_index=True, default="queued", max_length=30),
        ),
        migrations.RunPython(name_what_happened, name_as_before),
    ]
