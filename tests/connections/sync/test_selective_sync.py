"""DESIGN §5 rule 9, selective sync: a record excluded by the connection's
selection is never created or changed and is listed as skipped with the
reason; asserted on the rows a run saves, for any connector."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core import mail

from connections.models import SyncRun
from connections.sync import runner
from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from mappings.services import mappings_exclude, mappings_include
from tests.connections.helpers import run_sync, table_snapshot
from tests.connections.static_connector import StaticConnector, employee
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db

State = EmployeeMapping.State
EXCLUDED_REASON = "Excluded from this connection's sync: include it on the Employees tab."


@pytest.fixture
def new_ones_wait(source, monkeypatch):
    """The connection's setting that new records wait to be included."""
    monkeypatch.setattr(StaticConnector, "include_new_records", False)


def change_for(run: SyncRun, remote_id: str) -> dict:
    return next(c for c in run.changes if c["remote_id"] == remote_id)


def _excluded(connection, remote_id: str, *, person=None, **fields) -> EmployeeMapping:
    return EmployeeMappingFactory(
        connection=connection, remote_id=remote_id, person=person, state=State.EXCLUDED, **fields
    )


# -- an excluded record ---------------------------------------------------------------


def test_an_excluded_record_is_skipped_with_the_reason_and_its_person_is_not_changed(connection, source):
    person = PersonFactory(first_name="Ada", job_title="Engineer", managed_by=connection, email="ada@example.com")
    _excluded(connection, "7", person=person, remote_name="Ada Lovelace", remote_email="ada@example.com")
    source.employees = [
        employee("7", first_name="Augusta", last_name="King", email="augusta@example.com", job_title="CTO", status="Left")
    ]

    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    assert (person.first_name, person.job_title, person.email) == ("Ada", "Engineer", "ada@example.com")
    assert person.status == Person.Status.ACTIVE
    change = change_for(run, "7")
    assert change["action"] == "skip"
    assert change["message"] == EXCLUDED_REASON
    assert change["fields"] == {}
    assert run.counts["skipped"] == 1 and run.counts["updated"] == 0
    assert run.status == SyncRun.Status.SUCCEEDED


def test_an_excluded_record_keeps_its_snapshot_as_the_source_has_it_now(connection, source):
    person = PersonFactory(managed_by=connection)
    _excluded(connection, "7", person=person, remote_name="Old Name", remote_email="old@example.com", remote_status="Active")
    source.employees = [employee("7", first_name="New", last_name="Name", email="new@example.com", status="On Leave")]

    run_sync(connection, scope="employees")

    mapping = EmployeeMapping.objects.get(connection=connection, remote_id="7")
    assert (mapping.remote_name, mapping.remote_email, mapping.remote_status) == (
        "New Name", "new@example.com", "On Leave",
    )
    assert mapping.state == State.EXCLUDED
    assert mapping.person == person  # excluding unlinks nothing


def test_an_excluded_record_without_a_person_creates_nobody(connection, source):
    _excluded(connection, "7")
    source.employees = [employee("7"), employee("8")]

    run = run_sync(connection, scope="employees")

    assert list(Person.objects.values_list("email", flat=True)) == ["8@example.com"]
    assert EmployeeMapping.objects.get(remote_id="7").person is None
    assert (change_for(run, "7")["action"], change_for(run, "8")["action"]) == ("skip", "create")


def test_an_excluded_record_with_values_a_sync_would_refuse_is_skipped_not_an_error(connection, source):
    _excluded(connection, "7")
    source.employees = [employee("7", status="Sabbatical", email="not an email", problems=["A bad date."])]

    run = run_sync(connection, scope="employees")

    assert change_for(run, "7")["action"] == "skip"
    assert run.counts["errors"] == 0


