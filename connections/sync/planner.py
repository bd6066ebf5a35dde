"""plan(): decide what a sync would do, without writing anything.

The rules are DESIGN §5, with one between its rules 1 and 2: a record with
no mapping whose ``person_ref`` is the id of an existing person who is not
linked to another record of this connection is that person (``link``); a
``person_ref`` naming nobody, or someone linked elsewhere, falls through to
the email rule. Fields the connection sends to the source
(``PlanSettings.pushed``: hrsync owns them) are taken from a record only to
create a person, never to update one. The planner reads the directory once
(``directory_state_load``: a fixed number of queries) and then works in
memory, so a dry run and a real run see exactly the same decisions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from connections.sync.absences import AbsenceState, absences_fingerprint, plan_absences
from connections.sync.changes import Action, Change, LocationAction, LocationChange, SyncPlan
from connections.sync.pushes import PeoplePushState, people_pushes_fingerprint, plan_people_pushes
from connections.sync.state import DirectoryState, PersonRow, normalise_email
from connections.sync.training import TrainingState, plan_training, training_fingerprint
from connectors.base import RemoteEmployee, RemoteLocation
from hrsync.people.models import Person
from hrsync.people.rules import (
    FREE_TEXT_FIELDS,
    access_status,
    day_in_words,
    MAX_LENGTHS,
    UNSTORABLE,
    UNSTORABLE_IN_ONE_LINE,
    control_character_problem,
    email_is_valid,
    invalid_email_problem,
    person_field_length_problem,
    shown,
    visible,
)
from mappings.models import EmployeeMapping

GONE = Person.GONE_STATUSES
LINKED = EmployeeMapping.State.LINKED
EXCLUDED = EmployeeMapping.State.EXCLUDED
#: Why a record the connection's selection leaves out is skipped (rule 9).
EXCLUDED_MESSAGE = "Excluded from this connection's sync: include it on the Employees tab."
#: A custom field holds a fact about a person (a shoe size, a cost centre, an
#: address), not a document: a longer value is a row error.
MAX_CUSTOM_VALUE_LENGTH = 10_000
#: The longest record id an employee mapping holds.
MAX_REMOTE_ID_LENGTH = EmployeeMapping._meta.get_field("remote_id").max_length
#: How a text value is named in a row error.
_TEXT_LABELS = {
    **{name: str(Person._meta.get_field(name).verbose_name) for name in MAX_LENGTHS},
    "remote_id": "record's id",
    "status": "status",
    "location_id": "location",
    "manager_remote_id": "manager",
}


def _unstorable_problem(what: str, character: str, source: str) -> str:
    return f"{control_character_problem(what=what, character=character)}; correct it in {source}, then sync again."


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """What the planner needs to know about the connection and connector."""

    connection_id: int
    connection_name: str
    status_map: Mapping[str, str]
    provides: frozenset[str]
    full_snapshot: bool
    #: The day the run plans for (access dates are compared with it).
    today: dt.date | None = None
    #: Selective sync: whether a record found for the first time is synced
    #: (True) or waits, excluded, until an admin includes it (False).
    include_new: bool = True
    #: False for records that say nothing of anyone's status (a position
    #: file gives titles and managers only): each person keeps theirs.
    statuses: bool = True
    #: Fields hrsync owns and sends to the source (``Pushable.push_fields``):
    #: taken from a record to create a person, never to update one.
    pushed: frozenset[str] = frozenset()
    #: Remote ids the source says it no longer has (``StreamRead.gone``):
    #: their people are deactivated as if missing from a full snapshot.
    gone_remote_ids: frozenset[str] = frozenset()


def status_key(vendor_status: str) -> str:
    """Status maps match case- and space-insensitively ("On leave" = "On Leave")."""
    return " ".join((vendor_status or "").split()).casefold()


def _as_json(value: Any) -> Any:
    """A value as the report and the applier carry it: dates as ISO strings."""
    return value.isoformat() if isinstance(value, dt.date) else value


def person_label(person: PersonRow) -> str:
    name = f"{person.first_name} {person.last_name}".strip()
    return name or person.email or f"person {person.id}"


def _named(name: str, remote_id: str) -> str:
    """A location or record in a message: by its name with its id in
    brackets ("Bristol (BRS)"), or by the quoted id when it has no name of
    its own (a location named by its id is not named twice)."""
    name = name.strip()
    return f"{name} ({remote_id})" if name and name != remote_id else f"'{remote_id}'"


_FINGERPRINTED = attrgetter(
    *RemoteEmployee.PERSON_FIELDS, "remote_id", "location_id", "status", "manager_remote_id", "problems"
)


def source_fingerprint(records: Iterable[RemoteEmployee]) -> str:
    """A digest of everything the plan reads from the records.

    ``repr`` of plain values (str, date, None, lists) is stable across runs
    and several times faster than JSON for 100,000 records.
    """
    digest = hashlib.sha256()
    for record in records:
        digest.update(repr((_FINGERPRINTED(record), sorted(record.custom.items()))).encode())
    return digest.hexdigest()


def plan_locations(
    *, locations: Iterable[RemoteLocation], state: DirectoryState
) -> list[LocationChange]:
    depot_ids_by_name = {name.casefold(): depot_id for depot_id, name in state.depot_names.items()}
    changes: list[LocationChange] = []
    seen: set[str] = set()
    for location in locations:
        if not location.remote_id or location.remote_id in seen:
            continue
        seen.add(location.remote_id)
        existing = state.depot_mappings.get(location.remote_id)
        if existing is None:
            # A depot of the same name is almost certainly the same place.
            depot_id = depot_ids_by_name.get(location.name.strip().casefold())
            changes.append(
                LocationChange(
                    action=LocationAction.CREATE,
                    remote_location_id=location.remote_id,
                    remote_name=location.name,
                    depot_id=depot_id,
                    depot_name=state.depot_names.get(depot_id, "") if depot_id else "",
                    message=f"Mapped to the depot {state.depot_names[depot_id]} because the names match; "
                    "pick another depot on the Depots tab if that is wrong."
                    if depot_id
                    else "New location: map it to a depot.",
                )
            )
            continue
        depot_id, old_name, mapping_id = existing
        action = LocationAction.UNCHANGED if old_name == location.name else LocationAction.UPDATE
        changes.append(
            LocationChange(
                action=action,
                remote_location_id=location.remote_id,
                remote_name=location.name,
                old_name=old_name,
                mapping_id=mapping_id,
                depot_id=depot_id,
                depot_name=state.depot_names.get(depot_id, "") if depot_id else "",
            )
        )
    return changes


def _storable_locations(
    locations: Iterable[RemoteLocation], *, source: str, notes: list[str]
) -> list[RemoteLocation]:
    """The locations whose id and name the depot mappings can hold; each one
    left out is said in ``notes``."""
    kept = []
    for location in locations:
        for what, text in (("id", location.remote_id), ("name", location.name)):
            if found := UNSTORABLE_IN_ONE_LINE.search(text):
                notes.append(
                    f"Location '{shown(location.remote_id)}' was left out: "
                    + _unstorable_problem(f"its {what}", found.group(), source)
                )
                break
        else:
            kept.append(location)
    return kept


class _EmployeePlanner:
    def __init__(self, *, settings: PlanSettings, state: DirectoryState) -> None:
        self.settings = settings
        self.state = state
        self.status_map = {status_key(k): v for k, v in settings.status_map.items()}
        self.valid_statuses = set(Person.Status.values)
        self.length_limits = tuple((n, limit) for n, limit in MAX_LENGTHS.items() if n in settings.provides)
        self.provided_fields = tuple(n for n in RemoteEmployee.PERSON_FIELDS if n in settings.provides)
        # The text a record carries into the directory and its mapping: its id
        # and status, the names and email the mapping's snapshot keeps, and
        # every text field, location and manager the connector provides.
        snapshot_fields = ("first_name", "last_name", "email")
        text_fields = [
            "remote_id",
            "status",
            *snapshot_fields,
            *(n for n in MAX_LENGTHS if n in settings.provides and n not in snapshot_fields),
            *(["location_id"] if "depot" in settings.provides else []),
            *(["manager_remote_id"] if "manager" in settings.provides else []),
        ]
        self.text_fields = tuple(text_fields)
        self._text_values = attrgetter(*text_fields)  # several names: a tuple
        # A roster spells its statuses a handful of ways: map each spelling once.
        self._status_by_spelling: dict[str, str | None] = {}
        self.mapping_written: set[str] = set()
        #: remote id → the ``remote_records`` of its conflict mapping.
        self.conflict_records: dict[str, list[dict[str, Any]]] = {}
        self._names: dict[str, str] | None = None

    # -- entry point ------------------------------------------------------

    def plan(self, records: list[RemoteEmployee], seen: set[str]) -> list[Change]:
        changes: list[Change] = []
        self.records = records
        id_counts = Counter(r.remote_id for r in records if r.remote_id)
        # An ignored or excluded record is left out of syncs, so its email
        # claims nobody: ignoring one of two records that share an address
        # settles it. So does a new record while new ones wait to be included.
        ignored = {
            remote_id
            for remote_id, mapping in self.state.mappings.items()
            if mapping.state in (EmployeeMapping.State.IGNORED, EXCLUDED)
        }
        include_new, mappings = self.settings.include_new, self.state.mappings
        # A record excluded after it was linked still holds its person (rule
        # 9): another record with their email must not take them meanwhile.
        self.held_by_excluded = {
            mapping.person_id: remote_id
            for remote_id, mapping in mappings.items()
            if mapping.state == EXCLUDED and mapping.person_id is not None
        }
        email_counts = Counter(
            normalise_email(r.email)
            for r in records
            if r.email.strip() and r.remote_id not in ignored and (include_new or r.remote_id in mappings)
        )
        # Records created in this run → the name they are created with, so
        # managers can point at them, by name.
        self.creating: dict[str, str] = {}
        # Records whose person this run creates or keeps in step.
        self.synced: list[tuple[RemoteEmployee, Change]] = []
        for record in records:
            changes.append(self._plan_record(record, id_counts, email_counts))
        # Managers are resolved once every record is known: a manager may be
        # listed after the people who report to them.
        if "manager" in self.settings.provides:
            for record, change in self.synced:
                self._plan_manager(record, change)
        if self.settings.full_snapshot or self.settings.gone_remote_ids:
            changes.extend(self._plan_leavers(seen))
        return changes

    def _mapped_status(self, vendor_status: str) -> str | None:
        if vendor_status not in self._status_by_spelling:
            self._status_by_spelling[vendor_status] = self.status_map.get(status_key(vendor_status))
        return self._status_by_spelling[vendor_status]

    # -- one record -------------------------------------------------------

    def _plan_record(
        self, record: RemoteEmployee, id_counts: Counter, email_counts: Counter
    ) -> Change:
        email = normalise_email(record.email)
        change = Change(
            action=Action.ERROR,
            remote_id=record.remote_id,
            email=record.email.strip(),
            name=f"{record.first_name} {record.last_name}".strip(),
            position=record.source_position,
        )
        mapping = self.state.mappings.get(record.remote_id)
        if mapping is not None:
            change.mapping_id = mapping.id
            if mapping.state == EXCLUDED:
                return self._plan_excluded(record, change, mapping)
        elif not self.settings.include_new and _storable_id(record.remote_id):
            return self._plan_excluded(record, change, None)
        problems = list(record.problems)
        if not record.remote_id and not any("id" in p for p in problems):
            problems.append("The record has no id.")
        # An address already in the directory was validated when it was
        # stored; re-checking 100,000 of them on every sync buys nothing.
        if email and email not in self.state.people_by_email and not email_is_valid(email):
            problems.append(invalid_email_problem(record.email.strip()))
        for name, limit in self.length_limits:
            # The length alone first: this runs for every field of every record.
            value = getattr(record, name)
            if len(value) > limit and (problem := person_field_length_problem(field=name, value=value)):
                problems.append(problem)
        if len(record.remote_id) > MAX_REMOTE_ID_LENGTH:
            problems.append(f"The record's id is longer than {MAX_REMOTE_ID_LENGTH} characters.")
        problems.extend(self._text_problems(record))
        status = self._mapped_status(record.status)
        if status is None:
            problems.append(
                f"Status '{shown(record.status)}' is not in the status map. "
                "Map it under Settings → Status map, then sync again."
                if record.status
                else "The record has no status."
            )
        elif status not in self.valid_statuses:
            problems.append(f"The status map sends '{record.status}' to unknown status '{status}'.")
        if problems:
            change.message = " ".join(problems)
            change.name, change.email = visible(change.name), visible(change.email)
            return change
        access_reason = ""
        if self.settings.today is not None and (record.access_starts_on or record.access_ends_on):
            status, access_reason = access_status(
                status=status,
                access_starts_on=record.access_starts_on,
                access_ends_on=record.access_ends_on,
                today=self.settings.today,
            )

        snapshot = {
            "remote_name": change.name[:300],
            "remote_email": change.email[:254],
            "remote_status": record.status[:100],
        }
        # Before the duplicate checks: an ignored record stays ignored, even
        # when it shares its id or email (a conflict would un-ignore it).
        if mapping is not None and mapping.state == EmployeeMapping.State.IGNORED:
            change.action = Action.UNCHANGED
            change.person_id = mapping.person_id
            change.message = "Ignored by an admin."
            self._set_mapping(change, mapping, state=mapping.state, snapshot=snapshot)
            return change

        if id_counts[record.remote_id] > 1:
            return self._conflict(
                change,
                f"The id {record.remote_id} appears {id_counts[record.remote_id]} times in the source: "
                "correct it there, or ignore the record to keep it out of syncs.",
                snapshot,
                record=record,
            )
        if email and email_counts[email] > 1:
            return self._conflict(
                change,
                f"{email_counts[email]} records in the source share the email {email}.",
                snapshot,
                record=record,
            )

        person_id: int | None = None
        action = Action.CREATE
        if mapping is not None and mapping.state == LINKED and mapping.person_id in self.state.people:
            person_id = mapping.person_id
            action = Action.UPDATE
        elif mapping is None and (ref := self._person_by_ref(record, email)) is not None:
            person_id = ref
            action = Action.LINK
        elif email and (match := self.state.people_by_email.get(email)) is not None:
            other = self.state.linked_remote_id_by_person.get(match) or self.held_by_excluded.get(match)
            person = self.state.people[match]
            if other is not None and other != record.remote_id:
                return self._conflict(
                    change,
                    f"{person_label(person)} has this email but is already linked to another record "
                    f"of this connection{self._record_named(other)}.",
                    snapshot,
                    record=record,
                )
            if person.managed_by_id not in (None, self.settings.connection_id):
                return self._conflict(
                    change,
                    f"{person_label(person)} has this email but is managed by another connection.",
                    snapshot,
                    record=record,
                )
            person_id = match
            action = Action.LINK

        # A new email must not belong to somebody else (an email hrsync owns is not taken from the record).
        if email and person_id is not None and "email" not in self.settings.pushed:
            owner = self.state.people_by_email.get(email)
            if owner is not None and owner != person_id:
                return self._conflict(
                    change,
                    f"The new email {email} already belongs to {person_label(self.state.people[owner])}.",
                    snapshot,
                    record=record,
                )

        if person_id is None:
            change = self._plan_create(record, change, status, snapshot, mapping)
        else:
            change = self._plan_existing(record, change, status, snapshot, mapping, person_id, action)
        if access_reason:
            _say_access_reason(change, access_reason, record=record, status=status)
        return change

    def _person_by_ref(self, record: RemoteEmployee, email: str) -> int | None:
        """The person a record names by our id (``person_ref``), if they exist
        and are linked to no other record of this connection.

        Not when the record's email is somebody else's: a source may keep
        its own numbers in the same field, and a number that happens to be
        a person's id must not link a stranger to them."""
        ref = record.person_ref.strip()
        if not ref.isdigit() or (person_id := int(ref)) not in self.state.people:
            return None
        if email and self.state.people_by_email.get(email, person_id) != person_id:
            return None
        other = self.state.linked_remote_id_by_person.get(person_id) or self.held_by_excluded.get(person_id)
        return person_id if other in (None, record.remote_id) else None

    def _plan_excluded(self, record: RemoteEmployee, change: Change, mapping) -> Change:
        """Rule 9: a record the connection's selection leaves out is skipped.

        Before any check of its values: a record nobody asked for is not an
        admin's to correct, so it is never an error row. Its snapshot (name,
        email, source status) is kept current so the Employees tab shows it as
        the source has it now. A record found for the first time while new
        ones wait (``include_new`` off) gets its mapping, excluded, so the tab
        can list it; a dry run writes no mapping, as always.

        A record excluded after it was linked keeps its person: excluding
        unlinks nothing and deactivates nobody. The person stays in the
        directory as they are, no longer updated by this connection nor
        deactivated when the record leaves the source (an excluded mapping is
        not a linked one, so it is neither a leaver candidate nor counted
        among the mapped people of the safeguard); including the record again
        relinks it (``mappings.services.mappings_include``).
        """
        change.action = Action.SKIP
        change.name, change.email = visible(change.name), visible(change.email)
        if mapping is None:
            change.message = f"New in {self.settings.connection_name}: waiting to be included."
        else:
            change.person_id = mapping.person_id
            change.message = EXCLUDED_MESSAGE
        snapshot = {
            "remote_name": change.name[:300],
            "remote_email": change.email[:254],
            "remote_status": visible(record.status)[:100],
        }
        self._set_mapping(change, mapping, state=EXCLUDED, snapshot=snapshot)
        return change

    def _text_problems(self, record: RemoteEmployee) -> list[str]:
        """Why the record's text cannot be stored: a control character, or an
        over-long custom value."""
        values = self._text_values(record)
        custom = record.custom
        # Printable text holds no control character: one quick test for the
        # whole record, and the search for which one only when it fails.
        if not custom:
            return [] if "".join(values).isprintable() else list(self._unstorable(record, values))
        custom_texts = [value for value in custom.values() if isinstance(value, str)]
        problems: list[str] = []
        if not ("".join(values) + "".join(custom) + "".join(custom_texts)).isprintable():
            problems.extend(self._unstorable(record, values))
        if max(map(len, custom_texts), default=0) > MAX_CUSTOM_VALUE_LENGTH:
            problems.extend(
                f"Custom field '{key}' is longer than {MAX_CUSTOM_VALUE_LENGTH} characters."
                for key, value in custom.items()
                if isinstance(value, str) and len(value) > MAX_CUSTOM_VALUE_LENGTH
            )
        return problems

    def _unstorable(self, record: RemoteEmployee, values: tuple[str, ...]) -> Iterator[str]:
        source = self.settings.connection_name
        for name, value in zip(self.text_fields, values):
            pattern = UNSTORABLE if name in FREE_TEXT_FIELDS else UNSTORABLE_IN_ONE_LINE
            if found := pattern.search(value):
                yield _unstorable_problem(f"The {_TEXT_LABELS[name]}", found.group(), source)
        for key, value in record.custom.items():
            if found := UNSTORABLE_IN_ONE_LINE.search(key):
                yield _unstorable_problem(f"The name of custom field '{shown(key)}'", found.group(), source)
            elif isinstance(value, str) and (found := UNSTORABLE.search(value)):
                yield _unstorable_problem(f"Custom field '{key}'", found.group(), source)

    def _conflict(
        self,
        change: Change,
        message: str,
        snapshot: dict | None = None,
        *,
        record: RemoteEmployee | None = None,
    ) -> Change:
        change.action = Action.CONFLICT
        change.message = message
        mapping = self.state.mappings.get(change.remote_id)
        if change.remote_id and (mapping is None or mapping.state != LINKED):
            # Conflicts wait in the Employees tab; a linked record keeps its
            # link and just is not updated this time.
            fields = self._record_fields(record) if record is not None else {}
            if change.remote_id in self.conflict_records:
                # A repeated id: its one mapping row shows every record.
                self.conflict_records[change.remote_id].append(fields)
                return change
            self._set_mapping(
                change,
                mapping,
                state=EmployeeMapping.State.CONFLICT,
                snapshot=snapshot
                or {"remote_name": change.name, "remote_email": change.email, "remote_status": ""},
                message=message,
            )
            if change.mapping is not None:
                self.conflict_records[change.remote_id] = change.mapping["remote_records"] = [fields]
        elif mapping is not None:
            change.person_id = mapping.person_id
        return change

    def _record_named(self, remote_id: str) -> str:
        """", <name>" of another record of this connection, for a message."""
        mapping = self.state.mappings.get(remote_id)
        return f", {mapping.remote_name}" if mapping is not None and mapping.remote_name else ""

    def _name_of(self, remote_id: str) -> str:
        """The name of the record with ``remote_id``: as this run reads it, or
        as its mapping last saw it; the id itself when neither knows."""
        if self._names is None:
            # Built once, and only for a run with a conflict that names a manager.
            self._names = {
                r.remote_id: f"{r.first_name} {r.last_name}".strip() for r in self.records if r.remote_id
            }
        mapping = self.state.mappings.get(remote_id)
        return self._names.get(remote_id) or (mapping.remote_name if mapping else "") or remote_id

    def _record_fields(self, record: RemoteEmployee) -> dict[str, Any]:
        """A record in conflict as the Employees tab compares it: its values,
        keyed as the report's fields, with the depot and manager by name."""
        fields: dict[str, Any] = {
            name: _as_json(value)
            for name in self.provided_fields
            if (value := getattr(record, name)) not in ("", None)
        }
        if record.email.strip():
            fields["email"] = record.email.strip()
        fields["status"] = record.status
        if "depot" in self.settings.provides and record.location_id:
            depot_id, location_name, _ = self.state.depot_mappings.get(record.location_id, (None, "", 0))
            fields["depot"] = self.state.depot_names.get(depot_id) or location_name or record.location_id
        if "manager" in self.settings.provides and record.manager_remote_id:
            fields["manager"] = self._name_of(record.manager_remote_id)
        for key, value in record.custom.items():
            if value not in ("", None):
                fields[f"custom.{key}"] = _as_json(value)
        return fields

    def _set_mapping(
        self,
        change: Change,
        mapping,
        *,
        state: str,
        snapshot: dict[str, str],
        message: str = "",
    ) -> None:
        if change.remote_id in self.mapping_written:
            return  # a duplicated remote id: one mapping row stands for all of them
        self.mapping_written.add(change.remote_id)
        if (
            mapping is not None
            and state != EmployeeMapping.State.CONFLICT
            and change.action is not Action.CREATE
            and mapping.state == state
            and mapping.person_id == change.person_id
            and mapping.remote_name == snapshot["remote_name"]
            and mapping.remote_email == snapshot["remote_email"]
            and mapping.remote_status == snapshot["remote_status"]
        ):
            return  # the row says this already
        change.mapping = {"state": state, "message": message, **snapshot}

    def _remote_values(self, record: RemoteEmployee, status: str) -> dict[str, Any]:
        values = {name: getattr(record, name) for name in self.provided_fields}
        if "email" in values:
            # Stored lower-cased: addresses are matched case-insensitively, so
            # a vendor changing only the case is not a change.
            values["email"] = normalise_email(record.email)
        if self.settings.statuses:
            values["status"] = status
        return values

    def _depot(self, record: RemoteEmployee, change: Change) -> int | None:
        if "depot" not in self.settings.provides or not record.location_id:
            return None
        depot_id, remote_name, _ = self.state.depot_mappings.get(record.location_id, (None, "", 0))
        if depot_id is None:
            change.warnings.append(
                f"Location {_named(remote_name, record.location_id)} is not mapped to a depot; "
                "the depot was left unchanged."
            )
        return depot_id

    def _plan_create(self, record, change, status, snapshot, mapping) -> Change:
        if status in GONE:
            # Someone who left before they were ever here is not created only to be deactivated.
            change.action = Action.SKIP
            change.message = f"Skipped — left before their first sync (the source says {shown(record.status)})."
            return change
        values = self._remote_values(record, status)
        change.action = Action.CREATE
        # The display diff of the values is derived when the report is
        # written (Change.to_dict); only the depot's name is kept here.
        change.values = {k: _as_json(v) for k, v in values.items()}
        if (depot_id := self._depot(record, change)) is not None:
            change.values["depot_id"] = depot_id
            change.fields["depot"] = [None, self.state.depot_names.get(depot_id)]
        if record.custom:
            change.values["custom_fields"] = dict(record.custom)
        change.values["managed_by_id"] = self.settings.connection_id
        self._set_mapping(change, mapping, state=LINKED, snapshot=snapshot)
        self.creating[record.remote_id] = change.name or change.email or record.remote_id
        self.synced.append((record, change))
        return change

    def _plan_existing(self, record, change, status, snapshot, mapping, person_id, action) -> Change:
        person = self.state.people[person_id]
        change.person_id = person_id
        values = self._remote_values(record, status)
        if person.is_protected and "status" in values and status in GONE and person.status not in GONE:
            values.pop("status")
            change.warnings.append(
                f"{person_label(person)} is protected: the source says {record.status}, "
                "but they were not deactivated."
            )
        for name, new in values.items():
            if name in self.settings.pushed:
                continue  # hrsync's: sent to the source, never taken from it
            old = getattr(person, name)
            if old != new:
                change.fields[name] = [_as_json(old), _as_json(new)]
                change.values[name] = _as_json(new)
        if (
            "depot" not in self.settings.pushed
            and (depot_id := self._depot(record, change)) is not None
            and depot_id != person.depot_id
        ):
            change.fields["depot"] = [
                self.state.depot_names.get(person.depot_id),
                self.state.depot_names.get(depot_id),
            ]
            change.values["depot_id"] = depot_id
        if record.custom:
            merged = {**(person.custom_fields or {}), **record.custom}
            if merged != person.custom_fields:
                change.values["custom_fields"] = merged
                for key, value in record.custom.items():
                    old = (person.custom_fields or {}).get(key)
                    if old != value:
                        change.fields[f"custom.{key}"] = [old, value]
        if person.managed_by_id != self.settings.connection_id:
            change.values["managed_by_id"] = self.settings.connection_id

        new_status = change.values.get("status", person.status)
        if action is Action.LINK:
            change.action = Action.LINK
        elif new_status in GONE and person.status not in GONE:
            change.action = Action.DEACTIVATE
        elif new_status not in GONE and person.status in GONE:
            change.action = Action.REACTIVATE
        elif change.values:
            change.action = Action.UPDATE
        else:
            change.action = Action.UNCHANGED
        self._set_mapping(change, mapping, state=LINKED, snapshot=snapshot)
        self.synced.append((record, change))
        return change

    def _plan_manager(self, record: RemoteEmployee, change: Change) -> None:
        manager_rid = record.manager_remote_id
        if manager_rid == record.remote_id:
            change.warnings.append("The source names this person as their own manager; ignored.")
            return
        current = self.state.people[change.person_id].manager_id if change.person_id else None
        if not manager_rid:
            if current is not None:
                self._add_field(change, "manager", current, None, manager_remote_id="")
            return
        mapping = self.state.mappings.get(manager_rid)
        # An excluded manager who was linked before is still in the directory
        # (excluding them kept their person): they can still be the manager.
        if (
            mapping is not None
            and mapping.state in (LINKED, EXCLUDED)
            and mapping.person_id in self.state.people
        ):
            if mapping.person_id != current:
                self._add_field(change, "manager", current, mapping.person_id, manager_remote_id=manager_rid)
        elif manager_rid in self.creating:
            self._add_field(change, "manager", current, manager_rid, manager_remote_id=manager_rid)
        elif mapping is not None and mapping.state == EXCLUDED:
            change.warnings.append(
                f"Manager {_named(mapping.remote_name, manager_rid)} is excluded from this connection's sync; "
                "the manager was left unchanged. Include them on the Employees tab to set it."
            )
        else:
            # By the name their record last had, from the state already loaded.
            name = mapping.remote_name if mapping is not None else ""
            change.warnings.append(
                f"Manager {_named(name, manager_rid)} is not a synced person yet; the manager was left unchanged."
            )

    def _add_field(self, change: Change, name: str, old_id, new, *, manager_remote_id: str) -> None:
        def label(value):
            if isinstance(value, int) and value in self.state.people:
                return person_label(self.state.people[value])
            # Otherwise the remote id of a person this run creates.
            return self.creating.get(value, value) if value else None

        change.fields[name] = [label(old_id), label(new)]
        change.values["manager_remote_id"] = manager_remote_id
        if change.action is Action.UNCHANGED:
            change.action = Action.UPDATE

    # -- people missing from a full snapshot ---------------------------------

    def _plan_leavers(self, seen: set[str]) -> list[Change]:
        changes = []
        gone, full = self.settings.gone_remote_ids, self.settings.full_snapshot
        for person_id, remote_id in self.state.linked_remote_id_by_person.items():
            # Missing from a full snapshot, or said to be gone by a partial read.
            if remote_id in seen or not (full or remote_id in gone):
                continue
            person = self.state.people[person_id]
            if person.status in GONE:
                continue
            change = Change(
                action=Action.DEACTIVATE,
                remote_id=remote_id,
                person_id=person_id,
                email=person.email,
                name=person_label(person),
                message=f"No longer in {self.settings.connection_name}.",
            )
            if person.is_protected:
                change.action = Action.UNCHANGED
                change.warnings.append(
                    f"{person_label(person)} is no longer in the source but is protected: not deactivated."
                )
            else:
                change.fields["status"] = [person.status, Person.Status.INACTIVE.value]
                change.values["status"] = Person.Status.INACTIVE.value
            changes.append(change)
        return changes


