"""A run made of streams: each scope a preset of streams, each stream read
once, and the report saying per stream what was read and what it did."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

from connections.models import SyncRun
from connections.sync.streams import EMPLOYEES, LOCATIONS, scope_streams
from connectors.base import RemoteLocation
from hrsync.people.models import Person
from mappings.models import DepotMapping
from tests.connections.helpers import run_sync
from tests.connections.static_connector import StaticConnector, employee
from tests.factories import EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _stored(run: SyncRun) -> dict:
    return SyncRun.objects.get(pk=run.pk).report


@pytest.mark.parametrize(
    ("scope", "streams"),
    [("all", (LOCATIONS, EMPLOYEES)), ("employees", (EMPLOYEES,)), ("locations", (LOCATIONS,))],
)
def test_each_scope_is_a_preset_of_the_streams_the_connector_offers(source, scope, streams):
    assert scope_streams(scope=scope, connector=source(config={}, secrets={})) == streams


def test_a_connector_without_locations_is_read_for_employees_only_whatever_the_scope(source, monkeypatch):
    monkeypatch.setattr(source, "streams", frozenset({"employees"}))
    connector = source(config={}, secrets={})

    assert scope_streams(scope="all", connector=connector) == (EMPLOYEES,)
    assert scope_streams(scope="locations", connector=connector) == ()


def test_the_report_says_per_stream_what_was_read_and_what_the_run_did(connection, source):
    source.locations = [RemoteLocation("L1", "Leeds"), RemoteLocation("L2", "York")]
    source.employees = [employee("1", location_id="L1"), employee("2"), employee("3")]

    run = run_sync(connection)

    streams = _stored(run)["streams"]
    assert streams["locations"] == {
        "records": 2,
        "full_snapshot": True,
        "counts": {"create": 2, "update": 0, "unchanged": 0},
    }
    assert streams["employees"]["records"] == 3
    assert streams["employees"]["full_snapshot"] is True
    assert streams["employees"]["counts"]["created"] == 3
    assert "locations" not in streams["employees"]["counts"]


def test_a_run_of_one_scope_reports_only_the_stream_it_read(connection, source):
    source.locations = [RemoteLocation("L1", "Leeds")]
    source.employees = [employee("1")]

    run = run_sync(connection, scope="locations")

    assert list(_stored(run)["streams"]) == ["locations"]
    assert not Person.objects.exists()


def test_a_partial_feed_of_employees_is_reported_partial_and_deactivates_nobody(connection, source, monkeypatch):
    monkeypatch.setattr(source, "full_snapshot", False)
    left = EmployeeMappingFactory(connection=connection, remote_id="gone", person=PersonFactory(status="active"))
    source.employees = [employee("1")]

    run = run_sync(connection, scope="employees")

    assert _stored(run)["streams"]["employees"]["full_snapshot"] is False
    assert Person.objects.get(pk=left.person_id).status == "active"


def test_an_approved_run_keeps_the_streams_it_read_in_its_report(connection, source):
    from connections.runs import sync_run_approve
    from connections.sync import runner

    for n in range(30):
        EmployeeMappingFactory(connection=connection, remote_id=f"old{n}", person=PersonFactory(status="active"))
    source.employees = [employee("1")]
    blocked = run_sync(connection, scope="employees")
    assert blocked.status == SyncRun.Status.BLOCKED

    approved = runner.sync_run_execute(run_id=sync_run_approve(run=blocked, enqueue=False).pk)

    streams = _stored(approved)["streams"]
    assert streams["employees"]["records"] == 1
    assert streams["employees"]["counts"]["deactivated"] == 30


def test_locations_named_in_the_employee_records_are_taken_from_them_in_one_read(connection, source, monkeypatch):
    monkeypatch.setattr(source, "locations_in_records", True)
    reads = []
    fetch_employees = StaticConnector.fetch_employees

    def fetch_employees_counted(self):
        reads.append("employees")
        return fetch_employees(self)

    def fetch_locations_refused(self):
        raise AssertionError("the locations were read a second time")

    monkeypatch.setattr(source, "fetch_employees", fetch_employees_counted)
    monkeypatch.setattr(source, "fetch_locations", fetch_locations_refused)
    source.employees = [employee("1", location_id="Leeds"), employee("2", location_id="Leeds")]

    run = run_sync(connection)

    assert reads == ["employees"]
    assert list(DepotMapping.objects.filter(connection=connection).values_list("remote_location_id", flat=True)) == [
        "Leeds"
    ]
    assert _stored(run)["streams"]["locations"]["records"] == 1


@pytest.mark.parametrize("module", ["connections.services", "connections.runs", "connections.sync.runner"])
def test_no_service_module_imports_the_tasks_when_it_is_imported(module):
    # The tasks import the services; the services reach the tasks only inside
    # the function that enqueues, so neither is half-imported by the other.
    code = (
        "import sys, django; django.setup(); "
        f"import {module}; "
        "print('connections.tasks' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hrsync.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
