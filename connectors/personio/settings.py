"""A Personio connection's typed settings, and the normalisers its form, the
command line (``--set KEY=VALUE``, through the form) and the stored settings
share.

The setting names are the form's field names and the ``--set`` keys:
``client_id``, ``client_secret``, ``base_url``, ``partner_id``, ``app_id``,
``employee_number_attribute``, ``include_new``, ``use_hire_date``,
``use_last_working_day``, ``absences``, ``absence_days_back``,
``absence_days_ahead``, ``only_approved_absences`` and ``full_sync_at``.
Which Personio attribute fills which person field is the connection's
field map (``field_map.<field>=<attribute>``), not a setting here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ConnectorSettings, stored_flag_normalise, stored_setting_normalise
from connectors.http import https_base_url_normalise

DEFAULT_BASE_URL = "https://api.personio.de"
#: What hrsync sends as ``X-Personio-Partner-ID`` / ``X-Personio-App-ID``
#: unless Personio gave the organisation its own values.
DEFAULT_HEADER_ID = "HRSYNC"
DEFAULT_FULL_SYNC_AT = dt.time(6, 30)

ABSENCES_OFF = "off"
ABSENCES_FROM_PERSONIO = "from_personio"
ABSENCES_TO_PERSONIO = "to_personio"
ABSENCE_CHOICES: list[tuple[str, str]] = [
    (ABSENCES_OFF, "Off: absences are not synced"),
    (ABSENCES_FROM_PERSONIO, "From Personio: Personio's absences are copied into hrsync"),
    (ABSENCES_TO_PERSONIO, "To Personio: absences recorded in hrsync are sent to Personio"),
]
DEFAULT_DAYS_BACK = 30
DEFAULT_DAYS_AHEAD = 180
#: Two years either way: Personio reads every time-off of the window on
#: every sync, so a wider one only makes each sync slower.
MAX_WINDOW_DAYS = 730

_HEADER_ID = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_ATTRIBUTE_KEY_LENGTH = 100
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::00)?")


def normalise_base_url(value: Any) -> str:
    """Personio's API address; blank is ``https://api.personio.de``. The
    rule of every vendor address (``http.https_base_url_normalise``)."""
    text = str(value or "").strip()
    if not text:
        return DEFAULT_BASE_URL
    return https_base_url_normalise(
        text, example=DEFAULT_BASE_URL, sign_in="the client ID and client secret fields"
    )


def normalise_header_id(value: Any) -> str:
    """A partner or app id as Personio asks for it: UPPER_SNAKE_CASE, such
    as ACME_HR. Blank is ``HRSYNC``; small letters are taken as capitals."""
    text = str(value or "").strip().upper()
    if not text:
        return DEFAULT_HEADER_ID
    if len(text) > 100 or not _HEADER_ID.fullmatch(text):
        raise ValueError(
            "Use capital letters, digits and single underscores, starting with a letter "
            "(UPPER_SNAKE_CASE, such as ACME_HR)."
        )
    return text


def normalise_attribute_key(value: Any) -> str:
    """A Personio attribute key, such as ``dynamic_21`` or ``email``; blank stays blank."""
    text = str(value or "").strip()
    if not text:
        return ""
    if len(text) > MAX_ATTRIBUTE_KEY_LENGTH or not _ATTRIBUTE_KEY.fullmatch(text):
        raise ValueError(
            "Enter the attribute's key as Personio lists it, such as dynamic_21 "
            "(letters, digits and underscores), not its label."
        )
    return text


def normalise_absences(value: Any) -> str:
    """``off``, ``from_personio`` or ``to_personio``; blank is off."""
    text = str(value or "").strip().lower().replace("-", "_").replace(" ", "_")
    if not text:
        return ABSENCES_OFF
    if text not in {choice for choice, _label in ABSENCE_CHOICES}:
        raise ValueError("Choose off, from_personio or to_personio.")
    return text


def normalise_days(value: Any, *, default: int) -> int:
    """A whole number of days from 0 to ``MAX_WINDOW_DAYS``; blank is ``default``."""
    if value is None or str(value).strip() == "":
        return default
    if isinstance(value, bool):
        raise ValueError(f"Enter a whole number of days from 0 to {MAX_WINDOW_DAYS}.")
    try:
        days = int(str(value).strip())
    except ValueError:
        raise ValueError(f"Enter a whole number of days from 0 to {MAX_WINDOW_DAYS}.") from None
    if not 0 <= days <= MAX_WINDOW_DAYS:
        raise ValueError(f"Enter a whole number of days from 0 to {MAX_WINDOW_DAYS}.")
    return days


def normalise_full_sync_at(value: Any) -> str:
    """A time of day as ``HH:MM`` (24-hour); blank is 06:30."""
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    text = str(value or "").strip()
    if not text:
        return DEFAULT_FULL_SYNC_AT.strftime("%H:%M")
    match = _TIME.fullmatch(text)
    if match:
        hours, minutes = int(match.group(1)), int(match.group(2))
        if hours < 24 and minutes < 60:
            return f"{hours:02d}:{minutes:02d}"
    raise ValueError("Enter a time of day as HH:MM on the 24-hour clock, such as 06:30.")


def full_sync_time(text: str) -> dt.time:
    """``normalise_full_sync_at``'s ``HH:MM`` as a time."""
    hours, minutes = normalise_full_sync_at(text).split(":")
    return dt.time(int(hours), int(minutes))


