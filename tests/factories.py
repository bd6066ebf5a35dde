"""Model factories shared by the test tree."""

from __future__ import annotations

import factory

from connections.models import Connection, SyncRun
from hrsync.people.models import Depot, Person
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
    class Meta:
        model = SyncRun

    connection = factory.SubFactory(ConnectionFactory)
