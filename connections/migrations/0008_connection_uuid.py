import uuid

from django.db import migrations, models


def _give_each_a_uuid(apps, schema_editor):
    Connection = apps.get_model("connections", "Connection")
    for connection in Connection.objects.filter(uuid__isnull=True).only("id"):
        Connection.objects.filter(pk=connection.pk).update(uuid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0007_training_scope"),
    ]

    operations = [
        # Added empty first: a default callable would give every existing row the same value.
        migrations.AddField(
            model_name="connection",
            name="uuid",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(_give_each_a_uuid, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="connection",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, unique=True, null=True, editable=False),
        ),
    ]
