"""connections 0003: a stored report's listed changes move out of its blob
into chunks and an index, and back again."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor

from connections.models import SyncRun, SyncRunChange
from connections.reports import CHUNK_SIZE, sync_run_report_plan

BEFORE = [("connections", "0002_report_compressed"), ("people", "0001_initial"), ("mappings", "0001_initial")]
AFTER = [("connections", "0003_report_changes")]


def _migrate(target) -> None:
    MigrationExecutor(db).migrate(target)


@pytest.fixture
def migrated_back(transactional_db):
    """The apps before the migration; migrated forward to the latest afterwards."""
    _migrate(BEFORE)
    try:
        yield MigrationExecutor(db).loader.project_state(BEFORE).apps
    finally:
        executor = MigrationExecutor(db)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _change(n: int, action: str = "update", **extra) -> dict:
    return {
        "action": action, "remote_id": f"R{n}", "person_id": None, "email": f"r{n}@example.com",
        "name": f"Name {n}", "fields": {"job_title": ["A", f"B{n}"]}, "values": {"job_title": f"B{n}"},
        "mapping": None, "mapping_id": None, "message": "", "warnings": ["w"] if n == 3 else [], "position": "",
        **extra,
    }


def test_old_reports_move_out_of_their_blob_and_back(migrated_back):
    Connection = migrated_back.get_model("connections", "Connection")
    OldRun = migrated_back.get_model("connections", "SyncRun")
    OldPerson = migrated_back.get_model("people", "Person")
    OldMapping = migrated_back.get_model("mappings", "EmployeeMapping")
    hr = Connection.objects.create(kind="static", name="HR")
    created = OldPerson.objects.create(first_name="New", email="new@example.com")
    OldMapping.objects.create(connection=hr, remote_id="N1", person=created, state="linked")
    changes = [_change(n) for n in range(CHUNK_SIZE + 5)] + [_change(0, "create", remote_id="N1")]
    report = {"version": 2, "notes": ["A note."], "streams": {"employees": {"records": 106}},
              "unchanged_not_listed": 4, "changes": changes}
    big = OldRun.objects.create(connection=hr, status="succeeded", report=report, counts={"updated": 105})
    empty = OldRun.objects.create(connection=hr, status="failed", report={})

    _migrate(AFTER)

    # Columns of later migrations are not there yet at 0003.
    moved = SyncRun.objects.defer("delta", "read_since", "inbound_file").get(pk=big.pk)
    assert "changes" not in moved.report
    assert moved.report["notes"] == ["A note."] and moved.report["unchanged_not_listed"] == 4
    assert moved.report["listed"] == {"actions": {"update": CHUNK_SIZE + 5, "create": 1}, "warnings": 1,
                                      "total": CHUNK_SIZE + 6}
    assert moved.changes == changes
    assert moved.change_chunks.count() == 2
    index = list(SyncRunChange.objects.filter(run=moved).order_by("seq"))
    assert [row.seq for row in index] == list(range(len(changes)))
    assert [row.seq for row in index if row.has_warnings] == [3]
    assert [row.action_seq for row in index[-2:]] == [CHUNK_SIZE + 4, 0]
    # A real run's created person is known to the index, as the runner records it now.
    assert index[-1].person_id == created.pk
    assert [c.remote_id for c in sync_run_report_plan(run=moved).changes] == [c["remote_id"] for c in changes]
    assert SyncRun.objects.defer("delta", "read_since", "inbound_file").get(pk=empty.pk).changes == []

    _migrate(BEFORE)

    restored = OldRun.objects.get(pk=big.pk)
    assert restored.report == report
    assert OldRun.objects.get(pk=empty.pk).report == {}
