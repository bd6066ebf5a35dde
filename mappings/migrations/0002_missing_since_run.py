"""EmployeeMapping.last_seen_run becomes missing_since_run.

``last_seen_run`` was rewritten on every mapping at every sync: for a roster
of 100,000 people that was 100,000 row updates (and as many foreign-key
checks) even when nothing changed. ``missing_since_run`` says the same thing
the other way round and changes only when a record leaves or comes back.
It starts empty; the next sync fills it in for records already gone.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0002_report_compressed"),
        ("mappings", "0001_initial"),
    ]

    operations = [
        migrations.RemoveField(model_name="employeemapping", name="last_seen_run"),
        migrations.AddField(
            model_name="employeemapping",
            name="missing_since_run",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="connections.syncrun",
            ),
        ),
    ]
