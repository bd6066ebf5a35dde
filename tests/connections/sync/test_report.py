"""A run's report as stored: streamed, compressed, and the same document as
``SyncPlan.to_report()``; and the planner leaving nothing behind for the
cyclic collector (a run pauses it)."""

from __future__ import annotations

import gc
import json
import sys
import zlib

import pytest

from connections.sync import PlanSettings, SyncPlan, directory_state_load, plan
from connections.sync.changes import REPORT_BATCH, Action, Change, LocationAction, LocationChange
from tests.connections.static_connector import employee


def _decoded(plan_: SyncPlan):
    return json.loads(zlib.decompress(plan_.report_compressed()))


@pytest.mark.parametrize("listed", [0, 1, REPORT_BATCH, REPORT_BATCH * 2 + 7])
def test_the_streamed_report_is_to_report_as_json(listed):
    changes = [
        Change(action=Action.CREATE, remote_id=f"N{n}", values={"first_name": f"Ann {n}", "status": "active"},
               fields={"depot": [None, "Leeds"]}, mapping={"state": "linked"})
        for n in range(listed)
    ]
    # Quiet unchanged records are counted, not listed.
    changes += [Change(action=Action.UNCHANGED, remote_id=f"U{n}") for n in range(5)]
    the_plan = SyncPlan(
        changes=changes,
        locations=[LocationChange(action=LocationAction.CREATE, remote_location_id="L1", remote_name="Leeds")],
        mappings_gone=[3, 4],
        notes=['A note with "quotes" and ünïcode.'],
        source_hash="s",
        directory_hash="d",
    )

    stored = _decoded(the_plan)

    assert stored == json.loads(json.dumps(the_plan.to_report()))
    assert len(stored["changes"]) == listed
    assert stored["unchanged_not_listed"] == 5
    assert SyncPlan.from_report(stored).count() == the_plan.count()


def test_a_created_person_s_report_shows_every_value_it_writes():
    create = Change(
        action=Action.CREATE,
        remote_id="1",
        values={"first_name": "Ada", "email": "", "hire_date": "2020-01-02", "status": "active",
                "depot_id": 7, "custom_fields": {"shoe": "42"}, "managed_by_id": 1},
        fields={"depot": [None, "Leeds"]},
    )

    fields = create.to_dict()["fields"]

    assert fields == {
        "first_name": [None, "Ada"],
        "hire_date": [None, "2020-01-02"],
        "status": [None, "active"],
        "custom.shoe": [None, "42"],
        "depot": [None, "Leeds"],
    }
    # Read back from a report, it writes out the same.
    assert Change.from_dict(json.loads(json.dumps(create.to_dict()))).to_dict()["fields"] == fields


@pytest.mark.django_db
def test_planning_leaves_no_cycle_that_keeps_the_records_alive(connection, source):
    # Django's ValidationError refers to itself; caught with its traceback it
    # kept the planner, and every record it had seen, alive until the cyclic
    # collector ran, which a run pauses.
    records = [employee("1", email="not-an-email"), employee("2"), employee("3")]
    before = [sys.getrefcount(r) for r in records]
    settings = PlanSettings(
        connection_id=connection.pk, connection_name=connection.name, status_map=connection.status_map,
        provides=source.provides, full_snapshot=True,
    )
    gc.disable()
    try:
        result = plan(settings=settings, state=directory_state_load(connection_id=connection.pk),
                      employees=records, locations=None)
        assert result.count()["errors"] == 1 and result.count()["created"] == 2
        del result
        after = [sys.getrefcount(r) for r in records]
    finally:
        gc.enable()
    assert after == before