def _storable_id(remote_id: str) -> bool:
    """Whether an employee mapping can hold ``remote_id`` as it is."""
    return (
        bool(remote_id)
        and len(remote_id) <= MAX_REMOTE_ID_LENGTH
        and UNSTORABLE_IN_ONE_LINE.search(remote_id) is None
    )


def _say_access_reason(change: Change, reason: str, *, record: RemoteEmployee, status: str) -> None:
    """Say in the report why the access dates decided the status, where
    they did: the person is created with it, or it changes."""
    if change.action is Action.SKIP and status in GONE and record.access_ends_on is not None:
        last_day = record.access_ends_on - dt.timedelta(days=1)
        change.message = f"Skipped — left before their first sync (last working day {day_in_words(last_day)})."
    elif not change.message and (change.action is Action.CREATE or "status" in change.fields):
        change.message = reason


def plan_employees(
    *, records: list[RemoteEmployee], seen: set[str], state: DirectoryState, settings: PlanSettings
) -> list[Change]:
    """One Change per record; ``seen`` is the records' remote ids."""
    return _EmployeePlanner(settings=settings, state=state).plan(records, seen)


def plan_presence(
    *, seen: set[str], state: DirectoryState, settings: PlanSettings
) -> tuple[list[int], list[int]]:
    """Mappings whose record left the source, and those whose record is back.

    Only a full snapshot says who has left, or a source naming the records
    it no longer has (``gone_remote_ids``); any source says who is back.
    """
    gone, back = [], []
    for remote_id, mapping in state.mappings.items():
        present = remote_id in seen
        if mapping.missing_since_run_id is None:
            if not present and (settings.full_snapshot or remote_id in settings.gone_remote_ids):
                gone.append(mapping.id)
        elif present:
            back.append(mapping.id)
    return gone, back


