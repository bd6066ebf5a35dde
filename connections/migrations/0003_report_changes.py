"""A report's listed changes move out of its blob into chunks and an index
(``connections.reports``): a page of a 100,000-change report reads what it
shows, not 80 MB of JSON. The blob keeps the report's head.

Forward, every run's changes are written as a new run's would be; backward,
they are put back in its blob, in order, and the two tables go.
"""

import json
import zlib

from django.db import migrations, models
import django.db.models.deletion

import connections.fields

#: As connections.reports.CHUNK_SIZE when this migration was written.
CHUNK_SIZE = 100


def _search(change):
    text = " ".join(str(change.get(key) or "") for key in ("name", "email", "remote_id")).lower()
    return text.replace("\x00", "")


def move_changes_out(apps, schema_editor):
    SyncRun = apps.get_model("connections", "SyncRun")
    Chunk = apps.get_model("connections", "SyncRunChangeChunk")
    Index = apps.get_model("connections", "SyncRunChange")
    EmployeeMapping = apps.get_model("mappings", "EmployeeMapping")
    for run_id in SyncRun.objects.values_list("id", flat=True).iterator():
        run = SyncRun.objects.only("id", "report", "dry_run", "connection_id").get(pk=run_id)
        report = run.report or {}
        changes = report.pop("changes", None)
        if changes is None:
            continue
        # A real run's created people, as the runner records them now.
        created = {}
        if not run.dry_run:
            created = dict(
                EmployeeMapping.objects.filter(
                    connection_id=run.connection_id,
                    remote_id__in=[c.get("remote_id") for c in changes if c.get("action") == "create"],
                    person__isnull=False,
                ).values_list("remote_id", "person_id")
            )
        chunks, rows = [], []
        by_action = {}
        for start in range(0, len(changes), CHUNK_SIZE):
            number = start // CHUNK_SIZE
            part = changes[start:start + CHUNK_SIZE]
            chunks.append(Chunk(run_id=run.pk, number=number, changes=part))
            for offset, change in enumerate(part):
                person_id = change.get("person_id")
                action = change.get("action", "")
                if person_id is None and action == "create":
                    person_id = created.get(change.get("remote_id"))
                rows.append(
                    Index(
                        run_id=run.pk, seq=start + offset, action=action, action_seq=by_action.get(action, 0),
                        has_warnings=bool(change.get("warnings")), person_id=person_id,
                        chunk=number, search=_search(change),
                    )
                )
                by_action[action] = by_action.get(action, 0) + 1
        Chunk.objects.bulk_create(chunks, batch_size=100)
        Index.objects.bulk_create(rows, batch_size=2000)
        report["listed"] = {
            "actions": by_action, "warnings": sum(1 for row in rows if row.has_warnings), "total": len(rows)
        }
        SyncRun.objects.filter(pk=run.pk).update(report=report)


def put_changes_back(apps, schema_editor):
    SyncRun = apps.get_model("connections", "SyncRun")
    Chunk = apps.get_model("connections", "SyncRunChangeChunk")
    for run_id in SyncRun.objects.values_list("id", flat=True).iterator():
        run = SyncRun.objects.only("id", "report").get(pk=run_id)
        chunks = Chunk.objects.filter(run_id=run_id).order_by("number")
        if not chunks.exists():
            continue
        report = dict(run.report or {})
        report.pop("listed", None)
        report["changes"] = [change for chunk in chunks.iterator() for change in chunk.changes]
        SyncRun.objects.filter(pk=run_id).update(report=report)


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0002_report_compressed"),
        ("mappings", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SyncRunChangeChunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField()),
                ("changes", connections.fields.CompressedJSONField(help_text="Change dicts, in report order.")),
                (
                    "run",
                    models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="change_chunks",
                        to="connections.syncrun",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("run", "number"), name="one_chunk_number_per_run")],
            },
        ),
        migrations.CreateModel(
            name="SyncRunChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.PositiveIntegerField(help_text="The change's place in the report, from 0.")),
                ("action", models.CharField(max_length=20)),
                (
                    "action_seq",
                    models.PositiveIntegerField(help_text="The change's place among those of its action, from 0."),
                ),
                ("has_warnings", models.BooleanField(default=False)),
                ("person_id", models.BigIntegerField(blank=True, null=True)),
                ("chunk", models.PositiveIntegerField()),
                ("search", models.TextField(blank=True)),
                (
                    "run",
                    models.ForeignKey(
                        db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                        related_name="change_index", to="connections.syncrun",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["run", "seq"], name="syncrunchange_run_seq"),
                    models.Index(fields=["run", "action", "action_seq"], name="syncrunchange_run_action_seq"),
                    models.Index(
                        condition=models.Q(has_warnings=True), fields=["run", "seq"], name="syncrunchange_run_warned"
                    ),
                    models.Index(fields=["person_id"], name="syncrunchange_person"),
                ],
            },
        ),
        migrations.RunPython(move_changes_out, put_changes_back),
        migrations.AlterField(
            model_name="syncrun",
            name="report",
            field=connections.fields.CompressedJSONField(
                blank=True,
                help_text="The plan's head: fingerprints, streams, notes, locations. Its listed "
                "changes are SyncRunChangeChunk and SyncRunChange rows (connections.reports).",
            ),
        ),
    ]
