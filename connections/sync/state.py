"""The directory as the planner sees it, read in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models
from django.db.models import Count, Max

from connectors.base import RemoteEmployee
from hrsync.people.models import Depot, Person
from mappings.models import DepotMapping, EmployeeMapping

#: Person columns the planner reads (and may compare).
PERSON_COLUMNS = (
    "id",
    *RemoteEmployee.PERSON_FIELDS,
    "depot_id",
    "manager_id",
    "status",
    "custom_fields",
    "is_protected",
    "managed_by_id",
)


#: One person as the planner reads them: a tuple with the columns as
#: attributes. A dict per person cost three times the memory (100,000 people
#: are read on every sync).
PersonRow = namedtuple("PersonRow", PERSON_COLUMNS)


@dataclass(slots=True)
class MappingRow:
    id: int
    remote_id: str
    person_id: int | None
    state: str
    remote_name: str
    remote_email: str
    remote_status: str
    missing_since_run_id: int | None


@dataclass(slots=True)
class DirectoryState:
    people: dict[int, PersonRow] = field(default_factory=dict)
    #: lower-cased, trimmed email → person id (emails are unique this way).
    people_by_email: dict[str, int] = field(default_factory=dict)
    mappings: dict[str, MappingRow] = field(default_factory=dict)
    #: person id → remote id of the *linked* mapping of this connection.
    linked_remote_id_by_person: dict[int, str] = field(default_factory=dict)
    #: remote location id → (depot id or None, remote name, mapping id)
    depot_mappings: dict[str, tuple[int | None, str, int]] = field(default_factory=dict)
    depot_names: dict[int, str] = field(default_factory=dict)

    @property
    def mapped_count(self) -> int:
        return len(self.linked_remote_id_by_person)


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def _python(field: models.Field) -> Callable[[Any], Any] | None:
    """What turns this column's raw database value into the model's value."""
    if isinstance(field, models.JSONField):
        return lambda value: json.loads(value) if isinstance(value, str) else value
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
        return lambda value: dt.date.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(field, models.BooleanField):
        return lambda value: None if value is None else bool(value)
    return None


def _raw_rows(queryset: models.QuerySet, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """``queryset.values_list(*columns)``, fetched in one go.

    Django's per-row converters made reading 100,000 people take over a
    second; the cursor's own values need converting in one or two columns.
    """
    sql, params = queryset.values_list(*columns).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    model = queryset.model
    converters = [(n, f) for n, name in enumerate(columns) if (f := _python(model._meta.get_field(name)))]
    if not converters:
        return rows
    converted = []
    for row in rows:
        values = list(row)
        for index, convert in converters:
            values[index] = convert(values[index])
        converted.append(tuple(values))
    return converted


def directory_state_load(*, connection_id: int) -> DirectoryState:
    """Everything plan() needs: four queries, whatever the roster's size."""
    state = DirectoryState()
    for person in map(PersonRow._make, _raw_rows(Person.objects.all(), PERSON_COLUMNS)):
        state.people[person.id] = person
        if email := normalise_email(person.email):
            state.people_by_email[email] = person.id
    mapping_rows = _raw_rows(
        EmployeeMapping.objects.filter(connection_id=connection_id),
        ("id", "remote_id", "person_id", "state", "remote_name", "remote_email", "remote_status", "missing_since_run_id"),
    )
    for row in mapping_rows:
        mapping = MappingRow(*row)
        state.mappings[mapping.remote_id] = mapping
        if mapping.state == EmployeeMapping.State.LINKED and mapping.person_id in state.people:
            state.linked_remote_id_by_person[mapping.person_id] = mapping.remote_id
    for mapping_id, remote_location_id, depot_id, remote_name in DepotMapping.objects.filter(
        connection_id=connection_id
    ).values_list("id", "remote_location_id", "depot_id", "remote_name"):
        state.depot_mappings[remote_location_id] = (depot_id, remote_name, mapping_id)
    state.depot_names = dict(Depot.objects.values_list("id", "name"))
    return state


def directory_fingerprint(*, connection_id: int) -> str:
    """A cheap digest that changes whenever anything a plan depends on changes.

    Every write path (admin, forms, the applier's bulk writes) sets
    ``updated_at``, so row counts plus the newest ``updated_at`` per table
    catch edits, inserts and deletes.
    """
    from connections.models import Connection

    parts = [
        Person.objects.aggregate(n=Count("id"), t=Max("updated_at")),
        EmployeeMapping.objects.filter(connection_id=connection_id).aggregate(
            n=Count("id"), t=Max("updated_at")
        ),
        DepotMapping.objects.filter(connection_id=connection_id).aggregate(
            n=Count("id"), t=Max("updated_at")
        ),
        Depot.objects.aggregate(n=Count("id"), t=Max("updated_at")),
        Connection.objects.filter(pk=connection_id).values("updated_at").first(),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()
