"""Which column is which: the column mapping, its automatic suggestions, and
turning one parsed row into a RemoteEmployee.

A column is referred to by its header name (matched case-insensitively,
ignoring extra spaces) or by its 1-based position ("3"), which is the only
way when the file has no header row.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from connectors.base import ConnectorError, RemoteEmployee, iso_date

#: What a column can be mapped to, besides "custom.<key>".
#: (Not the access dates: a connection derives them from its own settings.)
TARGETS: tuple[str, ...] = (
    *(name for name in RemoteEmployee.PERSON_FIELDS if name not in ("access_starts_on", "access_ends_on")),
    "location",
    "manager",
    "status",
)
_TARGET_ALIASES = {
    "location_id": "location",
    "depot": "location",
    "site": "location",
    "manager_id": "manager",
    "manager_remote_id": "manager",
    "forename": "first_name",
    "surname": "last_name",
}
CUSTOM_PREFIX = "custom."
DATE_FIELDS = RemoteEmployee.DATE_FIELDS
#: Longest unique key / location the mapping tables hold.
MAX_KEY_LENGTH = 200

#: Header names (lower-case, letters and digits only) → the field they usually hold.
_SUGGESTIONS: dict[str, str] = {}
for _target, _names in {
    "first_name": "firstname first forename forenames givenname given christianname preferredname",
    "last_name": "lastname last surname familyname",
    "email": "email emailaddress mail workemail workemailaddress businessemail",
    "employee_reference": (
        "employeeid employeeno employeenumber employeeref employeereference empid empno "
        "staffid staffno staffnumber staffref payrollnumber payrollno payrollid personnelnumber "
        "personnelno personid id employeecode"
    ),
    "date_of_birth": "dob dateofbirth birthdate birthday",
    "gender": "gender sex",
    "mobile_phone": "mobile mobilephone mobilenumber mobileno cell cellphone",
    "work_phone": "phone telephone workphone worktelephone officephone businessphone",
    "home_phone": "homephone hometelephone",
    "job_title": "jobtitle title position role jobrole job",
    "location": "location locationid site depot office branch workplace",
    "manager": "manager managerid managerno linemanager linemanagerid reportsto supervisor",
    "status": "status employmentstatus employeestatus",
    "hire_date": "startdate hiredate datestarted joiningdate joindate dateofjoining employmentstart",
    "termination_date": "leavingdate enddate terminationdate leavedate dateleft employmentend",
}.items():
    for _name in _names.split():
        _SUGGESTIONS[_name] = _target


class SettingProblem(ValueError):
    """A mapping setting that cannot work; ``field`` is the form field to blame."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def header_key(name: str) -> str:
    """How header names are compared: case-insensitive, spaces collapsed."""
    return " ".join(str(name).split()).casefold()


def _suggestion_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).casefold())


def suggest_columns(headers: Sequence[str]) -> dict[str, str]:
    """``{header: field}`` for the headers whose names say what they hold.

    Each field is suggested once, for the first header that names it
    ("First Name", "firstname", "Forename", "given_name" → first_name).
    """
    suggested: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        target = _SUGGESTIONS.get(_suggestion_key(header))
        if target is None or target in taken or not str(header).strip():
            continue
        suggested[header] = target
        taken.add(target)
    return suggested


def normalise_target(value: Any) -> str:
    text = str(value or "").strip()
    if text.casefold().startswith(CUSTOM_PREFIX):
        key = text[len(CUSTOM_PREFIX):].strip()
        if not key:
            raise ValueError("A custom field needs a key after custom., such as custom.shoe_size.")
        return CUSTOM_PREFIX + key
    lowered = text.lower().replace(" ", "_")
    lowered = _TARGET_ALIASES.get(lowered, lowered)
    if lowered not in TARGETS:
        raise ValueError(
            f"'{text[:60]}' is not a person field. Use one of {', '.join(TARGETS)}, or custom.<key>."
        )
    return lowered


