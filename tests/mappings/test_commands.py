"""``manage.py depots list|map``."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.services import connection_create
from hrsync.people.models import Depot, Person
from mappings.models import DepotMapping
from tests.factories import DepotMappingFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def connection():
    return connection_create(kind="sample", name="Demo", config={"size": "10"})


def test_map_creates_the_depot_and_the_mapping(connection):
    out = run("depots", "map", "Demo", "L1", "Sydney Depot")

    mapping = DepotMapping.objects.get(connection=connection, remote_location_id="L1")
    assert mapping.depot == Depot.objects.get(name="Sydney Depot")
    assert out == "Mapped Demo location L1 to depot Sydney Depot.\n"


def test_map_names_the_remote_location_when_a_sync_has_seen_it(connection):
    DepotMappingFactory(connection=connection, remote_location_id="L1", remote_name="Sydney")
    out = run("depots", "map", str(connection.pk), "L1", "sydney depot")
    assert out == "Mapped Demo location L1 (Sydney) to depot sydney depot.\n"


def test_map_of_an_unknown_connection_exits_2():
    with pytest.raises(CommandError) as info:
        run("depots", "map", "Nope", "L1", "Sydney Depot")
    assert info.value.returncode == 2
    assert not Depot.objects.exists()


def test_map_with_a_blank_depot_name_exits_2(connection):
    with pytest.raises(CommandError) as info:
        run("depots", "map", "Demo", "L1", " ")
    assert info.value.returncode == 2
    assert "depot name" in str(info.value)


def test_list_shows_locations_after_a_locations_sync(connection):
    assert "has no locations yet" in run("depots", "list", "Demo")
    run("sync", "Demo", "--scope", "locations")
    run("depots", "map", "Demo", "LOC-LEEDS", "Leeds")

    out = run("depots", "list", "Demo")
    rows = json.loads(run("depots", "list", "Demo", "--json"))

    assert "Leeds Depot" in out and "not mapped" in out
    assert len(rows) == 6
    assert set(rows[0]) == {"remote_location_id", "remote_name", "depot_id", "depot"}
    leeds = next(r for r in rows if r["remote_location_id"] == "LOC-LEEDS")
    assert (leeds["remote_name"], leeds["depot"]) == ("Leeds Depot", "Leeds")
    assert sum(1 for r in rows if r["depot"] is None) == 5


def test_list_of_an_unknown_connection_exits_2():
    with pytest.raises(CommandError) as info:
        run("depots", "list", "Nope")
    assert info.value.returncode == 2


def test_people_follow_a_mapped_location_at_the_next_employees_sync(connection):
    run("sync", "Demo")
    run("depots", "map", "Demo", "LOC-LEEDS", "Leeds")
    run("sync", "Demo", "--scope", "employees")

    assert Depot.objects.get(name="Leeds").people.exists()


def test_an_actionhrm_person_gets_their_depot_once_the_location_is_mapped():
    base = "https://acme.actionhrm.com"
    connection_create(
        kind="actionhrm", name="Acme HR",
        config={"subdomain": "acme", "username": "api-user"}, secrets={"password": "pw"},
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(f"{base}/api/v1/locations", json={"locations": [{"id": "L1", "name": "Sydney Depot"}]})
        mocked.get(
            f"{base}/api/v1/employees",
            json={
                "employees": [
                    {"id": "1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                     "status": "Active", "location_id": "L1"}
                ],
                "page": 1, "per_page": 100, "total": 1,
            },
        )
        first = json.loads(run("sync", "Acme HR", "--json"))
        run("depots", "map", "Acme HR", "L1", "Sydney")
        second = json.loads(run("sync", "Acme HR", "--json"))

    assert first["counts"]["warnings"] == 1  # the location was not mapped yet
    assert (second["counts"]["updated"], second["counts"]["warnings"]) == (1, 0)
    assert Person.objects.get(email="ada@example.com").depot.name == "Sydney"