def test_an_excluded_persons_absence_from_a_full_sync_deactivates_nobody(connection, source):
    person = PersonFactory(managed_by=connection)
    _excluded(connection, "7", person=person)
    source.employees = [employee("8")]

    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    assert person.status == Person.Status.ACTIVE
    assert run.counts["deactivated"] == 0
    # The tab still says the record has left the source.
    assert EmployeeMapping.objects.get(remote_id="7").missing_since_run_id == run.pk


def test_excluded_records_are_not_mapped_people_for_the_safeguard(connection, source):
    connection.safeguard_percent, connection.safeguard_min = 20, 1
    connection.save()
    for n in range(5):
        EmployeeMappingFactory(connection=connection, remote_id=f"L{n}", person=PersonFactory(managed_by=connection))
    for n in range(20):
        _excluded(connection, f"X{n}", person=PersonFactory(managed_by=connection))
    # Two of the five linked people leave: 40 % of the mapped people, not 8 %.
    source.employees = [employee(f"L{n}") for n in range(3)] + [employee(f"X{n}") for n in range(20)]

    run = run_sync(connection, scope="employees")

    assert run.status == SyncRun.Status.BLOCKED
    assert run.report["mapped_count"] == 5
    assert Person.objects.filter(status=Person.Status.INACTIVE).count() == 0


def test_an_excluded_records_email_claims_nobody(connection, source):
    _excluded(connection, "7", remote_email="shared@example.com")
    source.employees = [employee("7", email="shared@example.com"), employee("8", email="shared@example.com")]

    run = run_sync(connection, scope="employees")

    assert change_for(run, "8")["action"] == "create"
    assert run.counts["conflicts"] == 0


def test_a_person_an_excluded_record_holds_is_not_taken_by_another_record(connection, source):
    person = PersonFactory(email="ada@example.com", managed_by=connection)
    _excluded(connection, "7", person=person)
    source.employees = [employee("8", email="ada@example.com")]

    run = run_sync(connection, scope="employees")

    assert change_for(run, "8")["action"] == "conflict"
    assert not EmployeeMapping.objects.filter(person=person, state=State.LINKED).exists()


def test_an_excluded_person_who_was_linked_can_still_be_a_manager(connection, source):
    boss = PersonFactory(first_name="Boss", managed_by=connection)
    _excluded(connection, "B", person=boss)
    source.employees = [employee("B"), employee("E", manager_remote_id="B")]

    run = run_sync(connection, scope="employees")

    assert Person.objects.get(email="e@example.com").manager == boss
    assert change_for(run, "E")["warnings"] == []


def test_a_manager_left_out_by_the_selection_is_named_in_the_warning(connection, source):
    _excluded(connection, "B", remote_name="Bea Boss")
    source.employees = [employee("B"), employee("E", manager_remote_id="B")]

    run = run_sync(connection, scope="employees")

    assert Person.objects.get(email="e@example.com").manager is None
    assert change_for(run, "E")["warnings"] == [
        "Manager Bea Boss (B) is excluded from this connection's sync; the manager was left unchanged. "
        "Include them on the Employees tab to set it."
    ]


# -- new records while they wait to be included ----------------------------------------


def test_a_new_record_waits_excluded_when_new_records_are_not_included(connection, source, new_ones_wait):
    PersonFactory(email="ada@example.com")  # would be linked by email if it were included
    source.employees = [employee("7", first_name="Ada", last_name="Lovelace", email="ada@example.com"), employee("8")]

    run = run_sync(connection, scope="employees")

    assert Person.objects.count() == 1
    mappings = {m.remote_id: m for m in EmployeeMapping.objects.filter(connection=connection)}
    assert {rid: (m.state, m.person_id) for rid, m in mappings.items()} == {
        "7": (State.EXCLUDED, None),
        "8": (State.EXCLUDED, None),
    }
    assert (mappings["7"].remote_name, mappings["7"].remote_email) == ("Ada Lovelace", "ada@example.com")
    assert change_for(run, "7")["message"] == "New in Static HR: waiting to be included."
    assert run.counts["skipped"] == 2 and run.counts["linked"] == 0 and run.counts["created"] == 0


