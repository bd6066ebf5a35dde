"""An XML upload connection's typed settings, and the normalisers its form
and the stored settings share. Each normaliser raises ValueError with a
sentence for the admin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from connectors.base import ConnectorError, ConnectorSettings
from connectors.csv_file import columns as column_rules
from connectors.csv_file.settings import DELIMITER_CHOICES, normalise_delimiter

#: The employee file's element that names a person's location, mapped to
#: depots on the Depots tab: element → how the admin reads it.
LOCATION_ELEMENTS: dict[str, str] = {
    "department": "Department",
    "employee_type": "Employee type",
    "country": "Country",
}
DEFAULT_LOCATION_ELEMENT = "department"

DEFAULT_MAX_UPLOAD_MB = 50
MIN_UPLOAD_MB = 1
MAX_UPLOAD_MB = 200
#: A megabyte, as the limit counts it.
MEGABYTE = 1024 * 1024

#: More people than this told about every failed file is a mailing list's job.
MAX_CONTACTS = 20

#: A CSV employee file (``csv_upload``): its separator, as the CSV file
#: connection names them ("auto" detects it).
DEFAULT_CSV_DELIMITER = ","
CSV_DELIMITER_CHOICES = DELIMITER_CHOICES
#: The field of a CSV employee file's unique key: the employee id, as in the XML file.
CSV_KEY_TARGET = "employee_reference"
#: What a CSV employee file may fill: what the XML file fills (job titles
#: and managers come from the position file, and everyone in it is active).
CSV_TARGETS = ("first_name", "last_name", "email", "employee_reference", "hire_date", "location")


def normalise_location_element(value: Any) -> str:
    text = str(value or "").strip().lower() or DEFAULT_LOCATION_ELEMENT
    if text not in LOCATION_ELEMENTS:
        raise ValueError(f"Choose which element names the location: {', '.join(LOCATION_ELEMENTS)}.")
    return text


def normalise_contacts(value: Any) -> str:
    """Comma-separated email addresses, trimmed, in the order typed, each
    once (compared without case): "" for none."""
    seen: dict[str, str] = {}
    for part in str(value or "").replace(";", ",").split(","):
        address = part.strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValueError(
                f"'{address[:80]}' is not an email address. Separate addresses with commas."
            ) from None
        seen.setdefault(address.lower(), address)
    if len(seen) > MAX_CONTACTS:
        raise ValueError(f"Enter at most {MAX_CONTACTS} addresses; use a mailing list for more people.")
    return ", ".join(seen.values())


def normalise_max_upload_mb(value: Any) -> int:
    if value in (None, ""):
        return DEFAULT_MAX_UPLOAD_MB
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(
            f"The largest file is a whole number of MB, from {MIN_UPLOAD_MB} to {MAX_UPLOAD_MB}."
        ) from None
    if not MIN_UPLOAD_MB <= number <= MAX_UPLOAD_MB:
        raise ValueError(f"The largest file is from {MIN_UPLOAD_MB} to {MAX_UPLOAD_MB} MB, not {number}.")
    return number


def normalise_csv_delimiter(value: Any) -> str:
    """",", ";", "|", "tab" or "auto"; "," when blank."""
    if value in (None, ""):
        return DEFAULT_CSV_DELIMITER
    return normalise_delimiter(value)


def normalise_csv_columns(value: Any) -> dict[str, str]:
    """A JSON object {CSV header: field}; {} means the headers are the XML
    element names. An explicit mapping maps a column to the employee id."""
    columns = column_rules.normalise_columns(value)
    if not columns:
        return {}
    for column, target in columns.items():
        if target not in CSV_TARGETS and not target.startswith(column_rules.CUSTOM_PREFIX):
            raise ValueError(
                f"'{column[:60]}' is mapped to {target}, which an employee file does not fill. Map columns to "
                f"{', '.join(CSV_TARGETS)} or custom.<key>: job titles and managers come from the position "
                "file, and everyone in the file is active."
            )
    if CSV_KEY_TARGET not in columns.values():
        raise ValueError(f"Map the column holding the employee id to {CSV_KEY_TARGET}: it is each person's unique key.")
    return columns


@dataclass(frozen=True, slots=True)
class XmlUploadSettings(ConnectorSettings):
    """Which element names the location, who hears of failed files, and the
    largest file accepted. Nothing here is secret."""

    location_element: str = DEFAULT_LOCATION_ELEMENT
    contacts: tuple[str, ...] = ()
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    #: A CSV employee file's {header: field}; {} when its headers are the XML element names.
    csv_columns: Mapping[str, str] = field(default_factory=dict)
    csv_delimiter: str = DEFAULT_CSV_DELIMITER

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * MEGABYTE

    @classmethod
    def from_stored(cls, *, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> XmlUploadSettings:
        values: dict[str, Any] = {}
        for name, normalise, label in (
            ("location_element", normalise_location_element, "location element"),
            ("contacts", normalise_contacts, "contacts"),
            ("max_upload_mb", normalise_max_upload_mb, "largest file"),
            ("csv_columns", normalise_csv_columns, "CSV columns"),
            ("csv_delimiter", normalise_csv_delimiter, "CSV field separator"),
        ):
            try:
                values[name] = normalise(config.get(name))
            except ValueError as exc:
                raise ConnectorError(
                    f"The {label} in the connection settings is not valid: {exc}", permanent=True
                ) from None
        contacts = tuple(address.strip() for address in values.pop("contacts").split(",") if address.strip())
        return cls(contacts=contacts, **values)
