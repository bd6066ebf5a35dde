"""Personio: employees, offices and absences over API v1 (VENDORS.md, "Personio").

This module translates; :mod:`connectors.personio.client` talks HTTP. What
a sync reads:

* employees: ``GET /v1/company/employees`` asking (``attributes[]``) for
  exactly what is mapped: id, names, email, gender, status, position,
  office, supervisor, hire and termination dates, the last working day when
  access follows it, the employee number attribute and the field map's
  attributes. Each value is the ``value`` of Personio's
  ``{label, value, type, universal_id}`` object; dates are the day part of
  Personio's timestamps (``2014-11-09T00:00:00+01:00`` is 9 November);
* locations: the distinct offices of the employees (v1 has no offices
  endpoint);
* absences (when the connection syncs them): v1 time-offs in the window,
  one way or the other.

A termination date (or, with ``use_last_working_day``, a last working day)
in the past makes a person ``terminated``, whatever Personio's status says.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar

from django.utils import timezone

from connectors import http
from connectors.base import (
    AbsenceExchange,
    Check,
    Connector,
    ConnectorError,
    DeltaReadable,
    Pushable,
    PushChange,
    PushResult,
    RemoteAbsence,
    RemoteEmployee,
    RemoteLocation,
    date_or_problem,
    iso_date,
)
from connectors.personio.client import EMPLOYEES_PAGE_LIMIT, PersonioClient
from connectors.personio.forms import PersonioConfigForm
from connectors.personio.settings import (
    ABSENCES_FROM_PERSONIO,
    ABSENCES_OFF,
    ABSENCES_TO_PERSONIO,
    PersonioSettings,
)

logger = logging.getLogger(__name__)

CUSTOM_PREFIX = "custom."
#: How a field map names a custom field (``field_map.custom.<key>``).
CUSTOM_FIELD = "custom.<key>"

#: Person field → the Personio attribute read for it, unless the field map
#: names another.
STANDARD_ATTRIBUTES: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "gender": "gender",
    "job_title": "position",
    "hire_date": "hire_date",
    "termination_date": "termination_date",
}
#: Person fields a field map may point at another attribute (or fill from
#: one Personio has no standard attribute for), besides ``custom.<key>``.
MAPPABLE_FIELDS = frozenset({
    *STANDARD_ATTRIBUTES, "date_of_birth", "mobile_phone", "work_phone", "home_phone", "employee_reference",
})
#: Attributes a sync cannot do without: missing from every record, they
#: were left off the API credential's whitelist.
ALWAYS_NEEDED = ("id", "first_name", "last_name", "email", "status")
#: Person fields owned whatever the settings.
OWNED = frozenset({*STANDARD_ATTRIBUTES, "depot", "manager"})

#: Personio's genders, spelled as the directory spells them.
GENDERS = {"male": "Male", "female": "Female", "diverse": "Diverse"}
#: Personio's time-off statuses → ``people.Absence.Status``.
ABSENCE_STATUSES = {
    "approved": "approved",
    "pending": "pending",
    "requested": "pending",
    "rejected": "rejected",
    "declined": "rejected",
    "canceled": "rejected",
    "cancelled": "rejected",
}
#: The status a past termination date or last working day reports.
TERMINATED = "terminated"


class PersonioConnector(Connector, DeltaReadable, AbsenceExchange, Pushable):
    kind = "personio"
    label = "Personio"
    description = (
        "Reads employees and offices from your Personio account through its API; absences can flow either way."
    )
    config_form = PersonioConfigForm
    settings_class = PersonioSettings
    settings: PersonioSettings
    secret_fields = ("client_secret",)
    streams: frozenset[str] = frozenset({"employees", "locations"})
    full_snapshot = True
    # The offices are those the employees name: a sync of all data takes them
    # from the employees it read rather than reading every page twice (the
    # rate limit makes each page cost time).
    locations_in_records = True
    default_status_map: ClassVar[dict[str, str]] = {
        "onboarding": "onboarding",
        "active": "active",
        "leave": "on_leave",
        "inactive": "inactive",
        TERMINATED: "terminated",
    }
    provides: frozenset[str] = OWNED
    field_map_fields = frozenset({*MAPPABLE_FIELDS, CUSTOM_FIELD})
    field_map_help = (
        "Personio sends only the attributes whitelisted on the API credential: allow each attribute you map "
        "under Settings > Integrations > API credentials."
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Attribute key → Personio's label, as read (for custom field names).
        self._labels: dict[str, str] = {}
        self._types: dict[str, str] | None = None
        self._type_names: dict[str, str] = {}  # case-folded name → the name as Personio spells it
        try:
            settings = self.settings
        except ConnectorError:
            return  # a run says so when it reads; the pages still open
        # Per connection: what it reads follows its settings.
        if settings.absences != ABSENCES_OFF:
            self.streams = type(self).streams | {"absences"}
        self.include_new_records = settings.include_new
        owned = set(OWNED)
        if settings.employee_number_attribute:
            owned.add("employee_reference")
        if settings.use_hire_date:
            owned.add("access_starts_on")
        if settings.use_last_working_day:
            owned.add("access_ends_on")
        owned |= {name for name in self._mapped_fields() if not name.startswith(CUSTOM_PREFIX)}
        self.provides = frozenset(owned)

    # -- the client ----------------------------------------------------------

    @cached_property
    def client(self) -> PersonioClient:
        """One client (one HTTP session, one token) for this run."""
        settings = self.settings
        return PersonioClient(
            base_url=settings.base_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            partner_id=settings.partner_id,
            app_id=settings.app_id,
            scrub=self.scrub,
            on_wait=lambda text: self.progress_wait(text),
        )

    def describe(self) -> str:
        try:
            return http.safe_host(self.settings.base_url)
        except ConnectorError:
            return self.label

    def attribute_labels(self) -> dict[str, str]:
        """Attribute key → Personio's label, for the attributes these
        credentials may read (the settings form offers them)."""
        labels = {}
        for item in self.client.attributes():
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                labels[item["key"]] = str(item.get("label") or item["key"])
        self._labels.update(labels)
        return labels

    def custom_field_labels(self) -> dict[str, str]:
        """A mapped custom field's name is its attribute's label in
        Personio, when this connector has read it (attribute objects carry
        their label); otherwise the key reads as words."""
        labels = self._labels
        return {
            name[len(CUSTOM_PREFIX):]: labels[attribute]
            for name, attribute in self._mapped_fields().items()
            if name.startswith(CUSTOM_PREFIX) and attribute in labels
        }

    # -- employees -----------------------------------------------------------

    def check(self) -> Check:
        try:
            first_page: list[RemoteEmployee] = []
            for record in self._read(updated_since=None, page_only=True):
                first_page.append(record)
        except ConnectorError as exc:
            return Check(ok=False, message=exc.message)
        count = len(first_page)
        counted = f"{count} employee{'' if count == 1 else 's'}"
        if count >= EMPLOYEES_PAGE_LIMIT:
            counted = f"{EMPLOYEES_PAGE_LIMIT} or more employees"
        return Check(
            ok=True,
            message=f"Connected to Personio at {self.describe()} ({counted})",
            sample=[
                {"id": record.remote_id, "name": f"{record.first_name} {record.last_name}".strip(),
                 "email": record.email, "status": record.status}
                for record in first_page[:5]
            ],
        )

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        yield from self._read(updated_since=None)

    def fetch_employees_changed(self, since: dt.datetime) -> Iterator[RemoteEmployee]:
        yield from self._read(updated_since=since)

    @property
    def full_sync_time(self) -> dt.time | None:
        return self.settings.full_sync_at

    def locations_of(self, records: Iterable[RemoteEmployee]) -> list[RemoteLocation]:
        """The distinct offices of ``records``, by their names in Personio."""
        seen: dict[str, RemoteLocation] = {}
        for record in records:
            if record.location_id and record.location_id not in seen:
                office = _office(_value(_attributes(record.raw), "office"))
                seen[record.location_id] = office or RemoteLocation(
                    remote_id=record.location_id, name=record.location_id
                )
        return list(seen.values())

    def fetch_locations(self) -> Iterator[RemoteLocation]:
        seen: dict[str, RemoteLocation] = {}
        read, with_office = 0, 0
        for _page, item in self.client.employees(attributes=["office"]):
            attributes = _attributes(item)
            read, with_office = read + 1, with_office + ("office" in attributes)
            location = _office(_value(attributes, "office"))
            if location is not None and location.remote_id not in seen:
                seen[location.remote_id] = location
        if read and not with_office:
            self._attributes_check({"office"}, needed=("office",))
        yield from seen.values()

    def requested_attributes(self) -> list[str]:
        """The ``attributes[]`` of an employees read: exactly what is mapped."""
        settings = self.settings
        names = ["id", "status", *self._sources().values(), "office", "supervisor"]
        if settings.use_last_working_day:
            names.append("last_working_day")
        names += [key for name, key in self._mapped_fields().items() if name.startswith(CUSTOM_PREFIX)]
        return list(dict.fromkeys(names))

    def _sources(self) -> dict[str, str]:
        """Person field → the attribute it is read from."""
        sources = dict(STANDARD_ATTRIBUTES)
        if self.settings.employee_number_attribute:
            sources["employee_reference"] = self.settings.employee_number_attribute
        sources.update({k: v for k, v in self._mapped_fields().items() if not k.startswith(CUSTOM_PREFIX)})
        return sources

    def _needed_attributes(self) -> list[str]:
        """The requested attributes whose absence stops a sync: the ones it
        cannot do without and the ones this connection's settings name."""
        settings = self.settings
        needed = list(ALWAYS_NEEDED)
        if settings.use_hire_date:
            needed.append("hire_date")
        if settings.use_last_working_day:
            needed.append("last_working_day")
        if settings.employee_number_attribute:
            needed.append(settings.employee_number_attribute)
        needed += self._mapped_fields().values()
        return list(dict.fromkeys(needed))

    def _read(self, *, updated_since: dt.datetime | None, page_only: bool = False) -> Iterator[RemoteEmployee]:
        """The employees, the first page held back until its attributes are
        checked. ``page_only``: stop after the first page (a check)."""
        attributes = self.requested_attributes()
        today = timezone.localdate()
        first_page: list[tuple[Any, str]] = []
        checked = False
        current_page, index = 0, 0
        for page, item in self.client.employees(attributes=attributes, updated_since=updated_since):
            if page != current_page:
                current_page, index = page, 0
            index += 1
            position = f"page {page}, record {index}"
            if not checked and page == 1:
                first_page.append((item, position))
                # A full first page ends a check here: the client asks
                # for the next page only when the next record is wanted.
                if not (page_only and len(first_page) >= EMPLOYEES_PAGE_LIMIT):
                    continue
            if not checked:
                checked = True
                yield from self._first_page(first_page, attributes, today)
                if page_only:
                    return
                if page == 1:
                    continue
            yield self._employee(item, position, today)
        if not checked:
            yield from self._first_page(first_page, attributes, today)

    def _first_page(
        self, items: list[tuple[Any, str]], attributes: Sequence[str], today: dt.date
    ) -> Iterator[RemoteEmployee]:
        """The first page's records, once it is known that Personio sent
        every attribute asked for: one it dropped from every record is not
        on the credential's whitelist."""
        if items:
            present = {key for item, _position in items for key in _attributes(item)}
            self._attributes_check(set(attributes) - present)
        for item, position in items:
            yield self._employee(item, position, today)

    def _attributes_check(self, missing: set[str], *, needed: Sequence[str] = ()) -> None:
        """Stop when Personio left out an attribute the read needs
        (``needed``, else those of the settings); otherwise leave the fields
        of the optional ones it left out as they are."""
        needed = [name for name in (needed or self._needed_attributes()) if name in missing]
        if needed:
            names = ", ".join(f"`{name}`" for name in needed)
            raise ConnectorError(
                f"Personio did not return {names}; enable "
                f"{'it' if len(needed) == 1 else 'them'} under Settings > Integrations > API credentials "
                "(the attributes these credentials may read), then sync again.",
                permanent=True,
            )
        # An optional one: the fields it fills are left as they are in this
        # run rather than blanked for everyone.
        unowned = {field for attribute in missing for field in _fields_of(attribute, self.settings)}
        if unowned & self.provides:
            logger.warning(
                "Personio did not return %s; hrsync leaves %s as they are",
                ", ".join(sorted(missing)), ", ".join(sorted(unowned & self.provides)),
            )
            self.provides = self.provides - unowned

    def _mapped_fields(self) -> dict[str, str]:
        """The field map's entries this connector reads: person field (or
        ``custom.<key>``) → Personio attribute key."""
        mapped = {}
        for name, attribute in self.field_map.items():
            name, attribute = str(name).strip(), str(attribute or "").strip()
            if not attribute:
                continue
            if name in MAPPABLE_FIELDS or (name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX)):
                mapped[name] = attribute
        return mapped

    def _employee(self, item: Any, position: str, today: dt.date) -> RemoteEmployee:
        attributes = _attributes(item)
        if not attributes:
            return RemoteEmployee(
                remote_id="", raw=item if isinstance(item, dict) else {},
                problems=["the record has no attributes"], source_position=position,
            )
        for key, attribute in attributes.items():
            if isinstance(attribute, dict) and isinstance(attribute.get("label"), str):
                self._labels.setdefault(key, attribute["label"])
        settings = self.settings
        problems: list[str] = []
        values: dict[str, Any] = {}
        for person_field, key in self._sources().items():
            value = _value(attributes, key)
            if person_field in RemoteEmployee.DATE_FIELDS:
                values[person_field] = _date(value, key, problems)
            else:
                values[person_field] = _text(value, key, problems)
        remote_id = _text(_value(attributes, "id"), "id", problems)
        if not remote_id:
            problems.insert(0, "record has no id")
        values["gender"] = GENDERS.get(values.get("gender", "").lower(), values.get("gender", ""))
        status = _text(_value(attributes, "status"), "status", problems).lower()
        office = _office(_value(attributes, "office"))
        manager = _nested_id(_value(attributes, "supervisor"))
        last_working_day = (
            _date(_value(attributes, "last_working_day"), "last_working_day", problems)
            if settings.use_last_working_day else None
        )
        termination_date = values.get("termination_date")
        if (termination_date is not None and termination_date < today) or (
            last_working_day is not None and last_working_day < today
        ):
            status = TERMINATED
        if settings.use_hire_date:
            values["access_starts_on"] = values.get("hire_date")
        if settings.use_last_working_day:
            values["access_ends_on"] = last_working_day + dt.timedelta(days=1) if last_working_day else None
        custom = {
            name[len(CUSTOM_PREFIX):]: _custom(attributes.get(key))
            for name, key in self._mapped_fields().items()
            if name.startswith(CUSTOM_PREFIX)
        }
        return RemoteEmployee(
            remote_id=remote_id,
            status=status,
            location_id=office.remote_id if office else "",
            manager_remote_id=manager,
            custom=custom,
            raw=item,
            problems=problems,
            source_position=position,
            **values,
        )

    # -- absences ------------------------------------------------------------

    @property
    def absence_direction(self) -> str:
        return {ABSENCES_FROM_PERSONIO: "from_source", ABSENCES_TO_PERSONIO: "to_source"}.get(
            self.settings.absences, ""
        )

    def absence_window(self, today: dt.date) -> tuple[dt.date, dt.date]:
        settings = self.settings
        return (
            today - dt.timedelta(days=settings.absence_days_back),
            today + dt.timedelta(days=settings.absence_days_ahead),
        )

    @property
    def absences_only_approved(self) -> bool:
        return self.settings.only_approved_absences

    def fetch_absences(self) -> Iterator[RemoteAbsence]:
        start, end = self.absence_window(timezone.localdate())
        only_approved = self.absences_only_approved
        for index, item in enumerate(self.client.time_offs(start_date=start, end_date=end), start=1):
            absence = _absence(item, f"time-off {index}")
            if only_approved and absence.status != "approved" and not absence.problems:
                continue
            yield absence

    # -- pushes --------------------------------------------------------------

    def push(self, changes: Sequence[PushChange]) -> Iterator[PushResult]:
        for change in changes:
            yield self._push_one(change)

    def _push_one(self, change: PushChange) -> PushResult:
        if change.stream != "absences":
            return PushResult(change.key, "rejected", message="Personio takes only absences from hrsync.")
        try:
            if change.operation == "delete":
                if not change.remote_id:
                    return PushResult(change.key, "sent")  # never reached Personio: nothing to remove
                self.client.time_off_delete(time_off_id=change.remote_id)
                return PushResult(change.key, "sent", remote_id=change.remote_id)
            if change.operation == "create":
                return self._push_create(change)
            return PushResult(
                change.key, "rejected",
                message="Personio's API cannot change an absence; remove it and add it again.",
            )
        except ConnectorError as exc:
            if exc.refuses_the_record:
                return PushResult(change.key, "rejected", message=exc.message)
            return PushResult(change.key, "failed", message=exc.message)

    def _push_create(self, change: PushChange) -> PushResult:
        values = change.values
        type_name = str(values.get("type_name") or "").strip()
        types = self._time_off_types()
        type_id = types.get(type_name.casefold())
        if type_id is None:
            known = ", ".join(sorted(self._type_names.values())[:12]) or "none"
            return PushResult(
                change.key,
                "rejected",
                message=f"Personio has no absence type named '{type_name}'. Its types are: {known}.",
            )
        employee_id = str(values.get("employee_remote_id") or "").strip()
        if not employee_id:
            return PushResult(
                change.key, "rejected", message="The person is not linked to anyone in Personio yet.",
            )
        start, end = _iso(values.get("start_date")), _iso(values.get("end_date"))
        if start is None or end is None:
            return PushResult(change.key, "rejected", message="The absence has no valid start and end date.")
        created = self.client.time_off_create(
            employee_id=employee_id,
            time_off_type_id=type_id,
            start_date=start,
            end_date=end,
            half_day_start=bool(values.get("half_day_start")),
            half_day_end=bool(values.get("half_day_end")),
            comment=str(values.get("comment") or ""),
        )
        remote_id = _scalar(_attributes(created).get("id"))
        return PushResult(change.key, "sent", remote_id=remote_id)

    def _time_off_types(self) -> dict[str, str]:
        """Absence type name (case-folded) → Personio's id; read once per run."""
        cached = self._types
        if cached is None:
            cached = {}
            for item in self.client.time_off_types():
                attributes = _attributes(item)
                name, type_id = attributes.get("name"), _scalar(attributes.get("id"))
                if isinstance(name, str) and name.strip() and type_id:
                    cached.setdefault(name.strip().casefold(), type_id)
                    self._type_names.setdefault(name.strip().casefold(), name.strip())
            self._types = cached
        return cached