def test_a_dry_run_writes_nothing_for_a_new_record_that_waits(connection, source, new_ones_wait):
    source.employees = [employee("7")]
    before = table_snapshot(exclude=("connections.SyncRun",))

    run = run_sync(connection, scope="employees", dry_run=True)

    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert change_for(run, "7")["action"] == "skip"
    assert run.counts["skipped"] == 1


def test_records_already_known_keep_syncing_while_new_ones_wait(connection, source, new_ones_wait):
    person = PersonFactory(first_name="Old", managed_by=connection)
    EmployeeMappingFactory(connection=connection, remote_id="7", person=person)
    source.employees = [employee("7", first_name="New"), employee("8")]

    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    assert person.first_name == "New"
    assert (change_for(run, "7")["action"], change_for(run, "8")["action"]) == ("update", "skip")


def test_a_waiting_record_included_later_is_created_on_the_next_sync(connection, source, new_ones_wait):
    source.employees = [employee("7", first_name="Nina"), employee("8")]
    run_sync(connection, scope="employees")

    assert mappings_include(connection=connection, remote_ids=["7"]) == 1
    run = run_sync(connection, scope="employees")

    nina = Person.objects.get()
    assert nina.first_name == "Nina" and nina.managed_by == connection
    assert EmployeeMapping.objects.get(remote_id="7").state == State.LINKED
    assert EmployeeMapping.objects.get(remote_id="8").state == State.EXCLUDED
    assert (run.counts["created"], run.counts["skipped"]) == (1, 1)


def test_a_record_excluded_and_included_again_updates_its_person_again(connection, source):
    source.employees = [employee("7", job_title="Engineer")]
    run_sync(connection, scope="employees")
    person = Person.objects.get()
    mappings_exclude(connection=connection, remote_ids=["7"])
    source.employees = [employee("7", job_title="CTO")]
    run_sync(connection, scope="employees")
    person.refresh_from_db()
    assert person.job_title == "Engineer"

    mappings_include(connection=connection, remote_ids=["7"])
    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    assert person.job_title == "CTO"
    assert change_for(run, "7")["action"] == "update"
    assert EmployeeMapping.objects.get(remote_id="7").person == person


def test_excluded_records_add_no_planner_queries(connection, source, monkeypatch):
    """The rule reads nothing more: the planner's queries do not grow with excluded records."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    counts = []

    def measured(**kwargs):
        with CaptureQueriesContext(db) as captured:
            state = original(**kwargs)
        counts.append(len(captured.captured_queries))
        return state

    original = runner.directory_state_load
    monkeypatch.setattr(runner, "directory_state_load", measured)
    source.employees = [employee(str(n)) for n in range(5)]
    run_sync(connection, scope="employees", dry_run=True)
    for n in range(50):
        _excluded(connection, f"X{n}")
    source.employees += [employee(f"X{n}") for n in range(50)]
    run_sync(connection, scope="employees", dry_run=True)

    assert counts[0] == counts[1]


# -- invitations ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_excluded_record_gets_no_login_and_no_invitation_until_it_is_included(source, settings, monkeypatch):
    settings.HRSYNC_BASE_URL = "https://hr.example.com"
    monkeypatch.setattr(StaticConnector, "include_new_records", False)
    connection = ConnectionFactory(name="Notify HR", credential_notifications=True)
    source.employees = [employee("1", email="nina@example.com", first_name="Nina")]

    run_sync(connection, scope="employees")

    assert not Person.objects.exists()
    assert not User.objects.filter(username="nina@example.com").exists()
    assert mail.outbox == []

    mappings_include(connection=connection, remote_ids=["1"])
    run_sync(connection, scope="employees")

    nina = Person.objects.get()
    assert nina.user is not None and nina.user.username == "nina@example.com"
    assert [m.to for m in mail.outbox] == [["nina@example.com"]]
    assert "https://hr.example.com/accounts/reset/" in mail.outbox[0].body
