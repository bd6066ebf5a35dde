from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0008_connection_uuid"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboundfile",
            name="method",
            field=models.CharField(blank=True, max_length=10),
        ),
    ]
