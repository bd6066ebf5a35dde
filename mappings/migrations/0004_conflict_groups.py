"""Conflicts compared side by side, and depots mapped by name said so.

A record an admin unlinked (or stopped ignoring) waited as a "conflict" with
a fixed message; it now has a state of its own, "unmatched", so the
Conflicts filter holds only records that really collide.
"""

from django.db import migrations, models

#: The message ``mappings.services`` gave such a record before this migration.
OLD_NOT_LINKED_MESSAGE = (
    "Not linked to anybody: the next sync links this record to the person with its email, "
    "or creates a new person."
)


def waiting_records_become_unmatched(apps, schema_editor):
    EmployeeMapping = apps.get_model("mappings", "EmployeeMapping")
    EmployeeMapping.objects.filter(state="conflict", message=OLD_NOT_LINKED_MESSAGE).update(state="unmatched")


def unmatched_records_become_conflicts(apps, schema_editor):
    EmployeeMapping = apps.get_model("mappings", "EmployeeMapping")
    EmployeeMapping.objects.filter(state="unmatched").update(state="conflict", message=OLD_NOT_LINKED_MESSAGE)


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0003_one_link_per_person"),
    ]

    operations = [
        migrations.AlterField(
            model_name="employeemapping",
            name="state",
            field=models.CharField(
                choices=[
                    ("linked", "Linked"),
                    ("ignored", "Ignored"),
                    ("conflict", "Conflict"),
                    ("unmatched", "Unmatched"),
                ],
                default="linked",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="employeemapping",
            name="remote_records",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="depotmapping",
            name="matched_by_name",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(waiting_records_become_unmatched, unmatched_records_become_conflicts),
    ]
