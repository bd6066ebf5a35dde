"""Model factories shared by the test tree."""

from __future__ import annotations

import factory
from django.db import transaction

from connections.models import Connection, SyncRun
from connections.reports import sync_run_report_save
from hrsync.people.models import Depot, Person, TrainingRecord
from mappings.models import DepotMapping, EmployeeMapping


class DepotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Depot

    name = factory.Sequence(lambda n: f"Depot {n}")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    status = Person.Status.ACTIVE


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection

    kind = "static"
    name = factory.Sequence(lambda n: f"Connection {n}")
    status_map = factory.LazyFunction(
        lambda: {
            "Active": "active",
            "On Leave": "on_leave",
            "Onboarding": "onboarding",
            "Inactive": "inactive",
            "Terminated": "terminated",
        }
    )


class EmployeeMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmployeeMapping

    connection = factory.SubFactory(ConnectionFactory)
    remote_id = factory.Sequence(lambda n: f"R{n}")
    person = factory.SubFactory(PersonFactory)


class DepotMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DepotMapping

    connection = factory.SubFactory(ConnectionFactory)
    remote_location_id = factory.Sequence(lambda n: f"L{n}")
    remote_name = factory.Sequence(lambda n: f"Location {n}")


class SyncRunFactory(factory.django.DjangoModelFactory):
    """``report=`` takes a whole report document (``SyncPlan.to_report()``,
    or a dict with ``changes``) and stores it as a run's report is stored."""

    class Meta:
        model = SyncRun

    connection = factory.SubFactory(ConnectionFactory)

    @classmethod
    def _create(cls, model_class, *args, report=None, **kwargs):
        run = super()._create(model_class, *args, **kwargs)
        if report is not None:
            sync_run_report_store(run=run, report=report)
        return run


def sync_run_report_store(*, run: SyncRun, report: dict) -> None:
    """Store a report document as the runner would (connections.reports)."""
    head = {key: value for key, value in report.items() if key != "changes"}
    # As the runner links the people a real run created (ApplyResult).
    created = {} if run.dry_run else dict(
        EmployeeMapping.objects.filter(connection=run.connection_id, person__isnull=False)
        .values_list("remote_id", "person_id")
    )
    with transaction.atomic():
        sync_run_report_save(
            run_id=run.pk, head=head, changes=report.get("changes") or [], created_person_by_remote_id=created
        )
    run.refresh_from_db(fields=["report"])


class TrainingRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingRecord

    person = factory.SubFactory(PersonFactory)
    connection = factory.SubFactory(ConnectionFactory)
    kind = TrainingRecord.Kind.BOOKING
    remote_id = factory.Sequence(lambda n: f"T{n}")
    label = "First Aid"
    status = "Booked"
