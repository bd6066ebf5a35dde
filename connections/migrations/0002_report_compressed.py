"""Reports move from a JSON column to a compressed one (connections.fields).

Add the new column, copy every report over, drop the old one, take its name.
The plan's two digests get columns of their own (read without the report).
"""

from django.db import migrations, models

import connections.fields


def copy_reports(apps, schema_editor):
    SyncRun = apps.get_model("connections", "SyncRun")
    for run in SyncRun.objects.only("id", "report").iterator(chunk_size=100):
        SyncRun.objects.filter(pk=run.pk).update(report_compressed=run.report or {})


def copy_reports_back(apps, schema_editor):
    SyncRun = apps.get_model("connections", "SyncRun")
    for run in SyncRun.objects.only("id", "report_compressed").iterator(chunk_size=100):
        SyncRun.objects.filter(pk=run.pk).update(report=run.report_compressed or {})


class Migration(migrations.Migration):
    dependencies = [("connections", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="report_compressed",
            field=connections.fields.CompressedJSONField(blank=True),
        ),
        migrations.RunPython(copy_reports, copy_reports_back),
        migrations.RemoveField(model_name="syncrun", name="report"),
        migrations.RenameField(model_name="syncrun", old_name="report_compressed", new_name="report"),
        migrations.AddField(
            model_name="syncrun", name="source_hash", field=models.CharField(blank=True, max_length=64)
        ),
        migrations.AddField(
            model_name="syncrun", name="directory_hash", field=models.CharField(blank=True, max_length=64)
        ),
        migrations.AlterField(
            model_name="syncrun",
            name="report",
            field=connections.fields.CompressedJSONField(
                blank=True, help_text="The plan: the changes with their field diffs, and fingerprints."
            ),
        ),
    ]
