"""Selective sync's services: ``mappings_include`` and ``mappings_exclude``,
checked on the saved rows."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from mappings.services import NOT_LINKED_MESSAGE, UnknownRecordsError, mappings_exclude, mappings_include
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db
State = EmployeeMapping.State


@pytest.fixture
def connection(db):
    return ConnectionFactory(name="Static HR")


def _states(connection) -> dict[str, tuple[str, int | None]]:
    return {
        m.remote_id: (m.state, m.person_id)
        for m in EmployeeMapping.objects.filter(connection=connection)
    }


def _record(connection, remote_id: str, *, state=State.LINKED, person=None, **fields) -> EmployeeMapping:
    return EmployeeMappingFactory(connection=connection, remote_id=remote_id, state=state, person=person, **fields)


def test_exclude_moves_every_other_state_to_excluded_and_keeps_the_linked_person(connection):
    ada = PersonFactory(managed_by=connection)
    _record(connection, "L", person=ada)
    _record(connection, "U", state=State.UNMATCHED, message=NOT_LINKED_MESSAGE)
    _record(connection, "C", state=State.CONFLICT, message="2 records share it.", remote_records=[{"a": 1}])
    _record(connection, "I", state=State.IGNORED)
    _record(connection, "X", state=State.EXCLUDED)

    changed = mappings_exclude(connection=connection, remote_ids=["L", "U", "C", "I", "X"])

    assert changed == 4
    assert _states(connection) == {rid: (State.EXCLUDED, ada.pk if rid == "L" else None) for rid in "LUCIX"}
    conflict = EmployeeMapping.objects.get(remote_id="C")
    assert (conflict.message, conflict.remote_records) == ("", [])
    ada.refresh_from_db()
    assert ada.managed_by == connection and ada.status == Person.Status.ACTIVE


def test_include_relinks_a_record_that_still_has_its_person_and_unmatches_the_others(connection):
    ada = PersonFactory(managed_by=connection)
    _record(connection, "A", state=State.EXCLUDED, person=ada)
    _record(connection, "B", state=State.EXCLUDED, remote_email="")
    _record(connection, "L", person=PersonFactory(managed_by=connection))

    changed = mappings_include(connection=connection, remote_ids=["A", "B", "L"])

    assert changed == 2
    states = _states(connection)
    assert states["A"] == (State.LINKED, ada.pk)
    assert states["B"] == (State.UNMATCHED, None)
    assert states["L"][0] == State.LINKED
    assert EmployeeMapping.objects.get(remote_id="B").message == NOT_LINKED_MESSAGE


def test_include_does_not_relink_a_person_another_connection_took_meanwhile(connection):
    ada = PersonFactory(email="ada@example.com", managed_by=None)
    _record(connection, "A", state=State.EXCLUDED, person=ada, remote_email="ada@example.com")
    other = ConnectionFactory(name="Other HR")
    _record(other, "Z", person=ada)

    mappings_include(connection=connection, remote_ids=["A"])

    mapping = EmployeeMapping.objects.get(connection=connection, remote_id="A")
    assert mapping.person is None
    # The waiting record says why, in the words of the Employees tab.
    assert mapping.state == State.CONFLICT
    assert "already linked to another record" in mapping.message
    assert EmployeeMapping.objects.get(connection=other, remote_id="Z").person == ada


def test_include_says_what_the_next_sync_does_with_a_record_whose_email_someone_has(connection):
    PersonFactory(first_name="Grace", last_name="Hopper", email="grace@example.com")
    _record(connection, "G", state=State.EXCLUDED, remote_email="Grace@Example.com")

    mappings_include(connection=connection, remote_ids=["G"])

    mapping = EmployeeMapping.objects.get(remote_id="G")
    assert mapping.state == State.UNMATCHED
    assert mapping.message.startswith("Ready to link: the next sync links this record to Grace Hopper")


def test_excluding_one_of_two_records_that_share_an_email_settles_the_other(connection):
    for rid in ("A", "B"):
        _record(connection, rid, state=State.CONFLICT, remote_email="shared@example.com", message="2 records share it.")

    mappings_exclude(connection=connection, remote_ids=["A"])

    other = EmployeeMapping.objects.get(remote_id="B")
    assert other.state == State.UNMATCHED
    assert other.message.startswith("Ready to create")


def test_unknown_ids_are_named_and_nothing_is_changed(connection):
    _record(connection, "A", person=PersonFactory(managed_by=connection))
    _record(ConnectionFactory(name="Other HR"), "B", person=None, state=State.UNMATCHED)
    before = _states(connection)

    with pytest.raises(UnknownRecordsError) as info:
        mappings_exclude(connection=connection, remote_ids=["A", "B", "nope"])

    assert info.value.remote_ids == ["B", "nope"]
    assert str(info.value).startswith("Static HR has no record with the ids B, nope, so nothing was changed.")
    assert _states(connection) == before
    with pytest.raises(UnknownRecordsError, match="the id nope,"):
        mappings_include(connection=connection, remote_ids=["nope"])


def test_include_and_exclude_take_the_same_number_of_queries_for_3_or_300_records(connection):
    def measure(count: int) -> tuple[int, int]:
        ids = [f"{count}-{n}" for n in range(count)]
        people = Person.objects.bulk_create(
            [Person(first_name="P", email=f"p{count}-{n}@example.com", managed_by=connection) for n in range(count)]
        )
        EmployeeMapping.objects.bulk_create(
            [
                EmployeeMapping(connection=connection, remote_id=rid, person=person, remote_email=person.email)
                for rid, person in zip(ids, people, strict=True)
            ]
        )
        with CaptureQueriesContext(db) as excluding:
            assert mappings_exclude(connection=connection, remote_ids=ids) == count
        with CaptureQueriesContext(db) as including:
            assert mappings_include(connection=connection, remote_ids=ids) == count
        assert all(state == State.LINKED for state, _ in _states(connection).values())
        return len(excluding.captured_queries), len(including.captured_queries)

    assert measure(3) == measure(300)


def test_nothing_to_change_writes_nothing(connection):
    mapping = _record(connection, "A", person=PersonFactory(managed_by=connection))

    assert mappings_include(connection=connection, remote_ids=["A"]) == 0

    assert EmployeeMapping.objects.get(pk=mapping.pk).updated_at == mapping.updated_at
