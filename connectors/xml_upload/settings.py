"""An XML upload connection's typed settings, and the normalisers its form
and the stored settings share. Each normaliser raises ValueError with a
sentence for the admin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from connectors.base import ConnectorError, ConnectorSettings

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


@dataclass(frozen=True, slots=True)
class XmlUploadSettings(ConnectorSettings):
    """Which element names the location, who hears of failed files, and the
    largest file accepted. Nothing here is secret."""

    location_element: str = DEFAULT_LOCATION_ELEMENT
    contacts: tuple[str, ...] = ()
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB

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
        ):
            try:
                values[name] = normalise(config.get(name))
            except ValueError as exc:
                raise ConnectorError(
                    f"The {label} in the connection settings is not valid: {exc}", permanent=True
                ) from None
        contacts = tuple(address.strip() for address in values.pop("contacts").split(",") if address.strip())
        return cls(contacts=contacts, **values)
