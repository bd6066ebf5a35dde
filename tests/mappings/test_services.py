"""depot_map: a remote location → a depot, creating the depot if missing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from hrsync.people.models import Depot
from mappings.models import DepotMapping
from mappings.services import depot_map
from tests.factories import DepotFactory, DepotMappingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection():
    from connections.services import connection_create

    return connection_create(kind="sample", name="Demo", config={"size": "10"})


def test_mapping_creates_the_depot_when_there_is_none(connection):
    mapping = depot_map(connection=connection, remote_location_id="L1", depot_name="Sydney Depot")

    assert mapping.depot == Depot.objects.get(name="Sydney Depot")
    assert (mapping.connection, mapping.remote_location_id) == (connection, "L1")


def test_mapping_reuses_a_depot_whose_name_differs_only_in_case(connection):
    existing = DepotFactory(name="Sydney Depot")

    mapping = depot_map(connection=connection, remote_location_id="L1", depot_name="  sydney   DEPOT ")

    assert mapping.depot == existing
    assert Depot.objects.count() == 1


def test_mapping_a_location_seen_by_a_sync_keeps_its_remote_name(connection):
    seen = DepotMappingFactory(connection=connection, remote_location_id="L1", remote_name="Sydney")

    mapping = depot_map(connection=connection, remote_location_id="L1", depot_name="Sydney Depot")

    assert mapping.pk == seen.pk
    assert mapping.remote_name == "Sydney"
    assert DepotMapping.objects.count() == 1


def test_mapping_again_points_the_location_at_the_new_depot(connection):
    depot_map(connection=connection, remote_location_id="L1", depot_name="Sydney Depot")

    mapping = depot_map(connection=connection, remote_location_id="L1", depot_name="Parramatta Depot")

    assert mapping.depot.name == "Parramatta Depot"
    assert DepotMapping.objects.get().depot.name == "Parramatta Depot"
    assert Depot.objects.count() == 2  # the old depot stays; others may use it


def test_the_same_location_id_of_another_connection_is_a_separate_mapping(connection):
    from connections.services import connection_create

    other = connection_create(kind="sample", name="Other", config={"size": "10"})
    depot_map(connection=connection, remote_location_id="L1", depot_name="Sydney Depot")
    depot_map(connection=other, remote_location_id="L1", depot_name="Perth Depot")

    assert {m.connection.name: m.depot.name for m in DepotMapping.objects.all()} == {
        "Demo": "Sydney Depot",
        "Other": "Perth Depot",
    }


@pytest.mark.parametrize(
    ("remote_location_id", "depot_name"), [("", "Sydney"), ("  ", "Sydney"), ("L1", ""), ("L1", "   ")]
)
def test_a_blank_location_id_or_depot_name_is_refused(connection, remote_location_id, depot_name):
    with pytest.raises(ValidationError):
        depot_map(connection=connection, remote_location_id=remote_location_id, depot_name=depot_name)
    assert not DepotMapping.objects.exists()
    assert not Depot.objects.exists()


def test_a_depot_name_that_is_too_long_is_refused(connection):
    with pytest.raises(ValidationError):
        depot_map(connection=connection, remote_location_id="L1", depot_name="x" * 201)
    assert not DepotMapping.objects.exists()
