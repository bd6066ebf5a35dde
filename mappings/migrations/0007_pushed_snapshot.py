from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mappings', '0006_employee_id_order'),
    ]

    operations = [
        migrations.AddField(
            model_name='employeemapping',
            name='pushed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='employeemapping',
            name='pushed_snapshot',
            field=models.JSONField(blank=True, db_default=models.Value({}, models.JSONField()), default=dict),
        ),
    ]
