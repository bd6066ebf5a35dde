"""What a sync would do: a plan of one Change per record.

A plan is plain data. It is what a dry run stores as its report, what an
admin reviews, and what ``apply()`` executes — either straight after planning
or later, from the stored report, when a dry run or a blocked run is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from connections.sync.absences import AbsenceChange, PushItem, absence_counts, push_counts
from connections.sync.training import TrainingChange, training_counts
from connectors.base import RemoteEmployee


class Action(StrEnum):
    CREATE = "create"
    LINK = "link"
    UPDATE = "update"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    UNCHANGED = "unchanged"
    #: Planned and left alone on purpose: a leaver who was never created
    #: (DESIGN §5 also lists here the records a selective sync excludes).
    SKIP = "skip"
    CONFLICT = "conflict"
    ERROR = "error"


#: Action → the key it is counted under in a run's counts.
COUNT_KEYS: dict[Action, str] = {
    Action.CREATE: "created",
    Action.LINK: "linked",
    Action.UPDATE: "updated",
    Action.UNCHANGED: "unchanged",
    Action.DEACTIVATE: "deactivated",
    Action.REACTIVATE: "reactivated",
    Action.SKIP: "skipped",
    Action.CONFLICT: "conflicts",
    Action.ERROR: "errors",
}

#: Actions that write to a Person.
WRITING_ACTIONS = frozenset(
    {Action.CREATE, Action.LINK, Action.UPDATE, Action.DEACTIVATE, Action.REACTIVATE}
)


@dataclass(slots=True)
class Change:
    """One remote record's outcome.

    ``fields`` is for people: field → [old, new] as display strings.
    ``values`` is for the applier: field → new value in JSON form (dates as
    ISO strings, ``depot_id``, ``manager_remote_id``, ``custom_fields``).
    A create's old values are all empty, so its ``fields`` hold only what
    ``values`` cannot show (the depot's and the manager's names); the rest is
    filled in from ``values`` when the change is written out (``to_dict``).
    For a first import of 100,000 people that saves about 100 MB.
    ``mapping`` is the EmployeeMapping row to write (state and the remote
    snapshot); ``mapping_id`` is set when the row exists already.
    """

    action: Action
    remote_id: str
    person_id: int | None = None
    email: str = ""
    name: str = ""
    fields: dict[str, list[Any]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] | None = None
    mapping_id: int | None = None
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    position: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready.

        Not ``dataclasses.asdict``: it deep-copies every nested dict, which
        for a 100,000-record report cost seconds. The dicts are shared, so
        the plan must not change after its report is built.
        """
        data = {name: getattr(self, name) for name in _CHANGE_ATTRIBUTES}
        data["action"] = str(self.action)
        if self.action is Action.CREATE:
            data["fields"] = {**_created_fields(self.values), **self.fields}
        return data

    @property
    def is_quiet(self) -> bool:
        """Unchanged with nothing to say or write: counted, not listed."""
        return (
            self.action is Action.UNCHANGED
            and self.mapping is None
            and not self.warnings
            and not self.message
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        return cls(**{**data, "action": Action(data["action"])})


_CHANGE_ATTRIBUTES = tuple(Change.__dataclass_fields__)
#: The keys of a Change's ``values`` that are a person field of the same name.
_PERSON_VALUE_KEYS = frozenset(RemoteEmployee.PERSON_FIELDS) | {"status"}


def _created_fields(values: dict[str, Any]) -> dict[str, list[Any]]:
    """A create's display diff, from the values it writes: [None, new]."""
    fields: dict[str, list[Any]] = {
        name: [None, value]
        for name, value in values.items()
        if name in _PERSON_VALUE_KEYS and value not in ("", None)
    }
    for key, value in (values.get("custom_fields") or {}).items():
        fields[f"custom.{key}"] = [None, value]
    return fields


class LocationAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(slots=True)
class LocationChange:
    action: LocationAction
    remote_location_id: str
    remote_name: str
    old_name: str = ""
    mapping_id: int | None = None
    depot_id: int | None = None
    depot_name: str = ""
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = str(self.action)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocationChange:
        return cls(**{**data, "action": LocationAction(data["action"])})


@dataclass(slots=True)
class SyncPlan:
    changes: list[Change] = field(default_factory=list)
    locations: list[LocationChange] = field(default_factory=list)
    #: Ids of the mappings whose record has left the source, and of those
    #: whose record is back in it (EmployeeMapping.missing_since_run).
    mappings_gone: list[int] = field(default_factory=list)
    mappings_back: list[int] = field(default_factory=list)
    #: How many people were mapped to this connection when planning.
    mapped_count: int = 0
    #: How many employee records the source returned, and how many of them
    #: were usable (not error rows): a full snapshot with none usable says
    #: nothing about who has left.
    records_read: int = 0
    records_usable: int = 0
    source_hash: str = ""
    directory_hash: str = ""
    employees_planned: bool = False
    #: Per stream the run read: what the read returned and its counts
    #: (``connections.sync.streams.streams_report``).
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Quiet unchanged records of a plan read back from a report, which
    #: leaves them out (a re-sync of 100,000 people is mostly these).
    unchanged_not_listed: int = 0
    #: The absences stream (``connections.sync.absences``): "from_source"
    #: plans ``absences``, "to_source" plans ``pushes``; "" not read.
    absence_direction: str = ""
    absences: list[AbsenceChange] = field(default_factory=list)
    #: As ``unchanged_not_listed``, for absences.
    absences_unchanged_not_listed: int = 0
    pushes: list[PushItem] = field(default_factory=list)
    #: The training stream (``connections.sync.training``), when read.
    training_planned: bool = False
    training: list[TrainingChange] = field(default_factory=list)
    #: As ``unchanged_not_listed``, for training records.
    training_unchanged_not_listed: int = 0

    def count(self) -> dict[str, Any]:
        counts = dict.fromkeys(COUNT_KEYS.values(), 0)
        counts["unchanged"] = self.unchanged_not_listed
        counts["warnings"] = 0
        for change in self.changes:
            counts[COUNT_KEYS[change.action]] += 1
            counts["warnings"] += len(change.warnings)
        if self.locations:
            location_counts = dict.fromkeys((str(a) for a in LocationAction), 0)
            for change in self.locations:
                location_counts[str(change.action)] += 1
            counts["locations"] = location_counts
        if self.absence_direction == "from_source":
            counts["absences"] = absence_counts(self.absences, unchanged_not_listed=self.absences_unchanged_not_listed)
        if self.pushes or self.absence_direction == "to_source":
            counts["pushes"] = push_counts(self.pushes)
        if self.training_planned:
            counts["training"] = training_counts(self.training, unchanged_not_listed=self.training_unchanged_not_listed)
        return counts

    @property
    def has_stream_errors(self) -> bool:
        """Whether a stream other than employees has an error row, or a
        push is refused for sure before it is sent."""
        return any(change.action == "error" for change in (*self.absences, *self.training)) or any(
            item.error for item in self.pushes
        )

    @property
    def deactivations(self) -> list[Change]:
        return [c for c in self.changes if c.action is Action.DEACTIVATE]

    def to_report(self) -> dict[str, Any]:
        """The report as one document: its head and its listed changes.
        Stored in parts (``connections.reports``)."""
        return {**self.report_head(), "changes": list(self.listed_change_dicts())}

    def listed_change_dicts(self) -> Iterator[dict[str, Any]]:
        """The changes a report lists, JSON-ready, one at a time: quiet
        unchanged records are counted in the head instead."""
        return (c.to_dict() for c in self.changes if not c.is_quiet)

    def report_head(self) -> dict[str, Any]:
        quiet = sum(1 for c in self.changes if c.is_quiet)
        return {
            "version": 3,
            "source_hash": self.source_hash,
            "directory_hash": self.directory_hash,
            "employees_planned": self.employees_planned,
            "streams": self.streams,
            "mapped_count": self.mapped_count,
            "records_read": self.records_read,
            "records_usable": self.records_usable,
            "mappings_gone": self.mappings_gone,
            "mappings_back": self.mappings_back,
            "notes": list(self.notes),
            "unchanged_not_listed": self.unchanged_not_listed + quiet,
            "locations": [c.to_dict() for c in self.locations],
            "absence_direction": self.absence_direction,
            # Unchanged absences are counted, not listed: most of them are.
            "absences": [c.to_dict() for c in self.absences if c.action != "unchanged"],
            "absences_unchanged_not_listed": self.absences_unchanged_not_listed
            + sum(1 for c in self.absences if c.action == "unchanged"),
            "pushes": [item.to_dict() for item in self.pushes],
            "training_planned": self.training_planned,
            # As absences: unchanged training records are counted, not listed.
            "training": [c.to_dict() for c in self.training if c.action != "unchanged"],
            "training_unchanged_not_listed": self.training_unchanged_not_listed
            + sum(1 for c in self.training if c.action == "unchanged"),
        }

    @classmethod
    def from_report(cls, head: dict[str, Any], *, changes: Iterable[dict[str, Any]]) -> SyncPlan:
        """The plan a report was made from: its head and its listed changes."""
        return cls(
            changes=[Change.from_dict(c) for c in changes],
            locations=[LocationChange.from_dict(c) for c in head.get("locations", [])],
            mappings_gone=list(head.get("mappings_gone", [])),
            mappings_back=list(head.get("mappings_back", [])),
            mapped_count=head.get("mapped_count", 0),
            records_read=head.get("records_read", 0),
            records_usable=head.get("records_usable", 0),
            source_hash=head.get("source_hash", ""),
            directory_hash=head.get("directory_hash", ""),
            employees_planned=head.get("employees_planned", False),
            streams=dict(head.get("streams", {})),
            notes=list(head.get("notes", [])),
            unchanged_not_listed=head.get("unchanged_not_listed", 0),
            absence_direction=head.get("absence_direction", ""),
            absences=[AbsenceChange.from_dict(c) for c in head.get("absences", [])],
            absences_unchanged_not_listed=head.get("absences_unchanged_not_listed", 0),
            pushes=[PushItem.from_dict(item) for item in head.get("pushes", [])],
            training_planned=head.get("training_planned", False),
            training=[TrainingChange.from_dict(c) for c in head.get("training", [])],
            training_unchanged_not_listed=head.get("training_unchanged_not_listed", 0),
        )
