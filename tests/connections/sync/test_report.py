"""A run's report as stored (``connections.reports``): the head in the run's
row, the listed changes in chunks with a narrow index, read back as exactly
``SyncPlan.to_report()``; and the planner leaving nothing behind for the
cyclic collector (a run pauses it)."""

from __future__ import annotations

import gc
import json
import math
import sys

import pytest
from django.db import transaction

from connections.models import SyncRun, SyncRunChange, SyncRunChangeChunk
from connections.reports import (
    CHUNK_SIZE,
    sync_run_changes_at,
    sync_run_changes_find,
    sync_run_plan_save,
    sync_run_report_changes,
    sync_run_report_plan,
)
from connections.sync import PlanSettings, SyncPlan, directory_state_load, plan
from connections.sync.changes import Action, Change, LocationAction, LocationChange
from tests.connections.static_connector import employee
from tests.factories import SyncRunFactory


def _saved(plan_: SyncPlan, **created) -> SyncRun:
    run = SyncRunFactory()
    with transaction.atomic():
        sync_run_plan_save(run_id=run.pk, plan=plan_, created_person_by_remote_id=created)
    return SyncRun.objects.get(pk=run.pk)


def _stored_document(run: SyncRun) -> dict:
    """The report as stored, less what the head counts for the run page."""
    head = {key: value for key, value in run.report.items() if key != "listed"}
    return {**head, "changes": list(sync_run_report_changes(run_id=run.pk))}


@pytest.mark.django_db
@pytest.mark.parametrize("listed", [0, 1, CHUNK_SIZE, CHUNK_SIZE * 2 + 7])
def test_a_stored_report_reads_back_as_to_report(listed):
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

    run = _saved(the_plan)

    assert _stored_document(run) == json.loads(json.dumps(the_plan.to_report()))
    assert "changes" not in run.report
    assert run.report["unchanged_not_listed"] == 5
    assert run.report["listed"] == {"actions": {"create": listed} if listed else {}, "warnings": 0, "total": listed}
    assert SyncRunChangeChunk.objects.filter(run=run).count() == math.ceil(listed / CHUNK_SIZE)
    assert list(SyncRunChange.objects.filter(run=run).order_by("seq").values_list("seq", flat=True)) == list(
        range(listed)
    )
    assert sync_run_report_plan(run=run).count() == the_plan.count()


@pytest.mark.django_db
def test_the_index_knows_each_change_s_action_warnings_person_and_search_text():
    the_plan = SyncPlan(changes=[
        Change(action=Action.UPDATE, remote_id="E-7", person_id=41, name="Ada Lovelace", email="Ada@Example.com",
               warnings=["Location 'L9' is not mapped to a depot."]),
        Change(action=Action.CREATE, remote_id="E-8", name="Bob Stone", email="bob@example.com"),
        Change(action=Action.ERROR, remote_id="E-9", message="The record has no status."),
    ])

    run = _saved(the_plan, **{"E-8": 99})

    rows = list(SyncRunChange.objects.filter(run=run).order_by("seq"))
    assert [(r.action, r.has_warnings, r.person_id) for r in rows] == [
        ("update", True, 41), ("create", False, 99), ("error", False, None),
    ]
    assert rows[0].search == "ada lovelace ada@example.com e-7"
    assert [c["remote_id"] for c in sync_run_changes_at(rows=sync_run_changes_find(run_id=run.pk, query="BOB"))] == [
        "E-8"
    ]
    # The page links the created person; the stored change stays the plan's.
    assert sync_run_changes_at(rows=rows[1:2])[0]["person_id"] == 99
    assert run.changes[1]["person_id"] is None


@pytest.mark.django_db
def test_saving_a_report_again_replaces_it():
    run = _saved(SyncPlan(changes=[Change(action=Action.DEACTIVATE, remote_id=str(n)) for n in range(150)]))

    with transaction.atomic():
        sync_run_plan_save(run_id=run.pk, plan=SyncPlan(changes=[Change(action=Action.UPDATE, remote_id="A")]))

    assert [c["remote_id"] for c in SyncRun.objects.get(pk=run.pk).changes] == ["A"]
    assert SyncRunChange.objects.filter(run=run).count() == 1
    assert SyncRunChangeChunk.objects.filter(run=run).count() == 1


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
                      records={"employees": records})
        assert result.count()["errors"] == 1 and result.count()["created"] == 2
        del result
        after = [sys.getrefcount(r) for r in records]
    finally:
        gc.enable()
    assert after == before


@pytest.mark.django_db
def test_an_approved_blocked_run_applies_every_change_of_its_stored_report(connection, source):
    from connections.runs import sync_run_approve
    from connections.sync.runner import sync_run_execute
    from hrsync.people.models import Person
    from tests.connections.helpers import run_sync
    from tests.factories import EmployeeMappingFactory, PersonFactory

    connection.safeguard_min = 0
    connection.save()
    for n in range(CHUNK_SIZE + 30):
        EmployeeMappingFactory(connection=connection, remote_id=str(n), person=PersonFactory())
    source.employees = []
    blocked = run_sync(connection, scope="employees")
    assert blocked.status == SyncRun.Status.BLOCKED
    listed = blocked.changes

    approved = sync_run_execute(run_id=sync_run_approve(run=blocked, enqueue=False).pk)

    assert len(listed) == CHUNK_SIZE + 30
    assert approved.status == SyncRun.Status.SUCCEEDED
    assert Person.objects.filter(status=Person.Status.INACTIVE).count() == CHUNK_SIZE + 30
    # Its report is what was approved, stored once (not twice over).
    assert approved.changes == listed
    assert SyncRunChange.objects.filter(run=approved).count() == CHUNK_SIZE + 30
