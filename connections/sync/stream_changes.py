"""What the record streams that copy rows from a source (absences,
training) plan alike: one change per record, counted by action, written to
the run's report as a dict and read back from it.

A stream keeps its own columns, checks and words; only what means the same
for every such stream lives here, so that a change to it (a new count, a
report key) is made once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Self

from connections.sync.bulk import rows_update

if TYPE_CHECKING:
    from django.db.models import Model, TextChoices

    from connections.sync.state import DirectoryState

#: A record change's action → the key it is counted under (the report's keys: stored, so fixed).
CHANGE_COUNT_KEYS = {
    "create": "created",
    "update": "updated",
    "remove": "removed",
    "unchanged": "unchanged",
    "skip": "skipped",
    "error": "errors",
}

#: Mapping states → why a record waits (its employee is not linked to a person).
NOT_LINKED_WHY = {
    "excluded": "is excluded from this connection's sync",
    "ignored": "is ignored on the Employees tab",
    "conflict": "is in a conflict on the Employees tab",
    "unmatched": "is not linked to a person yet",
}


class StreamChange:
    """How a stream's change dataclass goes into a run's report and comes
    back: ``from_dict`` ignores keys it does not know and fills the missing
    ones with their defaults, so a report written before a field was added
    or dropped still loads."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def change_counts(changes: Iterable[Any], *, unchanged_not_listed: int = 0) -> dict[str, int]:
    """Each action's count (``CHANGE_COUNT_KEYS``); ``unchanged_not_listed``
    are the unchanged records a large run counts without listing them."""
    counts = dict.fromkeys(CHANGE_COUNT_KEYS.values(), 0)
    counts["unchanged"] = unchanged_not_listed
    for change in changes:
        counts[CHANGE_COUNT_KEYS[change.action]] += 1
    return counts


def people_of_run(employee_changes: Sequence[Any]) -> dict[str, tuple[int | None, str]]:
    """Remote employee id → (person id or None if created, name) of the
    people this run creates or links."""
    return {
        change.remote_id: (change.person_id, change.name)
        for change in employee_changes
        if change.action in ("create", "link") and change.remote_id
    }


def change_person_set(
    change: Any, *, mapping: Any, directory: DirectoryState, of_run: Mapping[str, tuple[int | None, str]]
) -> bool:
    """Give a record's change its person: this connection's linked person
    (``mapping``, its employee's), else one this run links or creates
    (``of_run``: ``people_of_run``). False when it has none: the stream
    says why."""
    if mapping is not None and mapping.state == "linked" and mapping.person_id is not None:
        change.person_id = mapping.person_id
        change.name = person_name(directory, mapping.person_id)
        return True
    if change.employee_remote_id in of_run:
        change.person_id, change.name = of_run[change.employee_remote_id]
        return True
    return False


def person_name(directory: DirectoryState, person_id: int | None) -> str:
    """The person's name as a report shows it ("" for no person)."""
    person = directory.people.get(person_id) if person_id is not None else None
    if person is None:
        return ""
    return f"{person.first_name} {person.last_name}".strip() or person.email


def text_problem(text: str, *, what: str, limit: int) -> str:
    """Why ``text`` cannot be stored in a column of ``limit`` characters
    ("" if it can): ``what`` names it, as in "The absence type is longer …"."""
    if len(text) > limit:
        return f"The {what} is longer than {limit} characters."
    if "\x00" in text:
        return f"The {what} contains a NUL character."
    return ""


def json_value(value: Any) -> Any:
    """A column's value in its JSON form (dates and times as ISO strings)."""
    return value.isoformat() if isinstance(value, dt.date) else value


def display_diff(
    name: str,
    old: Any,
    new: Any,
    *,
    directory: DirectoryState,
    date_columns: Collection[str],
    choices: Mapping[str, type[TextChoices]],
) -> list[Any]:
    """[old, new] of a column as a report's diff shows it: people by name,
    dates as pages say them, a column of ``choices`` by its label, yes/no
    for a flag."""
    from connections.sync.absences import absence_period  # it imports this module

    if name == "person_id":
        return [person_name(directory, old), person_name(directory, new)]
    if name in date_columns:
        return [absence_period(old, old), absence_period(new, new)]
    if name in choices:
        kind = choices[name]
        return [kind(old).label if old in kind.values else old, kind(new).label]
    if isinstance(new, bool):
        return ["yes" if old else "no", "yes" if new else "no"]
    return [old, new]


def create_values(change: Any, *, created_person_by_remote_id: Mapping[str, int]) -> dict[str, Any] | None:
    """The values a planned create writes, its person filled in when the run
    created them; None, with the change made an error that says so, when the
    run was to create them but did not (the create became a conflict): the
    record is kept by the next run."""
    values = dict(change.values)
    if values["person_id"] is None:
        values["person_id"] = created_person_by_remote_id.get(change.employee_remote_id)
        if values["person_id"] is None:
            change.action = "error"
            change.message = (
                f"Not kept: employee {change.employee_remote_id} was not created in this run. "
                "It is kept at the next sync once they are."
            )
            return None
        change.person_id = values["person_id"]
    return values


def changed_rows_write(
    *,
    model: type[Model],
    connection_id: int,
    updates: Iterable[tuple[int, Mapping[str, Any]]],
    removals: Sequence[int],
    python: Callable[[str, Any], Any],
    now: dt.datetime,
) -> None:
    """Write a plan's updates (row id, JSON values: ``python`` turns each
    back into its column's value) and delete its removals, of this
    connection's rows of ``model``, in bulk."""
    # One statement per set of columns changed (usually one or two sets).
    by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
    for row_id, values in updates:
        columns = tuple(sorted(values))
        by_columns.setdefault(columns, []).append([row_id, *(python(name, values[name]) for name in columns), now])
    for columns, rows in by_columns.items():
        rows_update(model, [*columns, "updated_at"], rows)
    for start in range(0, len(removals), 1000):
        model.objects.filter(pk__in=removals[start:start + 1000], connection_id=connection_id).delete()


def changes_digest_update(digest: Any, changes: Iterable[Any], *, row_id: str) -> None:
    """Add what each change does to ``digest`` (part of a plan's
    fingerprint); ``row_id`` names the change's attribute holding its row's id."""
    for change in changes:
        key = (change.action, change.remote_id, getattr(change, row_id), sorted(change.values.items()))
        digest.update(repr(key).encode())
