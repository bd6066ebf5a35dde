"""One run per connection, and one connection per person, guaranteed by the
database under real concurrency."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db
from django.db import connections

from connections.models import SyncRun
from connections.sync import apply_plan
from connections.runs import SyncAlreadyRunning, sync_run_start
from connections.sync import runner
from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from tests.conftest import need_service
from tests.connections.helpers import run_sync
from tests.connections.static_connector import employee
from tests.factories import ConnectionFactory


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_start_exactly_one_run(source):
    need_service(db.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    connection = ConnectionFactory(name="Racy HR")
    attempts = 8
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def request_sync() -> None:
        try:
            barrier.wait(timeout=10)
            sync_run_start(connection=connection, enqueue=False)
            outcome = "started"
        except SyncAlreadyRunning as exc:
            outcome = str(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=request_sync) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["A sync is already running for Racy HR."] * (attempts - 1) + ["started"]
    assert SyncRun.objects.filter(connection=connection).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_connections_linking_the_same_people_at_once_link_each_person_to_one_of_them(source, monkeypatch):
    need_service(db.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    size = 500
    Person.objects.bulk_create(
        Person(first_name=f"First{n}", last_name=f"Last{n}", email=f"p{n}@example.com") for n in range(size)
    )
    source.employees = [employee(f"E{n}", email=f"p{n}@example.com") for n in range(size)]
    runs = _sync_two_connections_at_once(monkeypatch)

    outcomes = sorted(
        (run.status, run.counts["linked"], run.counts["conflicts"], run.error) for run in runs.values()
    )
    assert outcomes == [("completed_with_conflicts", 0, size, ""), ("succeeded", size, 0, "")]
    winner = next(run.connection for run in runs.values() if run.status == "succeeded")
    loser = next(run for run in runs.values() if run.status != "succeeded")
    linked = EmployeeMapping.objects.filter(state=EmployeeMapping.State.LINKED)
    assert linked.count() == size
    assert set(linked.values_list("connection_id", flat=True)) == {winner.pk}
    assert set(Person.objects.values_list("managed_by_id", flat=True)) == {winner.pk}
    conflicts = EmployeeMapping.objects.filter(connection=loser.connection)
    assert conflicts.count() == size
    assert set(conflicts.values_list("state", "person_id")) == {(EmployeeMapping.State.CONFLICT, None)}
    first = conflicts.get(remote_id="E0")
    # The person as the winning run left them: it took the roster's names.
    assert first.message == f"FirstE0 LastE0 has this email but is already linked to {winner.name}."
    reported = {change["remote_id"]: change for change in SyncRun.objects.get(pk=loser.pk).changes}
    assert reported["E0"]["action"] == "conflict" and reported["E0"]["message"] == first.message


@pytest.mark.django_db(transaction=True)
def test_two_connections_creating_the_same_new_people_at_once_create_each_person_once(source, monkeypatch):
    need_service(db.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    size = 200
    source.employees = [employee(f"E{n}", email=f"new{n}@example.com") for n in range(size)]
    runs = _sync_two_connections_at_once(monkeypatch)

    outcomes = sorted(
        (run.status, run.counts["created"], run.counts["conflicts"], run.error) for run in runs.values()
    )
    assert outcomes == [("completed_with_conflicts", 0, size, ""), ("succeeded", size, 0, "")]
    winner = next(run.connection for run in runs.values() if run.status == "succeeded")
    loser = next(run for run in runs.values() if run.status != "succeeded")
    assert Person.objects.count() == size
    assert set(Person.objects.values_list("managed_by_id", flat=True)) == {winner.pk}
    conflicts = EmployeeMapping.objects.filter(connection=loser.connection)
    assert set(conflicts.values_list("state", "person_id")) == {(EmployeeMapping.State.CONFLICT, None)}
    assert conflicts.get(remote_id="E7").message == (
        f"While this sync ran, {winner.name} created a person with the email new7@example.com."
    )
    # The next sync of the losing connection sees them and reports them as
    # people another connection manages, as any sequential sync would.
    monkeypatch.setattr(runner, "apply_plan", apply_plan)
    again = run_sync(loser.connection, scope="employees")
    assert (again.status, again.counts["conflicts"], again.counts["created"]) == ("completed_with_conflicts", size, 0)


def _sync_two_connections_at_once(monkeypatch) -> dict[str, SyncRun]:
    """Sync "HR One" and "HR Two" (the same source) in two threads, both
    having planned before either applies: the race. Their runs by name."""
    rosters = [ConnectionFactory(name="HR One"), ConnectionFactory(name="HR Two")]
    both_planned = threading.Barrier(2)
    apply_plan = runner.apply_plan

    def apply_once_both_planned(**kwargs):
        both_planned.wait(timeout=30)
        return apply_plan(**kwargs)

    monkeypatch.setattr(runner, "apply_plan", apply_once_both_planned)
    runs: dict[str, SyncRun] = {}

    def sync(connection) -> None:
        try:
            runs[connection.name] = run_sync(connection, scope="employees")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sync, args=(connection,)) for connection in rosters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return runs
