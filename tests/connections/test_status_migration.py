"""connections 0004: existing runs get the statuses that say what happened
("Completed with conflicts", "Rejected"), and get the old ones back when the
migration is reversed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("connections", "0003_report_changes")]
AFTER = [("connections", "0004_run_statuses")]


def _migrate(target):
    executor = MigrationExecutor(db)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.fixture
def migrated_back(transactional_db):
    """The apps as they were before the migration; migrated forward again afterwards."""
    apps = _migrate(BEFORE)
    try:
        yield apps
    finally:
        executor = MigrationExecutor(db)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_runs_are_renamed_for_what_happened_and_back_again(migrated_back):
    Connection = migrated_back.get_model("connections", "Connection")
    OldRun = migrated_back.get_model("connections", "SyncRun")
    connection = Connection.objects.create(kind="static", name="HR")
    decided = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def run(status, **fields):
        return OldRun.objects.create(connection=connection, status=status, **fields).pk

    rejected = run("cancelled", decided_at=decided)
    superseded = run("cancelled")
    conflicts_only = run("completed_with_errors", counts={"conflicts": 3, "errors": 0, "created": 5})
    conflicts_no_error_key = run("completed_with_errors", counts={"conflicts": 1})
    errors = run("completed_with_errors", counts={"conflicts": 2, "errors": 1})
    nothing_counted = run("completed_with_errors", counts={})
    succeeded = run("succeeded", counts={"created": 1})

    def statuses(apps):
        return dict(apps.get_model("connections", "SyncRun").objects.values_list("pk", "status"))

    forward = statuses(_migrate(AFTER))

    assert forward == {
        rejected: "rejected",
        superseded: "cancelled",
        conflicts_only: "completed_with_conflicts",
        conflicts_no_error_key: "completed_with_conflicts",
        errors: "completed_with_errors",
        nothing_counted: "completed_with_errors",
        succeeded: "succeeded",
    }

    backward = statuses(_migrate(BEFORE))

    assert backward == {
        rejected: "cancelled",
        superseded: "cancelled",
        conflicts_only: "completed_with_errors",
        conflicts_no_error_key: "completed_with_errors",
        errors: "completed_with_errors",
        nothing_counted: "completed_with_errors",
        succeeded: "succeeded",
    }
