"""Absences recorded in hrsync: the checks they pass, where they are sent,
and the ``absences`` command."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.models import SyncRun
from hrsync.people.absences import AbsenceNotRemovable, absence_create, absence_list, absence_remove
from hrsync.people.models import Absence
from tests.connections.absence_source import TODAY, absence_source  # noqa: F401 - a fixture
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db

PushState = Absence.PushState
D = dt.date.fromisoformat


@pytest.fixture
def ada(absence_source):
    return PersonFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")


def _create(person, start="2026-03-10", end=None, **fields):
    return absence_create(
        person=person, type_name=fields.pop("type_name", "Holiday"), start_date=D(start), end_date=D(end or start),
        send=False, **fields,
    )


# -- the checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"end": "2026-03-09"}, "end_date", "The last day is before the first day."),
        ({"type_name": "  "}, "type_name", "Enter the type of absence, such as Holiday or Sick leave."),
        ({"start": "2062-03-10", "end": "2062-03-11"}, "start_date", "2062-03-10 is more than 5 years from today: check the year."),
        ({"end": "2028-06-01"}, "end_date", "An absence can last up to 732 days: record a longer one in parts."),
        ({"type_name": "Holi\x07day"}, "type_name", "The type contains a control character (U+0007)."),
    ],
)
def test_an_absence_that_cannot_be_right_is_refused_in_words_and_nothing_is_written(ada, fields, field, message):
    with pytest.raises(ValidationError) as caught:
        _create(ada, **fields)

    assert caught.value.message_dict[field] == [message]
    assert not Absence.objects.exists()


def test_the_same_absence_twice_is_refused(ada):
    _create(ada, "2026-03-10", "2026-03-12")

    with pytest.raises(ValidationError) as caught:
        _create(ada, "2026-03-10", "2026-03-12", type_name="holiday")

    assert caught.value.messages == ["Ada Lovelace already has this absence (holiday, 2026-03-10 to 2026-03-12)."]
    assert Absence.objects.count() == 1


def test_an_absence_of_a_person_whose_connection_takes_none_is_only_recorded_here(absence_source, ada):
    absence_source.direction = "from_source"
    EmployeeMappingFactory(connection=ConnectionFactory(), remote_id="E1", person=ada)

    recorded = _create(ada)

    assert (recorded.connection, recorded.push_connection, recorded.push_state) == (None, None, "")


def test_an_absence_of_a_person_linked_to_a_connection_that_takes_absences_waits_to_be_sent_there(absence_source, ada):
    absence_source.direction = "to_source"
    connection = ConnectionFactory()
    EmployeeMappingFactory(connection=connection, remote_id="E1", person=ada)

    recorded = _create(ada)

    assert (recorded.push_connection, recorded.push_state) == (connection, PushState.PENDING)


def test_an_absence_from_a_connection_is_not_removed_here(ada):
    pulled = Absence.objects.create(
        person=ada, connection=ConnectionFactory(), remote_id="A1", type_name="Holiday",
        start_date=TODAY, end_date=TODAY,
    )

    with pytest.raises(AbsenceNotRemovable):
        absence_remove(absence=pulled)

    assert Absence.objects.filter(pk=pulled.pk).exists()


def test_absence_list_finds_by_person_connection_and_words(absence_source, ada):
    absence_source.direction = "to_source"
    connection = ConnectionFactory()
    EmployeeMappingFactory(connection=connection, remote_id="E1", person=ada)
    sent = _create(ada, type_name="Sick leave")
    other = _create(PersonFactory(first_name="Grace"), type_name="Holiday")

    assert list(absence_list(connection=connection)) == [sent]
    assert list(absence_list(query="ada sick")) == [sent]
    assert list(absence_list(person=other.person)) == [other]


# -- the command -----------------------------------------------------------------------


def command(*args: str) -> str:
    out = StringIO()
    call_command("absences", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_absences_add_records_one_and_sends_it_at_once_when_the_connection_takes_absences(absence_source, ada):
    absence_source.direction = "to_source"
    connection = ConnectionFactory(name="Static HR")
    EmployeeMappingFactory(connection=connection, remote_id="E1", person=ada)

    out = command("add", "ADA@example.com", "Holiday", "2026-03-10", "2026-03-12", "--half-day-end")

    recorded = Absence.objects.get()
    assert (recorded.type_name, recorded.start_date, recorded.end_date, recorded.half_day_end) == (
        "Holiday", D("2026-03-10"), D("2026-03-12"), True,
    )
    assert (recorded.push_state, recorded.remote_id) == (PushState.SENT, "T1")
    assert SyncRun.objects.get().trigger == SyncRun.Trigger.CLI
    assert f"Added absence {recorded.pk}: Ada Lovelace (ada@example.com), Holiday, 10 Mar – 12 Mar 2026." in out
    assert "Sent to Static HR." in out


def test_absences_add_refuses_an_unknown_person_and_a_bad_date_with_exit_code_2(ada):
    with pytest.raises(CommandError) as unknown:
        command("add", "nobody@example.com", "Holiday", "2026-03-10", "2026-03-10")
    with pytest.raises(CommandError) as bad_date:
        command("add", "ada@example.com", "Holiday", "10/03/2026", "2026-03-10")
    with pytest.raises(CommandError) as refused:
        command("add", "ada@example.com", "Holiday", "2026-03-10", "2026-03-01")

    assert unknown.value.returncode == bad_date.value.returncode == refused.value.returncode == 2
    assert str(unknown.value) == "No person with the email 'nobody@example.com'."
    assert str(bad_date.value) == "START must be a date as YYYY-MM-DD, got '10/03/2026'."
    assert str(refused.value) == "end_date: The last day is before the first day."
    assert not Absence.objects.exists()


def test_absences_list_prints_a_table_and_json_by_connection_and_person(absence_source, ada):
    connection = ConnectionFactory(name="Static HR")
    Absence.objects.create(
        person=ada, connection=connection, remote_id="A1", type_name="Sick leave", start_date=TODAY, end_date=TODAY
    )
    _create(PersonFactory(email="grace@example.com"), type_name="Holiday")

    table = command("list", "--connection", "Static HR")
    data = json.loads(command("list", "--person", "grace@example.com", "--json"))

    assert "ada@example.com  Sick leave  2026-03-02  2026-03-02  -          approved  From Static HR" in table
    assert "grace@example.com" not in table
    assert [(row["email"], row["type"], row["connection"], row["where"]) for row in data] == [
        ("grace@example.com", "Holiday", None, "Recorded in hrsync")
    ]


def test_absences_remove_removes_one_never_sent_at_once_and_pushes_the_removal_of_a_sent_one(absence_source, ada):
    absence_source.direction = "to_source"
    connection = ConnectionFactory(name="Static HR")
    EmployeeMappingFactory(connection=connection, remote_id="E1", person=ada)
    never_sent = Absence.objects.create(person=ada, type_name="Holiday", start_date=TODAY, end_date=TODAY)
    sent = Absence.objects.create(
        person=ada, type_name="Holiday", start_date=D("2026-03-20"), end_date=D("2026-03-20"),
        push_connection=connection, push_state=PushState.SENT, remote_id="T9",
    )

    assert command("remove", str(never_sent.pk)) == f"Removed absence {never_sent.pk}.\n"
    out = command("remove", str(sent.pk))

    assert not Absence.objects.exists()
    assert [(c.operation, c.remote_id) for c in absence_source.pushed] == [("delete", "T9")]
    assert out == f"Removed absence {sent.pk}.\n"
    with pytest.raises(CommandError) as unknown:
        command("remove", "999999")
    assert unknown.value.returncode == 2