# -- value helpers -------------------------------------------------------------


def _attributes(item: Any) -> dict[str, Any]:
    attributes = item.get("attributes") if isinstance(item, dict) else None
    return attributes if isinstance(attributes, dict) else {}


def _value(attributes: Mapping[str, Any], key: str) -> Any:
    """The value of an attribute object ``{label, value, type, universal_id}``
    (or a bare value, as nested objects carry them)."""
    value = attributes.get(key)
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    if value is None or isinstance(value, dict | list | bool):
        return ""
    return str(value).strip()


def _text(value: Any, name: str, problems: list[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        problems.append(f"{name} is not a single value")
        return ""
    if isinstance(value, bool):
        problems.append(f"{name} is {str(value).lower()}, not a text value")
        return ""
    return str(value).strip()


def _date(value: Any, name: str, problems: list[str]) -> dt.date | None:
    if value is None or value == "":
        return None
    text = str(value).strip() if not isinstance(value, dict | list) else repr(value)
    return date_or_problem(text, label=name, problems=problems)


def _iso(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    return iso_date(str(value or ""))


def _office(value: Any) -> RemoteLocation | None:
    """``{"type": "Office", "attributes": {"id": 11, "name": "Berlin"}}`` → a location."""
    attributes = _attributes(value)
    remote_id = _scalar(attributes.get("id"))
    if not remote_id:
        return None
    name = _scalar(attributes.get("name")) or remote_id
    return RemoteLocation(remote_id=remote_id, name=name, raw=attributes)


def _nested_id(value: Any) -> str:
    """The id of a nested ``{"type": "Employee", "attributes": {"id": {"value": 2}}}``."""
    return _scalar(_attributes(value).get("id"))


def _custom(attribute: Any) -> Any:
    """A custom field's value: text, a number, a date as YYYY-MM-DD, a
    nested object's name; None when Personio has none."""
    value = attribute.get("value") if isinstance(attribute, dict) else attribute
    kind = attribute.get("type") if isinstance(attribute, dict) else ""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        nested = _attributes(value)
        return _scalar(nested.get("name")) or _scalar(nested.get("value")) or None
    if isinstance(value, list):
        return ", ".join(_scalar(part) or str(part) for part in value)
    if kind == "date":
        parsed = iso_date(str(value))
        return parsed.isoformat() if parsed else str(value)
    return value if isinstance(value, int | float | bool) else str(value).strip()


def _fields_of(attribute: str, settings: PersonioSettings) -> set[str]:
    """The person fields an optional attribute fills."""
    fields = {field for field, key in STANDARD_ATTRIBUTES.items() if key == attribute}
    if attribute == "office":
        fields.add("depot")
    if attribute == "supervisor":
        fields.add("manager")
    if attribute == "hire_date" and settings.use_hire_date:
        fields.add("access_starts_on")
    return fields


def _absence(item: Any, position: str) -> RemoteAbsence:
    attributes = _attributes(item)
    problems: list[str] = []
    remote_id = _scalar(attributes.get("id"))
    if not remote_id:
        problems.append("the time-off has no id")
    employee_id = _nested_id(attributes.get("employee"))
    if not employee_id:
        problems.append("the time-off names no employee")
    type_name = _scalar(_attributes(attributes.get("time_off_type")).get("name"))
    if not type_name:
        problems.append("the time-off has no type")
    start = _date(attributes.get("start_date"), "start_date", problems)
    end = _date(attributes.get("end_date"), "end_date", problems)
    word = _scalar(attributes.get("status")).lower()
    status = ABSENCE_STATUSES.get(word)
    if status is None:
        problems.append(f"the time-off's status '{word[:40]}' is not one hrsync knows")
        status = "pending"
    return RemoteAbsence(
        remote_id=remote_id,
        employee_remote_id=employee_id,
        type_name=type_name,
        start_date=start,
        end_date=end,
        half_day_start=_flag(attributes.get("half_day_start")),
        half_day_end=_flag(attributes.get("half_day_end")),
        status=status,
        comment=_scalar(attributes.get("comment")),
        remote_id_v2=_scalar(attributes.get("id_v2")),
        raw=item if isinstance(item, dict) else {},
        problems=problems,
        source_position=position,
    )


def _flag(value: Any) -> bool:
    """Personio's half-day flags: 0/1, true/false."""
    if isinstance(value, str):
        text = value.strip().lower()
        return text == "1" or text == "true"
    return bool(value)


__all__ = ["PersonioConnector"]