def normalise_columns(value: Any) -> dict[str, str]:
    """The ``columns`` setting: a JSON object {column: field}; {} means automatic."""
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ValueError('Columns must be a JSON object, such as {"First Name": "first_name"}.')
    result: dict[str, str] = {}
    seen_targets: dict[str, str] = {}
    for raw_column, raw_target in value.items():
        column = str(raw_column).strip()
        if not column:
            raise ValueError("A column name in Columns is empty.")
        target = normalise_target(raw_target)
        if target in seen_targets:
            raise ValueError(
                f"Columns maps both '{seen_targets[target]}' and '{column}' to {target}; "
                "map each field from one column."
            )
        seen_targets[target] = column
        result[column] = target
    return result


def _is_position(ref: str) -> bool:
    return ref.isdigit() and int(ref) >= 1


def check_settings(
    *,
    columns: Mapping[str, str],
    has_header: bool,
    key_column: str,
    manager_column: str,
    status_column: str,
    all_active: bool,
) -> None:
    """What can be checked without the file. Raises SettingProblem."""
    refs = {"columns": list(columns), "key_column": [key_column], "manager_column": [manager_column],
            "status_column": [status_column]}
    if not has_header:
        for name, values in refs.items():
            for ref in values:
                if ref and not _is_position(ref):
                    raise SettingProblem(
                        f"Without a header row, columns are numbered 1, 2, 3…; '{ref[:60]}' is not a "
                        "column number.",
                        field=name,
                    )
        # No columns yet: the Column mapping page maps them by position, from the file.
    targets = {target: column for column, target in columns.items()}
    if status_column and all_active:
        raise SettingProblem(
            "Choose a status column or “Everyone in the file is active”, not both.", field="all_active"
        )
    if status_column and "status" in targets and header_key(targets["status"]) != header_key(status_column):
        raise SettingProblem(
            f"Columns maps '{targets['status']}' to status but the status column is '{status_column}'; "
            "choose one.",
            field="status_column",
        )
    if manager_column and "manager" in targets and header_key(targets["manager"]) != header_key(manager_column):
        raise SettingProblem(
            f"Columns maps '{targets['manager']}' to manager but the manager column is "
            f"'{manager_column}'; choose one.",
            field="manager_column",
        )
    if all_active and "status" in targets:
        raise SettingProblem(
            f"Columns maps '{targets['status']}' to status, so not everyone in the file is active; "
            "untick “Everyone in the file is active” or remove the status column.",
            field="all_active",
        )
    if columns:
        # An explicit mapping must say where the key and the status come from;
        # an automatic one is checked against the header when the file is read.
        if not (key_column or "employee_reference" in targets or "email" in targets):
            raise SettingProblem(
                "Choose the unique key column: the employee id column, or the email column when "
                "the file has none.",
                field="key_column",
            )
        if not (status_column or "status" in targets or all_active):
            raise SettingProblem(
                "Choose the status column, or tick “Everyone in the file is active”.",
                field="status_column",
            )


@lru_cache(maxsize=65536)
def _parse_date(text: str, date_format: str) -> dt.date | None:
    """The date in ``text`` (in ``date_format``, or ISO), or None.

    Cached: a roster's dates repeat (a few thousand distinct birthdays and
    start dates among 100,000 people) and strptime is slow.
    """
    try:
        return dt.datetime.strptime(text, date_format).date()
    except ValueError:
        return iso_date(text)


# -- the mapping of one file ---------------------------------------------------


@dataclass(slots=True)
class Column:
    index: int  # 0-based
    label: str  # the header name, or "column 3"
    target: str


