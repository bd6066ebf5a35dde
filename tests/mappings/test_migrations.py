"""Migrations that change what the database guarantees, run on data that
broke the guarantee before it existed."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor

from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from tests.factories import ConnectionFactory

BEFORE = [("mappings", "0002_missing_since_run")]
AFTER = [("mappings", "0003_one_link_per_person")]


@pytest.fixture
def migrated_back(transactional_db):
    """The apps as they were before the migration; migrated forward again afterwards."""
    executor = MigrationExecutor(db)
    executor.migrate(BEFORE)
    try:
        yield executor.loader.project_state(BEFORE).apps
    finally:
        executor = MigrationExecutor(db)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _migrate_forward():
    """The apps as they are just after the migration (later ones add columns)."""
    executor = MigrationExecutor(db)
    executor.migrate(AFTER)
    return executor.loader.project_state(AFTER).apps


def test_a_person_linked_by_several_connections_stays_linked_to_the_oldest_link_only(migrated_back):
    Connection = migrated_back.get_model("connections", "Connection")
    OldPerson = migrated_back.get_model("people", "Person")
    OldMapping = migrated_back.get_model("mappings", "EmployeeMapping")
    one, two, three = (Connection.objects.create(kind="static", name=f"HR {n}") for n in ("One", "Two", "Three"))
    sam = OldPerson.objects.create(first_name="Sam", last_name="Lee", email="sam@example.com", managed_by=three)
    kim = OldPerson.objects.create(first_name="Kim", last_name="Ode", email="kim@example.com", managed_by=two)
    first = OldMapping.objects.create(connection=one, remote_id="1", person=sam, state="linked")
    second = OldMapping.objects.create(connection=two, remote_id="9", person=sam, state="linked")
    third = OldMapping.objects.create(connection=three, remote_id="S", person=sam, state="linked")
    only = OldMapping.objects.create(connection=two, remote_id="K", person=kim, state="linked")

    apps = _migrate_forward()

    mappings = {m.pk: m for m in apps.get_model("mappings", "EmployeeMapping").objects.all()}
    assert (mappings[first.pk].state, mappings[first.pk].person_id) == ("linked", sam.pk)
    assert (mappings[only.pk].state, mappings[only.pk].person_id) == ("linked", kim.pk)
    for duplicate in (second, third):
        mapping = mappings[duplicate.pk]
        assert (mapping.state, mapping.person_id) == ("conflict", None)
        assert mapping.message == (
            "Sam Lee is already linked to HR One, so this record was unlinked: a person can be "
            "linked by one connection only. Unlink them there first to link them here."
        )
    assert Person.objects.get(pk=sam.pk).managed_by_id == one.pk
    assert Person.objects.get(pk=kim.pk).managed_by_id == two.pk


@pytest.mark.django_db
def test_the_database_refuses_a_second_link_to_one_person():
    person = Person.objects.create(email="sam@example.com")
    EmployeeMapping.objects.create(connection=ConnectionFactory(), remote_id="1", person=person)
    with pytest.raises(IntegrityError), transaction.atomic():
        EmployeeMapping.objects.create(connection=ConnectionFactory(), remote_id="1", person=person)
    # Records in conflict or ignored may point at anybody.
    EmployeeMapping.objects.create(connection=ConnectionFactory(), remote_id="2", person=person, state="conflict")
    EmployeeMapping.objects.create(connection=ConnectionFactory(), remote_id="3", person=person, state="ignored")