def plan(
    *,
    settings: PlanSettings,
    state: DirectoryState,
    records: Mapping[str, list[Any] | None],
    absences: AbsenceState | None = None,
    training: TrainingState | None = None,
    people_push: PeoplePushState | None = None,
) -> SyncPlan:
    """The whole plan for one run. Pure: ``state`` was read beforehand.

    ``records``: each stream's records by the stream's name
    (``connections.sync.streams.streams_records``); a stream that is absent
    or None was not read, and the plan leaves what it feeds as it is.
    ``absences``: the absences stream's state (``absence_state_load``),
    when the run reads that stream; ``training`` likewise for training
    records (``connections.sync.training``). ``people_push``: what the
    connection sends back of people's details (``connections.sync.pushes``),
    when it sends any.
    """
    locations: list[RemoteLocation] | None = records.get("locations")
    employees: list[RemoteEmployee] | None = records.get("employees")
    result = SyncPlan(mapped_count=state.mapped_count)
    if locations is not None:
        locations = _storable_locations(locations, source=settings.connection_name, notes=result.notes)
        result.locations = plan_locations(locations=locations, state=state)
        # Employees planned in the same run see the locations this run adds
        # (on a copy: the caller's state stays what the database holds).
        added = {
            change.remote_location_id: (change.depot_id, change.remote_name, 0)
            for change in result.locations
            if change.action is LocationAction.CREATE
        }
        if added:
            state = replace(state, depot_mappings={**state.depot_mappings, **added})
    if employees is not None:
        result.employees_planned = True
        seen = {r.remote_id for r in employees if r.remote_id}
        result.changes = plan_employees(records=employees, seen=seen, state=state, settings=settings)
        # One change per record, in order, then the leavers'.
        result.records_read = len(employees)
        result.records_usable = sum(
            1 for change in result.changes[: len(employees)] if change.action is not Action.ERROR
        )
        result.mappings_gone, result.mappings_back = plan_presence(seen=seen, state=state, settings=settings)
        result.source_hash = source_fingerprint(employees)
    if people_push is not None and employees is not None:
        people_pushes = plan_people_pushes(
            push=people_push, directory=state, employee_changes=result.changes, connection_id=settings.connection_id
        )
        result.pushes += people_pushes
        digest = people_pushes_fingerprint(people_pushes)
        result.source_hash = hashlib.sha256(f"{result.source_hash}:{digest}".encode()).hexdigest()
    if absences is not None:
        result.absence_direction = absences.settings.direction
        result.absences, absence_pushes = plan_absences(
            records=records.get("absences") or [], state=absences, directory=state, employee_changes=result.changes
        )
        result.pushes += absence_pushes
        digest = absences_fingerprint(result.absences, absence_pushes)
        result.source_hash = hashlib.sha256(f"{result.source_hash}:{digest}".encode()).hexdigest()
    if training is not None:
        result.training_planned = True
        result.training = plan_training(
            records=records.get("training") or [], state=training, directory=state, employee_changes=result.changes
        )
        digest = training_fingerprint(result.training)
        result.source_hash = hashlib.sha256(f"{result.source_hash}:training:{digest}".encode()).hexdigest()
    return result