@dataclass(slots=True)
class ColumnPlan:
    """The resolved mapping for one file: which position feeds which field."""

    key: Column
    key_is_email: bool
    fields: list[Column] = field(default_factory=list)  # person fields and custom.<key>
    location: Column | None = None
    manager: Column | None = None
    status: Column | None = None
    all_active: bool = False
    date_format: str = "%Y-%m-%d"
    date_format_label: str = "YYYY-MM-DD"
    width: int = 0
    has_header: bool = True

    def provides(self) -> frozenset[str]:
        owned = {c.target for c in self.fields if c.target in RemoteEmployee.PERSON_FIELDS}
        if self.location is not None:
            owned.add("depot")
        if self.manager is not None:
            owned.add("manager")
        return frozenset(owned)

    def describe(self) -> dict[str, str]:
        """``{field: column label}``, for the check's message and preview."""
        mapping = {"key": self.key.label}
        for column in self.fields:
            mapping[column.target] = column.label
        for name in ("location", "manager", "status"):
            column = getattr(self, name)
            if column is not None:
                mapping[name] = column.label
        if self.all_active:
            mapping["status"] = "(everyone active)"
        return mapping

    # -- one row -----------------------------------------------------------

    def record(self, line: int, row: Sequence[str]) -> RemoteEmployee:
        problems: list[str] = []
        if len(row) != self.width:
            against = "the header has" if self.has_header else "the first row has"
            problems.append(f"Line {line} has {len(row)} fields where {against} {self.width}.")

        def cell(column: Column) -> str:
            return row[column.index].strip() if column.index < len(row) else ""

        remote_id = cell(self.key)
        if self.key_is_email:
            remote_id = remote_id.lower()
        if not remote_id:
            problems.append(f"The record has no id: its {self.key.label} is empty.")
        elif len(remote_id) > MAX_KEY_LENGTH:
            problems.append(f"{self.key.label} is longer than {MAX_KEY_LENGTH} characters.")
            remote_id = remote_id[:MAX_KEY_LENGTH]

        values: dict[str, Any] = {}
        custom: dict[str, str] = {}
        length_problem, limits = _length_rule()
        for column in self.fields:
            text = cell(column)
            if column.target.startswith(CUSTOM_PREFIX):
                custom[column.target[len(CUSTOM_PREFIX):]] = text
            elif column.target in DATE_FIELDS:
                values[column.target] = self._date(text, column, problems)
            else:
                limit = limits.get(column.target)
                # The length alone first: this runs for every cell of the file.
                if limit is not None and len(text) > limit and (
                    problem := length_problem(field=column.target, value=text, label=column.label)
                ):
                    problems.append(problem)
                    text = text[:limit]
                values[column.target] = text
        if self.location is not None:
            location = cell(self.location)
            if len(location) > MAX_KEY_LENGTH:
                problems.append(f"{self.location.label} is longer than {MAX_KEY_LENGTH} characters.")
                location = ""
            values["location_id"] = location
        if self.manager is not None:
            manager = cell(self.manager)
            values["manager_remote_id"] = manager.lower() if self.key_is_email else manager
        if self.all_active:
            values["status"] = "Active"
        elif self.status is not None:
            values["status"] = cell(self.status)
        return RemoteEmployee(
            remote_id=remote_id,
            custom=custom,
            problems=problems,
            source_position=f"line {line}",
            **values,
        )

    def _date(self, text: str, column: Column, problems: list[str]) -> dt.date | None:
        if not text:
            return None
        parsed = _parse_date(text, self.date_format)
        if parsed is None:
            problems.append(f"{column.label} '{text[:40]}' is not a date ({self.date_format_label}).")
        return parsed

    def location_of(self, row: Sequence[str]) -> str:
        if self.location is None or self.location.index >= len(row):
            return ""
        return row[self.location.index].strip()

    def preview(self, record: RemoteEmployee, line: int) -> dict[str, Any]:
        """One row as it will map to person fields, for Test's preview."""
        shown: dict[str, Any] = {"line": line, "key": record.remote_id}
        for column in self.fields:
            if column.target.startswith(CUSTOM_PREFIX):
                shown[column.target] = record.custom.get(column.target[len(CUSTOM_PREFIX):], "")
            else:
                value = getattr(record, column.target)
                shown[column.target] = value.isoformat() if isinstance(value, dt.date) else value
        if self.location is not None:
            shown["depot"] = record.location_id
        if self.manager is not None:
            shown["manager"] = record.manager_remote_id
        shown["status"] = record.status
        if record.problems:
            shown["problems"] = " ".join(record.problems)
        return shown




