"""Reads the Employees tab shares (DESIGN §8: ``<noun>_list``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models.functions import Length, Lower, Trim

from connections.models import Connection
from connectors.base import RemoteEmployee
from hrsync.people.labels import field_label
from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from mappings.services import email_key

State = EmployeeMapping.State

#: Rows of a comparison, in this order; custom fields follow, by label.
_FIELD_ORDER = ("name", *RemoteEmployee.PERSON_FIELDS, "status", "depot", "manager")
_DATE_FIELDS = RemoteEmployee.DATE_FIELDS


@dataclass(slots=True)
class GroupColumn:
    """One column of a comparison: a source record, or the person."""

    heading: str
    values: dict[str, Any]
    mapping: EmployeeMapping | None = None
    person: Person | None = None
    note: str = ""


@dataclass(slots=True)
class ComparisonRow:
    key: str
    label: str
    #: (value, differs) per column; value None when the column has none.
    cells: list[tuple[Any, bool]]
    differs: bool


@dataclass(slots=True)
class ConflictGroup:
    """Records of one connection that collide, and the person they collide with.

    ``key`` is the shared email (trimmed, lower-cased) or, for a record
    without one, ``id:<remote id>``.
    """

    key: str
    email: str
    mappings: list[EmployeeMapping]
    person: Person | None
    columns: list[GroupColumn]
    rows: list[ComparisonRow] = field(default_factory=list)
    #: The source sends one id for several records: only the source can settle it.
    repeated_id: bool = False
    #: Why the records cannot be linked to ``person`` here ("" when they can).
    person_taken: str = ""
    #: The records an admin may keep (link to the person, or create one from).
    keepable: list[EmployeeMapping] = field(default_factory=list)
    #: A member linked to the person now, if any.
    linked: EmployeeMapping | None = None

    @property
    def title(self) -> str:
        first = self.mappings[0]
        if self.repeated_id:
            return f"{len(first.remote_records)} records with the id {first.remote_id}"
        if self.email and len(self.mappings) > 1:
            return f"{len(self.mappings)} records share the email {self.email}"
        if self.email and self.person is not None:
            return f"{first.remote_name or first.remote_id} and {self.person} share the email {self.email}"
        return first.remote_name or f"The record with id {first.remote_id}"

    @property
    def explanation(self) -> str:
        """Why the sync left these records alone, in a sentence."""
        if self.repeated_id:
            return next((m.message for m in self.mappings if m.message), "")
        if self.person_taken:
            return self.person_taken
        if self.person is not None:
            return (
                f"{self.person} has this email in the directory. The sync cannot tell which record is them, "
                "so it leaves the records alone until you choose."
                if len(self.mappings) > 1
                else next((m.message for m in self.mappings if m.message), "")
            )
        return (
            "The sync cannot tell whether these records are one person or several, "
            "so it leaves them alone until you choose."
        )


def _display(key: str, value: Any) -> Any:
    if key in _DATE_FIELDS and isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _record_values(mapping: EmployeeMapping, record: dict[str, Any]) -> dict[str, Any]:
    if not record:
        # Kept before the Employees tab compared records: the snapshot only.
        record = {"name": mapping.remote_name, "email": mapping.remote_email, "status": mapping.remote_status}
    elif "first_name" not in record and "last_name" not in record and mapping.remote_name:
        record = {"name": mapping.remote_name, **record}
    return {key: _display(key, value) for key, value in record.items() if value not in ("", None)}


def _person_values(person: Person, keys: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in keys:
        if key == "name":
            value = person.full_name
        elif key == "status":
            value = person.get_status_display()
        elif key == "depot":
            value = person.depot.name if person.depot_id and person.depot else ""
        elif key == "manager":
            value = str(person.manager) if person.manager_id and person.manager else ""
        elif key.startswith("custom."):
            value = (person.custom_fields or {}).get(key.removeprefix("custom."))
        else:
            value = getattr(person, key, None)
        if value not in ("", None):
            values[key] = value
    return values


def _same(value: Any) -> str:
    return str(value).strip().casefold() if value not in ("", None) else ""


def _rows(columns: list[GroupColumn], custom_labels: dict[str, str]) -> list[ComparisonRow]:
    keys = {key for column in columns if column.mapping is not None for key in column.values}
    customs = sorted((k for k in keys if k.startswith("custom.")), key=lambda k: field_label(k, custom_labels=custom_labels))
    ordered = [k for k in _FIELD_ORDER if k in keys] + customs
    ordered += sorted(keys - set(ordered))
    rows = []
    for key in ordered:
        values = [column.values.get(key) for column in columns]
        said = [_same(v) for v in values]
        differs = len(set(said)) > 1
        # Highlight the values that are not what most columns say; with no
        # majority (two records that disagree), every value of the row.
        majority = next((s for s in set(said) if said.count(s) * 2 > len(said)), None)
        cells = [(v, differs and s != majority) for v, s in zip(values, said)]
        rows.append(ComparisonRow(key=key, label=field_label(key, custom_labels=custom_labels), cells=cells, differs=differs))
    return rows


def conflict_group_list(
    *, connection: Connection, custom_labels: dict[str, str] | None = None
) -> list[ConflictGroup]:
    """The connection's conflicts, grouped: each record in conflict with the
    other records that share its email (linked, waiting or in conflict) and
    the person who has that email. A record without an email, or the only
    one with its email, is a group of its own (a repeated id, say). In five
    queries, however many groups there are.
    """
    custom_labels = custom_labels or {}
    columns = (
        "id", "remote_id", "remote_name", "remote_email", "remote_status", "state", "message",
        "remote_records", "person_id", "connection_id",
    )
    conflicts = list(
        EmployeeMapping.objects.filter(connection=connection, state=State.CONFLICT)
        .annotate(email_key=Lower(Trim("remote_email")))
        .only(*columns)
        .order_by("remote_id", "id")
    )
    keys = {m.email_key for m in conflicts if m.email_key}
    companions = list(
        EmployeeMapping.objects.filter(connection=connection, state__in=(State.LINKED, State.UNMATCHED))
        .annotate(email_key=Lower(Trim("remote_email")))
        .filter(email_key__in=keys)
        .only(*columns)
        .order_by("remote_id", "id")
    ) if keys else []
    people = {
        person.email_key: person
        for person in Person.objects.annotate(email_key=Lower(Trim("email")))
        .filter(email_key__in=keys)
        .select_related("depot", "manager", "managed_by")
    } if keys else {}
    links: dict[int, tuple[int, int, str]] = {}
    if people:
        for person_id, mapping_id, connection_id, connection_name in EmployeeMapping.objects.filter(
            person__in=[p.pk for p in people.values()], state=State.LINKED
        ).values_list("person_id", "id", "connection_id", "connection__name"):
            links[person_id] = (mapping_id, connection_id, connection_name)

    members: dict[str, list[EmployeeMapping]] = {}
    for mapping in conflicts + companions:
        members.setdefault(mapping.email_key or f"id:{mapping.remote_id}", []).append(mapping)
    groups = []
    for key, mappings in members.items():
        mappings.sort(key=lambda m: (m.remote_id, m.pk))
        person = people.get(key)
        group = ConflictGroup(
            key=key,
            email=key if not key.startswith("id:") else "",
            mappings=mappings,
            person=person,
            columns=[],
            repeated_id=any(len(m.remote_records) > 1 for m in mappings),
        )
        for mapping in mappings:
            records = mapping.remote_records or [{}]
            for n, record in enumerate(records, start=1):
                heading = mapping.remote_name or mapping.remote_id
                note = f"Id {mapping.remote_id}"
                if len(records) > 1:
                    note += f" · record {n} of {len(records)}"
                if mapping.state == State.LINKED:
                    note += " · linked"
                group.columns.append(GroupColumn(heading=heading, values=_record_values(mapping, record), mapping=mapping, note=note))
        if person is not None:
            link = links.get(person.pk)
            member_ids = {m.pk for m in mappings}
            if link is not None and link[0] in member_ids:
                group.linked = next(m for m in mappings if m.pk == link[0])
                note = "Linked to one of these records"
            elif link is not None and link[1] == connection.pk:
                note = "Linked to another record of this connection"
                group.person_taken = f"{person} is linked to another record of this connection: unlink it there first."
            elif link is not None:
                note = f"Linked to the connection {link[2]}"
                group.person_taken = (
                    f"{person} is linked to the connection {link[2]}: unlink them there first, "
                    "or ignore these records."
                )
            elif person.managed_by_id not in (None, connection.pk):
                note = f"Managed by the connection {person.managed_by.name}"
                group.person_taken = (
                    f"{person} is managed by the connection {person.managed_by.name}: "
                    "unlink them there first, or ignore these records."
                )
            else:
                note = "Not linked to any record"
            keys_shown = {k for c in group.columns for k in c.values}
            group.columns.append(
                GroupColumn(heading=str(person), values=_person_values(person, keys_shown), person=person, note=note)
            )
        if not group.repeated_id and not group.person_taken:
            group.keepable = [m for m in mappings if m.state != State.LINKED or m is group.linked]
        group.rows = _rows(group.columns, custom_labels)
        groups.append(group)
    groups.sort(key=lambda g: (g.mappings[0].remote_id, g.key))
    return groups


#: What a record's state says in a list an operator reads (``employees list``).
STATE_WORDS = {
    State.LINKED: "Included · linked",
    State.UNMATCHED: "Included · not linked yet",
    State.CONFLICT: "Included · conflict",
    State.IGNORED: "Ignored",
    State.EXCLUDED: "Excluded — not synced",
}


#: How records are listed, on the Employees tab and by ``employees list``:
#: ids that are numbers read in their order (2 before 10), then by text.
EMPLOYEE_RECORD_ORDER = (Length("remote_id"), "remote_id", "id")


def employee_record_list(*, connection: Connection) -> list[dict[str, Any]]:
    """Every record of ``connection`` a sync has read, by remote id, as plain
    values (the ``employees list`` command's rows), in one query."""
    mappings = (
        EmployeeMapping.objects.filter(connection=connection)
        .select_related("person")
        .only(
            "remote_id", "remote_name", "remote_email", "remote_status", "state", "message",
            "missing_since_run_id", "person__id", "person__first_name", "person__last_name", "person__email",
        )
        .order_by(*EMPLOYEE_RECORD_ORDER)
    )
    return [
        {
            "remote_id": m.remote_id,
            "name": m.remote_name,
            "email": m.remote_email,
            "source_status": m.remote_status,
            "included": m.included,
            "state": m.state,
            "state_text": STATE_WORDS.get(m.state, m.get_state_display()),
            "message": m.message,
            "person": (
                {"id": m.person.pk, "name": m.person.full_name, "email": m.person.email}
                if m.person is not None
                else None
            ),
            "not_in_source_since_run": m.missing_since_run_id,
        }
        for m in mappings.iterator(chunk_size=2000)
    ]