#: How a credentials file may name each value (compared lower-cased, with
#: spaces and hyphens as underscores): Personio's own download and what
#: people write by hand.
_CREDENTIAL_NAMES = {
    "client_id": "client_id",
    "clientid": "client_id",
    "id": "client_id",
    "client_secret": "client_secret",
    "clientsecret": "client_secret",
    "secret": "client_secret",
}


def credentials_parse(text: str) -> dict[str, str]:
    """The client ID and client secret in an API credentials file: JSON
    (``{"client_id": …, "client_secret": …}``) or lines such as
    ``Client ID: …`` and ``client_secret=…``. Returns the values found
    (one or both). Raises ValueError when the file holds neither; the
    message never repeats the file's content."""
    found: dict[str, str] = {}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key, value in data.items():
            name = _CREDENTIAL_NAMES.get(_credential_key(key))
            if name and isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                found.setdefault(name, str(value).strip())
    else:
        for line in text.splitlines():
            match = re.match(r"\s*([A-Za-z][A-Za-z _-]*?)\s*[:=]\s*(.*?)\s*$", line)
            if not match:
                continue
            name = _CREDENTIAL_NAMES.get(_credential_key(match.group(1)))
            value = match.group(2).strip().strip("\"'").strip()
            if name and value:
                found.setdefault(name, value)
    if not found:
        raise ValueError(
            "The credentials file holds no client ID or client secret. Upload the file Personio "
            "offered when the API credentials were created (or a text file with lines such as "
            "“Client ID: …” and “Client secret: …”), or type the two values instead."
        )
    return found


def _credential_key(key: Any) -> str:
    return str(key).strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True, slots=True)
class PersonioSettings(ConnectorSettings):
    """Where Personio is, how hrsync signs in, and what it reads. The
    ``client_secret`` stays out of ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL  # https://host[/prefix], without a trailing slash
    partner_id: str = DEFAULT_HEADER_ID
    app_id: str = DEFAULT_HEADER_ID
    #: The attribute holding the employee number (``dynamic_21``); "": none.
    employee_number_attribute: str = ""
    #: Selective sync: people found for the first time are synced (True) or
    #: wait, excluded, until an admin includes them (False).
    include_new: bool = True
    use_hire_date: bool = False
    use_last_working_day: bool = False
    absences: str = ABSENCES_OFF
    absence_days_back: int = DEFAULT_DAYS_BACK
    absence_days_ahead: int = DEFAULT_DAYS_AHEAD
    only_approved_absences: bool = False
    full_sync_at: dt.time = DEFAULT_FULL_SYNC_AT

    @classmethod
    def from_stored(cls, *, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> PersonioSettings:
        def stored(name: str, normalise: Any) -> Any:
            return stored_setting_normalise(config=config, name=name, normalise=normalise, vendor="Personio")

        def flag(name: str, default: bool) -> bool:
            return stored_flag_normalise(config=config, name=name, default=default, vendor="Personio")

        return cls(
            client_id=str(config.get("client_id") or "").strip(),
            client_secret=str(secrets.get("client_secret") or "").strip(),
            base_url=stored("base_url", normalise_base_url),
            partner_id=stored("partner_id", normalise_header_id),
            app_id=stored("app_id", normalise_header_id),
            employee_number_attribute=stored("employee_number_attribute", normalise_attribute_key),
            include_new=flag("include_new", True),
            use_hire_date=flag("use_hire_date", False),
            use_last_working_day=flag("use_last_working_day", False),
            absences=stored("absences", normalise_absences),
            absence_days_back=stored(
                "absence_days_back", lambda value: normalise_days(value, default=DEFAULT_DAYS_BACK)
            ),
            absence_days_ahead=stored(
                "absence_days_ahead", lambda value: normalise_days(value, default=DEFAULT_DAYS_AHEAD)
            ),
            only_approved_absences=flag("only_approved_absences", False),
            full_sync_at=full_sync_time(stored("full_sync_at", normalise_full_sync_at)),
        )


__all__ = [
    "ABSENCE_CHOICES",
    "DEFAULT_BASE_URL",
    "DEFAULT_HEADER_ID",
    "PersonioSettings",
    "credentials_parse",
    "normalise_absences",
    "normalise_attribute_key",
    "normalise_base_url",
    "normalise_days",
    "normalise_full_sync_at",
    "normalise_header_id",
]
