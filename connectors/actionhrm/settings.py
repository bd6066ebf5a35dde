"""An ActionHRM connection's typed settings, and the normalisers its form and
the stored settings share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ConnectorError, ConnectorSettings
from connectors.http import https_base_url_normalise

DEFAULT_LOCATIONS_PATH = "/api/v1/locations"
DEFAULT_EMPLOYEES_PATH = "/api/v1/employees"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
VENDOR_DOMAIN = "actionhrm.com"

_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalise_subdomain(value: str) -> str:
    """``"my-company"`` from ``"my-company"``, ``"My-Company.actionhrm.com"``
    or ``"https://my-company.actionhrm.com/"``.

    Raises ValueError with a sentence for the admin when it is not a bare DNS
    label on actionhrm.com.
    """
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].rstrip(".")
    if "@" in text or ":" in text:
        raise ValueError(
            "Enter only the sub-domain, such as my-company (without a user name or port)."
        )
    suffix = "." + VENDOR_DOMAIN
    if text.endswith(suffix):
        text = text[: -len(suffix)]
    if not _DNS_LABEL.fullmatch(text):
        if "." in text:
            raise ValueError(
                f"Enter only the sub-domain, such as my-company for "
                f"my-company.{VENDOR_DOMAIN}. For an address elsewhere, use Base URL."
            )
        raise ValueError(
            "A sub-domain uses only letters, digits and hyphens (not at the start or end), "
            "at most 63 characters, such as my-company."
        )
    return text


def normalise_base_url(value: str) -> str:
    """An https URL with a host and no user-info, query or fragment; no
    trailing slash (the shared rule, ``http.https_base_url_normalise``)."""
    return https_base_url_normalise(
        value,
        example="https://my-company.actionhrm.com",
        sign_in="the API username and password fields",
    )


def normalise_path(value: str, default: str) -> str:
    text = value.strip()
    if not text:
        return default
    if "://" in text or text.startswith("//"):
        raise ValueError("Enter a path such as /api/v1/employees, not a full URL.")
    if any(ch.isspace() for ch in text):
        raise ValueError("A path cannot contain spaces.")
    return text if text.startswith("/") else "/" + text


@dataclass(frozen=True, slots=True)
class ActionHRMSettings(ConnectorSettings):
    """Where ActionHRM is and how to read it. ``password`` stays out of ``repr``."""

    base_url: str  # https://host[/prefix], without a trailing slash
    username: str
    password: str = field(repr=False)
    locations_path: str = DEFAULT_LOCATIONS_PATH
    employees_path: str = DEFAULT_EMPLOYEES_PATH
    per_page: int = DEFAULT_PER_PAGE

    @classmethod
    def from_stored(cls, *, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> ActionHRMSettings:
        paths = {name: _stored_path(config, name, default) for name, default in (
            ("locations_path", DEFAULT_LOCATIONS_PATH), ("employees_path", DEFAULT_EMPLOYEES_PATH),
        )}
        return cls(
            base_url=_stored_base_url(config),
            username=str(config.get("username") or ""),
            password=str(secrets.get("password") or ""),
            per_page=_stored_per_page(config.get("per_page")),
            **paths,
        )


def _stored_base_url(config: Mapping[str, Any]) -> str:
    try:
        base_url = str(config.get("base_url") or "").strip()
        if base_url:
            return normalise_base_url(base_url)
        subdomain = str(config.get("subdomain") or "").strip()
        if subdomain:
            return f"https://{normalise_subdomain(subdomain)}.{VENDOR_DOMAIN}"
    except ValueError as exc:
        raise ConnectorError(
            f"The ActionHRM address in the connection settings is not valid: {exc}", permanent=True
        ) from None
    raise ConnectorError(
        "The ActionHRM connection has no sub-domain or base URL. Enter one in the connection settings.",
        permanent=True,
    )


def _stored_path(config: Mapping[str, Any], name: str, default: str) -> str:
    try:
        return normalise_path(str(config.get(name) or ""), default)
    except ValueError as exc:
        raise ConnectorError(
            f"The ActionHRM {name.replace('_', ' ')} in the connection settings is not valid: {exc}",
            permanent=True,
        ) from None


def _stored_per_page(value: Any) -> int:
    try:
        per_page = int(value or DEFAULT_PER_PAGE)
    except (TypeError, ValueError):
        per_page = DEFAULT_PER_PAGE
    return min(max(per_page, 1), MAX_PER_PAGE)
