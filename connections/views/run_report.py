"""A page of a run's report in an admin's words.

The stored changes speak the engine's language: field keys, person ids,
status codes, ISO dates. This turns the few changes a page shows into rows a
template prints as they are: labels (``hrsync.people.labels.field_label``,
with the connection's own names for its custom fields), values as the person
page shows them, and links to the people, managers and depots they name —
found with one query each for the whole page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.formats import date_format

from connections.models import Connection
from connectors.base import RemoteEmployee
from hrsync.people.labels import field_label
from hrsync.people.models import Depot, Person
from mappings.models import EmployeeMapping

#: Fields a create card shows first, in this order; the rest follow as the report lists them.
_CARD_FIRST = ("job_title", "depot", "manager", "status")
#: Shown beside the card already, as the person's name and email.
_CARD_LEFT_OUT = frozenset({"first_name", "last_name", "email"})
_DATE_FIELDS = RemoteEmployee.DATE_FIELDS
_STATUS_LABELS = dict(Person.Status.choices)


@dataclass(frozen=True, slots=True)
class ValueShown:
    label: str
    value: str
    #: Where the value leads: the manager's page, the depot's people.
    link: str = ""


@dataclass(frozen=True, slots=True)
class DiffShown:
    label: str
    old: str
    new: str
    link: str = ""


@dataclass(slots=True)
class ChangeRow:
    action: str
    action_label: str
    remote_id: str
    position: str
    name: str
    email: str
    person_link: str
    message: str
    warnings: list[str]
    #: A create: the new person's values, as a card.
    values: list[ValueShown] = field(default_factory=list)
    #: Anything else: only the fields that change, old → new.
    diffs: list[DiffShown] = field(default_factory=list)


def value_shown(key: str, value: Any) -> str:
    """A stored value as the person page shows it; "" for none."""
    if value is None or value == "":
        return ""
    if key == "status":
        return str(_STATUS_LABELS.get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key in _DATE_FIELDS and isinstance(value, str):
        try:
            return date_format(dt.date.fromisoformat(value), "j M Y")
        except ValueError:
            return value
    return str(value)


def _card_order(fields: Mapping[str, Any]) -> list[str]:
    first = [key for key in _CARD_FIRST if key in fields]
    rest = [key for key in fields if key not in _CARD_FIRST and key not in _CARD_LEFT_OUT]
    # A person created with a name and an email only: the card says so rather than nothing.
    return first + rest or list(fields)


def change_rows(
    changes: Sequence[Mapping[str, Any]],
    *,
    connection: Connection,
    custom_labels: Mapping[str, str],
    action_labels: Mapping[str, str],
) -> list[ChangeRow]:
    depot_links = _depot_links(changes)
    manager_links = _manager_links(changes, connection=connection)
    rows = []
    for change in changes:
        fields: Mapping[str, Any] = change.get("fields") or {}
        manager_rid = (change.get("values") or {}).get("manager_remote_id") or ""

        def link(key: str, new: str) -> str:
            if key == "depot":
                return depot_links.get(new, "")
            if key == "manager":
                return manager_links.get(manager_rid, "")
            return ""

        action = change.get("action", "")
        row = ChangeRow(
            action=action,
            action_label=action_labels.get(action) or action.capitalize(),
            remote_id=change.get("remote_id", ""),
            position=change.get("position", ""),
            name=change.get("name", ""),
            email=change.get("email", ""),
            person_link=reverse("people:detail", args=[change["person_id"]]) if change.get("person_id") else "",
            message=change.get("message", ""),
            warnings=list(change.get("warnings") or []),
        )
        if row.action == "create":
            for key in _card_order(fields):
                new = value_shown(key, _pair(fields[key])[1])
                if new:
                    row.values.append(ValueShown(field_label(key, custom_labels=custom_labels), new, link(key, new)))
        else:
            for key, diff in fields.items():
                old, new = (value_shown(key, value) for value in _pair(diff))
                row.diffs.append(DiffShown(field_label(key, custom_labels=custom_labels), old, new, link(key, new)))
        rows.append(row)
    return rows


def _pair(diff: Any) -> tuple[Any, Any]:
    if isinstance(diff, list | tuple):
        return (list(diff) + [None, None])[0], (list(diff) + [None, None])[1]
    return None, diff


def _depot_links(changes: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Depot name → its people. Reports name depots (a report outlives
    ids); a depot's name is unique."""
    names = {
        _pair(diff)[1]
        for change in changes
        for key, diff in (change.get("fields") or {}).items()
        if key == "depot" and _pair(diff)[1]
    }
    if not names:
        return {}
    people = reverse("people:list")
    return {name: f"{people}?depot={pk}" for name, pk in Depot.objects.filter(name__in=names).values_list("name", "pk")}


def _manager_links(changes: Iterable[Mapping[str, Any]], *, connection: Connection) -> dict[str, str]:
    """The manager's record id → their page, where the record is linked to a person."""
    remote_ids = {
        rid
        for change in changes
        if "manager" in (change.get("fields") or {})
        and (rid := (change.get("values") or {}).get("manager_remote_id"))
    }
    if not remote_ids:
        return {}
    linked = EmployeeMapping.objects.filter(
        connection=connection, remote_id__in=remote_ids, person__isnull=False
    ).values_list("remote_id", "person_id")
    return {rid: reverse("people:detail", args=[pk]) for rid, pk in linked}
