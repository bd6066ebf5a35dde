"""The contract every connector implements.

A connector does I/O and translation only: it talks to one HR system and turns
what it reads into ``RemoteEmployee`` / ``RemoteLocation`` records. It never
touches Person rows and never decides create-vs-update; that is the planner's
job (``connections.sync``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms


class ConnectorError(Exception):
    """A failure an admin can act on.

    ``message`` must be a sentence fit to show in the UI and must never contain
    a credential. ``permanent`` errors (bad credentials, a host key mismatch, a
    missing file) mark the connection unhealthy; transient ones (timeouts,
    429s, 5xx) have already been retried by the time they are raised.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class RemoteLocation:
    remote_id: str
    name: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class RemoteEmployee:
    """One person as the HR system describes them, already typed and cleaned.

    ``status`` is spelled as the vendor spells it; the connection's status map
    turns it into a ``Person.Status``. ``problems`` lists why the record cannot
    be used (a missing id, an unparseable date); the planner turns a record
    with problems into an error row instead of failing the whole run.
    """

    remote_id: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    date_of_birth: dt.date | None = None
    gender: str = ""
    employee_reference: str = ""
    mobile_phone: str = ""
    work_phone: str = ""
    home_phone: str = ""
    job_title: str = ""
    location_id: str = ""
    status: str = ""
    hire_date: dt.date | None = None
    termination_date: dt.date | None = None
    manager_remote_id: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    problems: list[str] = field(default_factory=list)
    # Where the record came from, for messages ("line 12", "page 3").
    source_position: str = ""

    #: Person fields a connector may carry. The planner only compares the
    #: fields listed in the connector's ``provides``, which may also name
    #: "depot" (set from ``location_id`` through the depot mappings) and
    #: "manager" (set from ``manager_remote_id``; an empty one clears it).
    PERSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "first_name",
        "last_name",
        "email",
        "date_of_birth",
        "gender",
        "employee_reference",
        "mobile_phone",
        "work_phone",
        "home_phone",
        "job_title",
        "hire_date",
        "termination_date",
    )


@dataclass(frozen=True, slots=True)
class Check:
    """The result of "Test connection"."""

    ok: bool
    message: str
    sample: list[dict[str, Any]] = field(default_factory=list)


class Connector:
    """Base class for one HR system integration.

    Subclasses set the class attributes and implement the hooks below. An
    instance is built per run with the connection's ``config`` (plain JSON),
    ``secrets`` (decrypted, never to be logged or echoed) and ``field_map``
    (person field → the vendor's attribute name, for connectors that read
    named attributes).
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    config_form: ClassVar[type[forms.Form]]
    #: Form fields whose values are stored encrypted and never shown again.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    #: Any of "employees", "locations", "push", "upload", "webhook".
    capabilities: ClassVar[frozenset[str]] = frozenset({"employees"})
    #: Vendor status (as spelled by the vendor) → Person.Status value.
    default_status_map: ClassVar[dict[str, str]] = {}
    #: Person fields this connector fills, and therefore owns on the Person
    #: (see RemoteEmployee.PERSON_FIELDS). A field listed here is overwritten
    #: by every sync, even with an empty value, so list only what you send.
    provides: ClassVar[frozenset[str]] = frozenset({*RemoteEmployee.PERSON_FIELDS, "depot"})
    #: True when fetch_employees() returns everyone: people missing from it
    #: are leavers. False for partial feeds (webhooks, deltas).
    full_snapshot: ClassVar[bool] = True

    def __init__(
        self,
        *,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        field_map: Mapping[str, str] | None = None,
    ) -> None:
        self.config = dict(config)
        self._secrets = dict(secrets)
        self.field_map = dict(field_map or {})

    def __repr__(self) -> str:
        # Never include secrets, even by accident through a debugger or log.
        return f"<{type(self).__name__} kind={self.kind!r}>"

    def secret(self, name: str) -> str:
        return str(self._secrets.get(name) or "")

    # -- hooks -----------------------------------------------------------

    def check(self) -> Check:
        """Authenticate and read a little, to prove the settings work.

        Return ``Check(ok=False, message=...)`` for a failure an admin can fix;
        do not raise for expected failures.
        """
        raise NotImplementedError

    def fetch_locations(self) -> Iterator[RemoteLocation]:
        """Yield every location (depot, office, site) the HR system knows."""
        return iter(())

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        """Yield every employee. Raise ConnectorError if the read fails part
        way: a partial snapshot must never be treated as a full one."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short, secret-free description of where this connector points,
        for the health bar ("acme.actionhrm.com")."""
        return self.label