@cache
def _length_rule() -> tuple[Callable[..., str | None], Mapping[str, int]]:
    # The directory's own rule, so a row names its column at fault; imported
    # on first use because the rules need the models loaded.
    from hrsync.people.rules import MAX_LENGTHS, person_field_length_problem

    return person_field_length_problem, MAX_LENGTHS


def resolve_columns(
    *,
    header: Sequence[str] | None,
    width: int,
    columns: Mapping[str, str],
    key_column: str,
    manager_column: str,
    status_column: str,
    all_active: bool,
    date_format: str,
    date_format_label: str,
) -> ColumnPlan:
    """The mapping for a file whose header (or, without one, first row width)
    is known. Raises a permanent ConnectorError naming what is missing."""
    has_header = header is not None
    if not columns:
        if not has_header:
            raise ConnectorError(
                "The file has no header row, so its columns must be mapped by position: "
                "map them on the Column mapping page.",
                permanent=True,
            )
        columns = suggest_columns(header)
        automatic = True
    else:
        columns = normalise_columns(columns)
        automatic = False

    index: dict[str, list[int]] = {}
    for position, name in enumerate(header or ()):
        index.setdefault(header_key(name), []).append(position)

    def find(ref: str, role: str) -> Column:
        ref = str(ref).strip()
        positions = index.get(header_key(ref))
        if positions:
            if len(positions) > 1:
                numbers = " and ".join(str(p + 1) for p in positions)
                raise ConnectorError(
                    f"The file's header has more than one column named '{ref}' (columns {numbers}), "
                    f"which is {role}. Rename one, or map it by position.",
                    permanent=True,
                )
            return Column(positions[0], header[positions[0]].strip() or f"column {positions[0] + 1}", "")
        if _is_position(ref):
            position = int(ref) - 1
            if position >= width:
                what = "its header has" if has_header else "its first row has"
                raise ConnectorError(
                    f"Column {ref} is {role}, but {what} only {width} columns.", permanent=True
                )
            label = (header[position].strip() if has_header else "") or f"column {ref}"
            return Column(position, label, "")
        shown = ", ".join(f"'{h.strip()}'" for h in (header or ())[:30])
        more = "…" if header and len(header) > 30 else ""
        raise ConnectorError(
            f"The file's header has no column '{ref}', which is {role}. "
            f"Its columns are: {shown}{more}. Check the column mapping (or the field separator).",
            permanent=True,
        )

    plan_fields: list[Column] = []
    by_target: dict[str, Column] = {}
    for ref, target in columns.items():
        column = find(ref, f"mapped to {target}")
        column.target = target
        by_target[target] = column
        if target not in ("location", "manager", "status"):
            plan_fields.append(column)

    if key_column:
        key = find(key_column, "the unique key column")
    elif "employee_reference" in by_target:
        key = by_target["employee_reference"]
    elif "email" in by_target:
        key = by_target["email"]
    else:
        found = ", ".join(f"'{c}' → {t}" for c, t in columns.items()) or "none"
        raise ConnectorError(
            "hrsync cannot tell which column is the unique key: set the unique key column (the "
            "employee id column, or the email column when the file has none). "
            + (f"Columns recognised from the header: {found}." if automatic else ""),
            permanent=True,
        )
    email_column = by_target.get("email")
    key_is_email = email_column is not None and email_column.index == key.index
    if not key_is_email and "email" not in by_target and header is not None:
        key_is_email = _suggestion_key(header[key.index]) in {"email", "emailaddress", "workemail"}

    manager = find(manager_column, "the manager column") if manager_column else by_target.get("manager")
    status = None
    if not all_active:
        status = find(status_column, "the status column") if status_column else by_target.get("status")
        if status is None:
            raise ConnectorError(
                "hrsync cannot tell whose status is what: set the status column, or tick "
                "“Everyone in the file is active”.",
                permanent=True,
            )
    return ColumnPlan(
        key=Column(key.index, key.label, "key"),
        key_is_email=key_is_email,
        fields=plan_fields,
        location=by_target.get("location"),
        manager=manager,
        status=status,
        all_active=all_active,
        date_format=date_format,
        date_format_label=date_format_label,
        width=width,
        has_header=has_header,
    )
