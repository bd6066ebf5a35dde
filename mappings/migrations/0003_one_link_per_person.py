"""A person is linked by one connection at most (a partial unique constraint).

Two connections that synced at the same time could both link the same
people. Before the constraint is added, every such person keeps their oldest
link; the newer ones become conflicts that say why, so an admin sees them in
the Employees tab, and the person is managed by the connection that kept them.
"""

from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone


def unlink_all_but_the_oldest_link(apps, schema_editor):
    EmployeeMapping = apps.get_model("mappings", "EmployeeMapping")
    Person = apps.get_model("people", "Person")
    linked = EmployeeMapping.objects.filter(state="linked", person__isnull=False)
    shared = (
        linked.values("person_id").annotate(links=Count("id")).filter(links__gt=1).values_list("person_id", flat=True)
    )
    now = timezone.now()
    for person in Person.objects.filter(pk__in=list(shared)):
        kept, *unlinked = linked.filter(person=person).select_related("connection").order_by("created_at", "id")
        name = f"{person.first_name} {person.last_name}".strip() or person.email or f"person {person.pk}"
        EmployeeMapping.objects.filter(pk__in=[mapping.pk for mapping in unlinked]).update(
            state="conflict",
            person=None,
            message=f"{name} is already linked to {kept.connection.name}, so this record was unlinked: "
            "a person can be linked by one connection only. Unlink them there first to link them here.",
            updated_at=now,
        )
        Person.objects.filter(pk=person.pk).update(managed_by_id=kept.connection_id, updated_at=now)


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0002_missing_since_run"),
        ("people", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(unlink_all_but_the_oldest_link, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="employeemapping",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "linked")),
                fields=("person",),
                name="employee_mapping_one_link_per_person",
            ),
        ),
    ]
