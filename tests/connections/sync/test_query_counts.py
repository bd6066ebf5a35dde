"""The sync engine's statement counts, pinned: the planner's do not grow with
the roster, the applier's grow at most with its batches (SQLite) or not at
all (PostgreSQL's COPY). The benchmark (bench/) measures the same at 100,000
people; these run in a second on a few hundred."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.db import connection as db
from django.db import transaction
from django.db.utils import DataError
from django.test.utils import CaptureQueriesContext

from connections.sync import bulk
from connections.sync import runner
from hrsync.people.models import Depot, Person
from tests.connections.helpers import run_sync
from tests.connections.static_connector import employee

#: The applier's bulk statements per batch (people, managers, mappings, …).
STATEMENTS_PER_BATCH = 10


@pytest.fixture
def measured(monkeypatch):
    """Statements issued while planning and while applying, per run."""
    counts: dict[str, list[int]] = {"plan": [], "apply": []}

    def measure(phase, function):
        def wrapped(*args, **kwargs):
            with CaptureQueriesContext(db) as captured:
                result = function(*args, **kwargs)
            counts[phase].append(len(captured.captured_queries))
            return result

        return wrapped

    monkeypatch.setattr(runner, "directory_state_load", measure("plan", runner.directory_state_load))
    monkeypatch.setattr(runner, "apply_plan", measure("apply", runner.apply_plan))
    monkeypatch.setattr(bulk, "BATCH_SIZE", 50)
    return counts


def _roster(size: int, *, generation: int = 0) -> list:
    return [
        employee(
            f"E{n}",
            job_title=f"Role {generation if n % 3 == 0 else 0}",
            manager_remote_id="" if n == 0 else f"E{n // 5}",
        )
        for n in range(size)
    ]


def _sync_twice(connection, source, size: int) -> None:
    source.employees = _roster(size)
    assert run_sync(connection, scope="employees").counts["created"] == size
    source.employees = _roster(size, generation=1)[: size - size // 10]  # a tenth leave
    counts = run_sync(connection, scope="employees").counts
    assert counts["updated"] > 0 and counts["deactivated"] == size // 10


@pytest.mark.django_db
def test_statement_counts_do_not_grow_with_the_roster(connection, source, measured):
    connection.safeguard_percent = 100
    connection.save()
    _sync_twice(connection, source, 20)
    Person.objects.all().delete()
    connection.employee_mappings.all().delete()
    small = {phase: list(counts) for phase, counts in measured.items()}
    for counts in measured.values():
        counts.clear()

    _sync_twice(connection, source, 400)

    assert measured["plan"] == small["plan"]
    extra_batches = math.ceil(400 / 50) - math.ceil(20 / 50)
    for large, few in zip(measured["apply"], small["apply"], strict=True):
        if db.vendor == "postgresql":
            assert large == few  # COPY: the same statements for 20 rows or 400
        else:
            assert few < large <= few + STATEMENTS_PER_BATCH * extra_batches


# -- the bulk writer itself ---------------------------------------------------------


@pytest.mark.django_db
def test_rows_update_keeps_what_it_is_told_to_keep_and_writes_every_type():
    depot = Depot.objects.create(name="Leeds")
    people = [Person.objects.create(email=f"p{n}@example.com", job_title="Driver") for n in range(3)]
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with transaction.atomic():
        bulk.rows_update(
            Person,
            ["job_title", "depot_id", "hire_date", "custom_fields", "is_protected", "updated_at"],
            [
                [people[0].pk, "Planner", depot.pk, dt.date(2020, 5, 1), {"shoe": "42"}, True, stamp],
                [people[1].pk, bulk.KEEP, None, bulk.KEEP, bulk.KEEP, bulk.KEEP, stamp],
            ],
        )
    first, second, third = (Person.objects.get(pk=p.pk) for p in people)
    assert (first.job_title, first.depot_id, first.hire_date) == ("Planner", depot.pk, dt.date(2020, 5, 1))
    assert (first.custom_fields, first.is_protected, first.updated_at) == ({"shoe": "42"}, True, stamp)
    assert (second.job_title, second.depot_id, second.custom_fields, second.is_protected) == ("Driver", None, {}, False)
    assert second.updated_at == stamp
    assert third.job_title == "Driver" and third.updated_at != stamp


@pytest.mark.django_db
def test_rows_insert_returns_each_rows_id_in_order():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    defaults = {f.attname: f.get_default() for f in Person._meta.concrete_fields if not f.primary_key}
    defaults.update(created_at=now, updated_at=now)
    columns = list(defaults)
    rows = [
        [{**defaults, "first_name": f"N{n}", "email": f"n{n}@example.com"}[c] for c in columns]
        for n in range(120)
    ]
    with transaction.atomic():
        ids = bulk.rows_insert(Person, columns, rows)
    assert [Person.objects.get(pk=pk).first_name for pk in ids] == [f"N{n}" for n in range(120)]


@pytest.mark.django_db(transaction=True)
def test_bulk_writes_refuse_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the applier's transaction"):
        bulk.rows_insert(Person, ["email"], [["a@example.com"]])


@pytest.mark.django_db
def test_an_over_long_value_is_refused_not_cut_short():
    if db.vendor != "postgresql":
        pytest.skip("SQLite does not enforce column lengths")
    person = Person.objects.create(email="p@example.com")
    with pytest.raises(DataError), transaction.atomic():
        bulk.rows_update(Person, ["job_title"], [[person.pk, "x" * 201]])
