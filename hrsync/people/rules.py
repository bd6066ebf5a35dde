"""What a person's values must be, wherever they come from: a sync (the
planner checks every record with these) or an admin's form (the person
services check every edit and every new person with the same ones), so the
two refuse the same values in the same words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from connectors.base import RemoteEmployee
from hrsync.people.labels import field_label
from hrsync.people.models import Person

#: Person field → its column's length limit, so an over-long value is refused
#: in words rather than failing as a database error.
MAX_LENGTHS = {
    field.name: field.max_length
    for field in Person._meta.concrete_fields
    if field.name in RemoteEmployee.PERSON_FIELDS and field.max_length
}


def person_field_length_problem(*, field: str, value: object, label: str = "") -> str | None:
    """The problem with a ``value`` longer than the Person ``field`` holds
    (named ``label``, or else by its label); None when it fits. Spaces
    around the value do not count: they are trimmed before it is stored.

    The one length rule, for the planner, the person forms and any connector
    that checks a row as it reads it (a CSV column, say) to name the column
    at fault.
    """
    limit = MAX_LENGTHS.get(field)
    if limit is None or not isinstance(value, str) or len(value) <= limit or len(value.strip()) <= limit:
        return None
    return f"{label or field_label(field)} is longer than {limit} characters."


#: Characters no text value may hold: NUL (PostgreSQL refuses it, failing the
#: whole run, where SQLite stores it), half of a surrogate pair on its own
#: (not even encodable as UTF-8), and the other control characters (C0, DEL
#: and C1), which no name, address or id holds.
UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: …and in a one-line value (a name, an email, a phone number, an id), a tab
#: or a line break as well.
UNSTORABLE_IN_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: Person fields of free text, where a tab or a line break is legitimate (a
#: quoted CSV value may span lines); custom field values are free text too.
FREE_TEXT_FIELDS = frozenset({"job_title"})


def unstorable_character(*, field: str, value: str) -> str | None:
    """The first character of ``value`` that the Person ``field`` may not hold."""
    pattern = UNSTORABLE if field in FREE_TEXT_FIELDS else UNSTORABLE_IN_ONE_LINE
    found = pattern.search(value)
    return found.group() if found else None


def control_character_problem(*, what: str, character: str) -> str:
    """"The first name contains a control character (U+0007)": ``what`` names
    the value; the caller says where to correct it."""
    why = ""
    if "\x80" <= character <= "\x9f":
        # What Windows punctuation (’ – €) becomes when it is read as Latin-1.
        why = ", which usually means the text was saved or read in the wrong encoding"
    return f"{what} contains a control character (U+{ord(character):04X}){why}"


def visible(text: str) -> str:
    """``text`` for a report or a page, each unstorable character shown as �
    (a lone surrogate could not even be sent as UTF-8)."""
    return UNSTORABLE_IN_ONE_LINE.sub("\ufffd", text)


def shown(text: str) -> str:
    """A value quoted in a message: visible, and short."""
    text = visible(text)
    return text if len(text) <= 60 else text[:60] + "…"


_django_email_validator = EmailValidator()


@lru_cache(maxsize=4096)
def _valid_email_domain(domain_part: str) -> bool:
    return _django_email_validator.validate_domain_part(domain_part)


class _RosterEmailValidator(EmailValidator):
    """Django's email validation, with the domain check remembered: a
    roster's 100,000 addresses share a handful of domains."""

    def validate_domain_part(self, domain_part: str) -> bool:
        return _valid_email_domain(domain_part)


validate_email = _RosterEmailValidator()


def email_is_valid(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError as exc:
        # Django's ValidationError refers to itself (error_list), so it and
        # its traceback live until the cyclic collector runs, which a run
        # pauses. Dropping the traceback keeps the planner's frames, and all
        # the records they reach, out of that garbage.
        exc.__traceback__ = None
        return False
    return True


def invalid_email_problem(email: str) -> str:
    return f"'{shown(email)}' is not a valid email address."


def date_problem(*, label: str, text: str) -> str:
    """A date the sync could not read (it reads ``connectors.base.iso_date``'s YYYY-MM-DD)."""
    return f"{label} {text[:40]!r} is not a date (YYYY-MM-DD)"


def person_values_problems(*, values: Mapping[str, Any]) -> dict[str, str]:
    """Field name → why its value in ``values`` (Person field names, cleaned
    values) cannot be stored, by the rules a sync applies to a record."""
    problems: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if character := unstorable_character(field=name, value=value):
            what = f"The {field_label(name).lower()}"
            problems[name] = control_character_problem(what=what, character=character) + "."
        elif problem := person_field_length_problem(field=name, value=value):
            problems[name] = problem
        elif name == "email" and value.strip() and not email_is_valid(value.strip()):
            problems[name] = invalid_email_problem(value.strip())
    return problems


# -- access dates ---------------------------------------------------------------
#
# One rule for when a person may sign in, read by the sync (the planner plans
# their status, the applier sets their login) and by the daily task that
# applies the dates on the day itself, so the two never disagree.


def day_in_words(day: dt.date) -> str:
    """"3 March 2027": a date as an admin reads it in a report."""
    return f"{day.day} {day:%B} {day.year}"


def access_status(
    *, status: str, access_starts_on: dt.date | None, access_ends_on: dt.date | None, today: dt.date
) -> tuple[str, str]:
    """The status a person with ``status`` has on ``today`` under their
    access dates, and why in words ("" when the dates change nothing).

    From ``access_ends_on`` on they are terminated (their login is locked
    from that day); before ``access_starts_on`` a person who has not left is
    onboarding; on and after it, onboarding becomes active.
    """
    if access_ends_on is not None and access_ends_on <= today:
        last_day = access_ends_on - dt.timedelta(days=1)
        return Person.Status.TERMINATED.value, f"Last working day was {day_in_words(last_day)}: access locked."
    if access_starts_on is None or status in Person.GONE_STATUSES:
        return status, ""
    if access_starts_on > today:
        return Person.Status.ONBOARDING.value, f"Starts on {day_in_words(access_starts_on)}: onboarding until then."
    if status == Person.Status.ONBOARDING:
        return Person.Status.ACTIVE.value, f"Started on {day_in_words(access_starts_on)}: access from that day."
    return status, ""


def person_has_access(
    *, status: str, access_starts_on: dt.date | None, access_ends_on: dt.date | None, today: dt.date
) -> bool:
    """Whether a person's login works on ``today``: not before their access
    starts, not from the day it ends, never once they have left."""
    if status in Person.GONE_STATUSES:
        return False
    if access_ends_on is not None and access_ends_on <= today:
        return False
    return access_starts_on is None or access_starts_on <= today
