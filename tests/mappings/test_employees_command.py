"""``manage.py employees list|include|exclude`` (selective sync, for any connector)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.services import connection_create
from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from tests.factories import EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db
State = EmployeeMapping.State


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def connection():
    return connection_create(kind="sample", name="Demo", config={"size": "10"})


def _states(connection) -> dict[str, str]:
    return dict(EmployeeMapping.objects.filter(connection=connection).values_list("remote_id", "state"))


def test_list_json_has_one_object_per_record_with_its_person(connection):
    ada = PersonFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com", managed_by=connection)
    EmployeeMappingFactory(
        connection=connection, remote_id="A1", person=ada, remote_name="Ada Lovelace",
        remote_email="ada@example.com", remote_status="active",
    )
    EmployeeMappingFactory(
        connection=connection, remote_id="B2", person=None, state=State.EXCLUDED,
        remote_name="Bob Builder", remote_email="bob@example.com", remote_status="onboarding",
    )

    rows = json.loads(run("employees", "list", "Demo", "--json"))

    assert rows == [
        {
            "remote_id": "A1", "name": "Ada Lovelace", "email": "ada@example.com", "source_status": "active",
            "included": True, "state": "linked", "state_text": "Included · linked", "message": "",
            "person": {"id": ada.pk, "name": "Ada Lovelace", "email": "ada@example.com"},
            "not_in_source_since_run": None,
        },
        {
            "remote_id": "B2", "name": "Bob Builder", "email": "bob@example.com", "source_status": "onboarding",
            "included": False, "state": "excluded", "state_text": "Excluded — not synced", "message": "",
            "person": None, "not_in_source_since_run": None,
        },
    ]


def test_list_prints_a_table_after_a_sync(connection):
    assert "Demo has no employee records yet. Run: manage.py sync" in run("employees", "list", "Demo")
    run("sync", "Demo", "--scope", "employees")
    first = EmployeeMapping.objects.filter(connection=connection).order_by("remote_id").first()
    run("employees", "exclude", "Demo", first.remote_id)

    out = run("employees", "list", str(connection.pk))

    lines = out.splitlines()
    assert lines[0].split("  ")[0] == "REMOTE ID"
    assert ["INCLUDED", "STATE", "PERSON"] == lines[0].split()[-3:]
    excluded = next(line for line in lines if line.startswith(first.remote_id + " "))
    assert " no " in excluded and "Excluded — not synced" in excluded
    assert len(lines) == 1 + EmployeeMapping.objects.filter(connection=connection).count()


def test_exclude_then_include_changes_the_states_and_says_so(connection):
    EmployeeMappingFactory(connection=connection, remote_id="A1", person=PersonFactory(managed_by=connection))
    EmployeeMappingFactory(connection=connection, remote_id="B2", person=None, state=State.UNMATCHED)

    excluded = run("employees", "exclude", "Demo", "A1", "B2")
    assert _states(connection) == {"A1": State.EXCLUDED, "B2": State.EXCLUDED}
    included = run("employees", "include", "Demo", "A1")

    assert _states(connection) == {"A1": State.LINKED, "B2": State.EXCLUDED}
    assert excluded == (
        "Excluded 2 records from Demo's syncs: they are skipped, and nobody is created or changed for them; "
        "people linked to them stay as they are.\n"
    )
    assert included == "Included 1 record in Demo's syncs: the next sync updates, links or creates its person.\n"
    assert run("employees", "include", "Demo", "A1") == "Nothing to include: Demo syncs this record already.\n"


def test_an_unknown_remote_id_exits_2_names_it_and_changes_nothing(connection):
    EmployeeMappingFactory(connection=connection, remote_id="A1", person=None, state=State.UNMATCHED)

    with pytest.raises(CommandError) as info:
        run("employees", "exclude", "Demo", "A1", "nope")

    assert info.value.returncode == 2
    assert str(info.value).startswith("Demo has no record with the id nope, so nothing was changed.")
    assert _states(connection) == {"A1": State.UNMATCHED}


@pytest.mark.parametrize("subcommand", [["list"], ["include", "A1"], ["exclude", "A1"]])
def test_an_unknown_connection_exits_2(subcommand):
    with pytest.raises(CommandError) as info:
        run("employees", subcommand[0], "Nope", *subcommand[1:])
    assert info.value.returncode == 2
    assert not EmployeeMapping.objects.exists()


def test_an_excluded_sample_record_is_skipped_by_the_next_sync(connection):
    run("sync", "Demo", "--scope", "employees")
    mapping = EmployeeMapping.objects.filter(connection=connection, state=State.LINKED).order_by("remote_id").first()
    person = mapping.person
    Person.objects.filter(pk=person.pk).update(job_title="Kept by hand")
    run("employees", "exclude", "Demo", mapping.remote_id)

    summary = json.loads(run("sync", "Demo", "--scope", "employees", "--json"))

    person.refresh_from_db()
    assert person.job_title == "Kept by hand"
    assert summary["counts"]["skipped"] >= 1


def test_list_puts_numeric_ids_in_the_order_the_numbers_count(connection):
    for remote_id in ("10", "2", "1", "100"):
        EmployeeMappingFactory(connection=connection, remote_id=remote_id, person=None, state=State.EXCLUDED)

    rows = json.loads(run("employees", "list", "Demo", "--json"))

    assert [row["remote_id"] for row in rows] == ["1", "2", "10", "100"]
