"""An accessplanit connection's typed settings, and the normalisers its form,
the command line (``--set KEY=VALUE``, through the form) and the stored
settings share.

The setting names are the form's field names and the ``--set`` keys:
``base_url``, ``auth_mode``, ``api_key``, ``username``, ``password``,
``user_statuses``, ``companies``, ``push_users``, ``training`` and
``ownership.<field>`` (``hrsync`` or ``accessplanit``) for each of
``PUSHABLE_FIELDS``. The ownership is stored in the config as one dict,
``ownership`` (field → owner).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ConnectorSettings, stored_flag_normalise, stored_setting_normalise
from connectors.http import https_base_url_normalise

EXAMPLE_BASE_URL = "https://acme.accessplanit.com/accessplan/api/v2"

AUTH_API_KEY = "api_key"
AUTH_PASSWORD = "password"
AUTH_CHOICES: list[tuple[str, str]] = [
    (AUTH_API_KEY, "API key"),
    (AUTH_PASSWORD, "Username and password"),
]

DEFAULT_USER_STATUSES: tuple[str, ...] = ("Enabled", "New")

OWNER_HRSYNC = "hrsync"
OWNER_ACCESSPLANIT = "accessplanit"
OWNER_CHOICES: list[tuple[str, str]] = [
    (OWNER_HRSYNC, "hrsync wins: sent to accessplanit"),
    (OWNER_ACCESSPLANIT, "accessplanit wins: read from accessplanit"),
]
#: The person fields hrsync can send to accessplanit, each with its owner
#: when the connection does not say.
DEFAULT_OWNERSHIP: dict[str, str] = {
    "first_name": OWNER_HRSYNC,
    "last_name": OWNER_HRSYNC,
    "email": OWNER_HRSYNC,
    "mobile_phone": OWNER_HRSYNC,
    "work_phone": OWNER_HRSYNC,
    "job_title": OWNER_ACCESSPLANIT,
}
PUSHABLE_FIELDS: tuple[str, ...] = tuple(DEFAULT_OWNERSHIP)
OWNERSHIP_PREFIX = "ownership."


def normalise_base_url(value: Any) -> str:
    """The full API base (``…/accessplan/api/v2``), by the rule of every
    vendor address (``http.https_base_url_normalise``). Required."""
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"Enter the address of your accessplanit API, such as {EXAMPLE_BASE_URL}.")
    return https_base_url_normalise(
        text, example=EXAMPLE_BASE_URL, sign_in="the API key, or the username and password fields"
    )


def normalise_auth_mode(value: Any) -> str:
    """``api_key`` or ``password``; blank is ``api_key``."""
    text = str(value or "").strip().lower().replace("-", "_")
    if not text:
        return AUTH_API_KEY
    if text not in {AUTH_API_KEY, AUTH_PASSWORD}:
        raise ValueError("Choose api_key (an accessplanit API key) or password (a username and password).")
    return text


def _words(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        parts = [str(part) for part in value]
    else:
        parts = str(value or "").split(",")
    return list(dict.fromkeys(part.strip() for part in parts if part.strip()))


def normalise_user_statuses(value: Any) -> str:
    """The accessplanit user statuses read, comma-separated (``Enabled,New``);
    blank is ``Enabled,New``."""
    words = _words(value)
    if not words:
        return ",".join(DEFAULT_USER_STATUSES)
    for word in words:
        if len(word) > 40 or not word.replace(" ", "").isalnum():
            raise ValueError(
                "Enter user statuses as accessplanit spells them, separated by commas, such as Enabled,New."
            )
    return ",".join(words)


def normalise_companies(value: Any) -> str:
    """The MainCompanyIDs whose users are read, comma-separated; blank: every company."""
    words = _words(value)
    for word in words:
        if len(word) > 100 or not word.isprintable():
            raise ValueError("Enter accessplanit company IDs separated by commas, such as 12,14.")
    return ",".join(words)


def normalise_owner(value: Any) -> str:
    """``hrsync`` or ``accessplanit`` (who wins for one field); blank stays blank."""
    text = str(value or "").strip().lower()
    if not text:
        return ""
    if text not in {OWNER_HRSYNC, OWNER_ACCESSPLANIT}:
        raise ValueError("Choose hrsync (hrsync's value is sent) or accessplanit (accessplanit's value is read).")
    return text


def normalise_ownership(value: Any) -> dict[str, str]:
    """The stored ownership: field → owner for every pushable field, the
    defaults filling what is not given. Takes a dict (or its JSON)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            raise ValueError(
                'Give the ownership as JSON, such as {"job_title": "hrsync"}, '
                "or one field at a time with ownership.<field>=hrsync|accessplanit."
            ) from None
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValueError('Give the ownership as JSON, such as {"job_title": "hrsync"}.')
    unknown = sorted(str(key) for key in value if key not in DEFAULT_OWNERSHIP)
    if unknown:
        raise ValueError(
            f"hrsync cannot send {', '.join(unknown)} to accessplanit; "
            f"ownership is for {', '.join(PUSHABLE_FIELDS)}."
        )
    ownership = dict(DEFAULT_OWNERSHIP)
    for name, owner in value.items():
        ownership[name] = normalise_owner(owner) or DEFAULT_OWNERSHIP[name]
    return ownership


@dataclass(frozen=True, slots=True)
class AccessPlanItSettings(ConnectorSettings):
    """Where accessplanit is, how hrsync signs in, what it reads and what it
    sends. ``api_key`` and ``password`` stay out of ``repr``."""

    base_url: str
    auth_mode: str = AUTH_API_KEY
    api_key: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    user_statuses: tuple[str, ...] = DEFAULT_USER_STATUSES
    #: MainCompanyIDs whose users are read; empty: every company.
    companies: tuple[str, ...] = ()
    push_users: bool = False
    ownership: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OWNERSHIP))
    training: bool = True

    @classmethod
    def from_stored(cls, *, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> AccessPlanItSettings:
        def stored(name: str, normalise: Any) -> Any:
            return stored_setting_normalise(config=config, name=name, normalise=normalise, vendor="accessplanit")

        def flag(name: str, default: bool) -> bool:
            return stored_flag_normalise(config=config, name=name, default=default, vendor="accessplanit")

        return cls(
            base_url=stored("base_url", normalise_base_url),
            auth_mode=stored("auth_mode", normalise_auth_mode),
            api_key=str(secrets.get("api_key") or "").strip(),
            username=str(config.get("username") or "").strip(),
            password=str(secrets.get("password") or ""),
            user_statuses=tuple(stored("user_statuses", normalise_user_statuses).split(",")),
            companies=tuple(filter(None, stored("companies", normalise_companies).split(","))),
            push_users=flag("push_users", False),
            ownership=stored("ownership", normalise_ownership),
            training=flag("training", True),
        )


__all__ = [
    "AUTH_API_KEY",
    "AUTH_CHOICES",
    "AUTH_PASSWORD",
    "DEFAULT_OWNERSHIP",
    "OWNER_ACCESSPLANIT",
    "OWNER_CHOICES",
    "OWNER_HRSYNC",
    "PUSHABLE_FIELDS",
    "AccessPlanItSettings",
    "normalise_auth_mode",
    "normalise_base_url",
    "normalise_companies",
    "normalise_owner",
    "normalise_ownership",
    "normalise_user_statuses",
]
