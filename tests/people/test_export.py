"""``manage.py people export``: every person, every field, streamed."""

from __future__ import annotations

import csv
import datetime as dt
import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from connections.services import connection_create
from hrsync.people.models import Person
from hrsync.people.services import people_export_fields, people_export_rows
from tests.factories import DepotFactory, PersonFactory
from tests.csv_formulas import FORMULAS

pytestmark = pytest.mark.django_db

FIELDS = [
    "id",
    "first_name",
    "last_name",
    "email",
    "date_of_birth",
    "gender",
    "employee_reference",
    "mobile_phone",
    "work_phone",
    "home_phone",
    "job_title",
    "depot",
    "manager",
    "status",
    "hire_date",
    "termination_date",
    "access_starts_on",
    "access_ends_on",
    "custom_fields",
    "user",
    "managed_by",
    "is_protected",
    "created_at",
    "updated_at",
]


def export(*args: str) -> str:
    out = StringIO()
    call_command("people", "export", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def ada() -> Person:
    boss = PersonFactory(first_name="Grace", last_name="Hopper", email="grace@example.com")
    return PersonFactory(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        date_of_birth=dt.date(1815, 12, 10),
        gender="Female",
        employee_reference="E1",
        mobile_phone="0491 570 156",
        job_title="Analyst",
        depot=DepotFactory(name="Sydney Depot"),
        manager=boss,
        status=Person.Status.ON_LEAVE,
        hire_date=dt.date(1843, 1, 1),
        custom_fields={"shirt": "M", "languages": ["en", "fr"]},
        user=get_user_model().objects.create_user("ada"),
        managed_by=connection_create(kind="sample", name="Demo HR"),
        is_protected=True,
    )


def test_the_export_has_every_person_field_by_its_model_name():
    assert people_export_fields() == FIELDS


def test_json_export_describes_related_rows_by_readable_keys(ada):
    rows = json.loads(export("--format", "json"))

    assert [row["email"] for row in rows] == ["grace@example.com", "ada@example.com"]
    row = rows[1]
    assert list(row) == FIELDS
    assert row["id"] == ada.pk
    assert row["depot"] == "Sydney Depot"
    assert row["manager"] == "grace@example.com"
    assert row["user"] == "ada"
    assert row["managed_by"] == "Demo HR"
    assert row["status"] == "on_leave"
    assert row["date_of_birth"] == "1815-12-10"
    assert row["termination_date"] is None
    assert row["custom_fields"] == {"shirt": "M", "languages": ["en", "fr"]}
    assert row["is_protected"] is True
    assert dt.datetime.fromisoformat(row["updated_at"]) == ada.updated_at
    assert rows[0]["depot"] is None and rows[0]["manager"] is None


def test_csv_is_the_default_with_the_same_columns(ada):
    out = export()

    rows = list(csv.DictReader(StringIO(out)))
    assert list(rows[0]) == FIELDS
    row = rows[1]
    assert row["id"] == str(ada.pk)
    assert (row["depot"], row["manager"], row["status"]) == ("Sydney Depot", "grace@example.com", "on_leave")
    assert json.loads(row["custom_fields"]) == {"shirt": "M", "languages": ["en", "fr"]}
    assert row["termination_date"] == ""
    assert row["is_protected"] == "true"
    assert row["hire_date"] == "1843-01-01"


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_export_writes_values_a_spreadsheet_would_run_as_text(formula):
    PersonFactory(first_name=formula, last_name="Smith", job_title=formula, email="smith@example.com")

    (row,) = csv.DictReader(StringIO(export()))

    assert (row["first_name"], row["job_title"]) == ("'" + formula, "'" + formula)
    assert row["last_name"] == "Smith" and row["email"] == "smith@example.com"
    # Only the CSV is defused: the directory and the JSON export keep the value.
    assert Person.objects.get().first_name == formula
    assert json.loads(export("--format", "json"))[0]["first_name"] == formula


def test_export_of_an_empty_directory():
    assert json.loads(export("--format", "json")) == []
    assert export() == ",".join(FIELDS) + "\n"


def test_rows_are_read_in_one_query_however_many_people(ada):
    PersonFactory.create_batch(30, manager=ada, depot=ada.depot)

    with CaptureQueriesContext(db) as queries:
        rows = list(people_export_rows())

    assert len(rows) == 32
    assert len(queries) == 1


def test_export_rows_are_streamed_not_built_in_one_list(ada):
    rows = people_export_rows()
    assert iter(rows) is rows  # a generator: the command writes as it reads


def test_export_of_an_unknown_format_is_refused():
    with pytest.raises(Exception, match="invalid choice"):
        export("--format", "xml")
