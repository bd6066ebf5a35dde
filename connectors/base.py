"""The contract every connector implements.

A connector does I/O and translation only: it talks to one HR system and turns
what it reads into ``RemoteEmployee`` / ``RemoteLocation`` records. It never
touches Person rows and never decides create-vs-update; that is the planner's
job (``connections.sync``).

``Connector`` is the small contract every connector keeps; what only some
connectors can do (pin a server's host key, map a table's columns) is an
ability mixin at the end of this module, with its hooks in its docstring.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Self
from urllib.parse import SplitResult, quote, quote_plus, urlsplit

from django import forms


def setting_clean(form: forms.Form, name: str, normalise: Callable[[Any], Any], *, optional: bool = False) -> Any:
    """A config form's ``clean_<name>``: the connector's own normaliser (the
    CLI uses the same one) applied to the field, its ValueError shown as the
    field's error. ``optional``: a blank value stays blank."""
    value = form.cleaned_data.get(name)
    if optional and not (value or "").strip():
        return ""
    try:
        return normalise(value)
    except ValueError as exc:
        raise forms.ValidationError(str(exc), code="invalid") from None


_HOST_NAME = re.compile(r"[\w-]+(?:\.[\w-]+)*\.?")


def address_split(text: str, *, invalid: str) -> SplitResult:
    """``urlsplit`` of an address an admin typed, refusing what ``urlsplit``
    lets through but no connection can use: control characters (it drops
    tabs and line breaks without a word) and a host name with a space or
    another character no host name has. ``invalid``: the message for an
    address that does not split at all. Raises ValueError; the messages never
    repeat the address (it might carry a password)."""
    if not text.isprintable():
        raise ValueError("The address cannot contain tabs, line breaks or other invisible characters.")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(invalid) from None
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal, [2001:db8::1]
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            raise ValueError(invalid) from None
    elif host and not _HOST_NAME.fullmatch(host):
        raise ValueError(
            "The host name in the address can have only letters, digits, hyphens and dots "
            "(no spaces), such as hr.example.com."
        )
    return parts


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?=$|[T ])")


def iso_date(text: str) -> dt.date | None:
    """YYYY-MM-DD, or the date part of an ISO date-time ("1990-02-01T00:00:00"); else None."""
    match = _ISO_DATE.match(text)
    if match:
        try:
            return dt.date.fromisoformat(match.group(0))
        except ValueError:
            pass
    return None


def date_or_problem(text: str, *, label: str, problems: list[str]) -> dt.date | None:
    """A vendor's date (``text`` as the connector read it) by :func:`iso_date`;
    when it is not one, None and the rules' sentence about it added to
    ``problems`` (the record is kept, the field left empty)."""
    parsed = iso_date(text)
    if parsed is not None:
        return parsed
    # Imported here: connectors load before the apps whose models the rules read.
    from hrsync.people.rules import date_problem

    problems.append(date_problem(label=label, text=text))
    return None


def int_or_none(value: Any) -> int | None:
    """A whole number a vendor sent as a number or digits (``"3600"``, ``3600.0``);
    None for anything else, a yes/no included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def scalar_text(value: Any) -> str:
    """A single value a vendor sent, as stripped text; "" for none, a yes/no,
    a list or an object (none of which can be an id or a name)."""
    return "" if value is None or isinstance(value, dict | list | bool) else str(value).strip()


def stored_setting_normalise(
    *, config: Mapping[str, Any], name: str, normalise: Callable[[Any], Any], vendor: str
) -> Any:
    """A stored setting through its normaliser (the form's and the CLI's);
    a value the normaliser refuses is a permanent ConnectorError naming the
    setting. ``vendor``: the name the message gives the vendor."""
    try:
        return normalise(config.get(name))
    except ValueError as exc:
        raise ConnectorError(
            f"The {vendor} setting {name} in the connection settings is not valid: {exc}",
            permanent=True,
        ) from None


def stored_flag_normalise(*, config: Mapping[str, Any], name: str, default: bool, vendor: str) -> bool:
    """A stored yes/no setting; ``default`` when it is not there. Anything
    but true or false is a permanent ConnectorError naming the setting."""
    value = config.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    # The form stores true or false; anything else was written by hand.
    raise ConnectorError(
        f"The {vendor} setting {name} in the connection settings is not yes or no. Save the Settings tab again.",
        permanent=True,
    )


class ConnectorError(Exception):
    """A failure an admin can act on.

    ``message`` must be a sentence fit to show in the UI and must never contain
    a credential. ``permanent`` errors (bad credentials, a host key mismatch, a
    missing file) mark the connection unhealthy; transient ones (timeouts,
    429s, 5xx) have already been retried by the time they are raised.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, status: int | None = None, vendor_said: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        #: The HTTP status the vendor answered, when it answered.
        self.status = status
        #: The vendor's own words about a refused record, quoted and free of
        #: secrets ("" when it gave none): a row's message says them without
        #: the request's address, which means nothing to an admin.
        self.vendor_said = vendor_said

    @property
    def refuses_the_record(self) -> bool:
        """The vendor refused this one record (a 4xx other than 401, 403 and
        429): on a write, that record's error, not a reason to retry or to
        stop the other writes."""
        return self.status is not None and 400 <= self.status < 500 and self.status not in (401, 403, 429)

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
    #: Access dates (``Person.access_starts_on``/``access_ends_on``): set by
    #: a connector whose connection grants access from the first working day
    #: or locks it after the last one; the planner makes the person
    #: onboarding before the first and terminated from the second.
    access_starts_on: dt.date | None = None
    access_ends_on: dt.date | None = None
    manager_remote_id: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    #: Our id of the person, as the source keeps it (accessplanit's
    #: ``ExternalID``, which hrsync writes when it creates the user): a
    #: record carrying one that names a person not linked to another record
    #: of the connection is that person.
    person_ref: str = ""
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
        "access_starts_on",
        "access_ends_on",
    )
    #: The PERSON_FIELDS that hold a date.
    DATE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"date_of_birth", "hire_date", "termination_date", "access_starts_on", "access_ends_on"}
    )


@dataclass(slots=True)
class RemoteAbsence:
    """One absence (a holiday, a sick day) as the HR system describes it.

    ``status`` is a ``people.Absence.Status`` value (the connector
    translates its vendor's words); ``problems`` as for RemoteEmployee.
    """

    remote_id: str
    employee_remote_id: str
    type_name: str
    start_date: dt.date | None
    end_date: dt.date | None
    half_day_start: bool = False
    half_day_end: bool = False
    status: str = "approved"
    comment: str = ""
    #: The vendor's other id for the same absence (Personio's ``id_v2``).
    remote_id_v2: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    problems: list[str] = field(default_factory=list)
    source_position: str = ""


@dataclass(slots=True)
class RemoteTrainingRecord:
    """One training record of a person (the ``training`` stream): a booking
    on a course (``kind`` "booking") or an award they hold or are targeted
    for ("award"), as the source describes it.

    ``remote_id`` is unique per connection (a booking's own id; an award's
    ``"<user id>~<award id>"`` when the vendor gives it no id of its own).
    ``status`` is spelled as the vendor spells it. ``start_date`` is a
    course's first day or an award's target date. ``updated_at`` is when the
    source last changed it (aware, or None when not given).
    """

    remote_id: str
    employee_remote_id: str
    kind: str
    label: str = ""
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    status: str = ""
    updated_at: dt.datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    problems: list[str] = field(default_factory=list)
    source_position: str = ""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """One record a webhook delivery says has changed: which stream it is
    in, its id at the source, and whether the delivery says it was deleted
    (a DELETE). The record is re-read through the API, never taken from the
    delivery."""

    stream: str
    remote_id: str
    deleted: bool = False


class WebhookRefused(Exception):
    """A webhook delivery that cannot be taken (unknown module, malformed
    body): answered 400 with ``message``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class PushChange:
    """One write a run sends to the source after its local commit (DESIGN §1).

    ``key`` names what is written on our side ("absence:12"): results come
    back by it, and a repeated push of the same key must not create a second
    record at the vendor. ``operation``: "create", "update" or "delete".
    ``values`` are plain JSON values (dates as ISO strings); ``remote_id`` is
    the vendor's id of the record, for an update or a delete.
    """

    stream: str
    operation: str
    key: str
    values: Mapping[str, Any] = field(default_factory=dict)
    remote_id: str = ""


@dataclass(frozen=True, slots=True)
class PushResult:
    """How one push went: "sent" (with the vendor's ``remote_id`` of the
    record), "rejected" (the vendor refused this record: ``message`` says
    why, and it is not retried until it changes) or "failed" (the vendor
    could not be reached or had an error: tried again at the next run)."""

    key: str
    outcome: str
    remote_id: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class CheckOffer:
    """A way out of a failed check that the connector offers the admin
    (**Pin this key**), shown under the health bar until a newer check
    replaces it.

    ``template`` (one of the connector's own) renders it inside the
    connection pages, with ``connection`` and ``offer`` (these ``values``).
    The values wait in the session for the page after the redirect, so none
    may be secret.
    """

    template: str
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Check:
    """The result of "Test connection".

    ``sample``: a few records read, for the admin to see (the UI shows them as
    a preview table when the connector sets ``check_preview``). ``offer``:
    what the admin can do about a failed check, when the connector knows
    (a server key to pin).
    """

    ok: bool
    message: str
    sample: list[dict[str, Any]] = field(default_factory=list)
    offer: CheckOffer | None = None


@dataclass(frozen=True, slots=True)
class ConnectorPage:
    """A page of the connector's own (its ``urls.py``, mounted by the
    registry under the connection), linked from the Overview and Settings tabs.

    ``url_name`` is the page's name in the connector's ``urls.py``.
    ``settings_help`` is the sentence the Settings tab shows about it, with
    ``{link}`` where the link to the page goes. ``next_step``: a new
    connection whose first test passed is taken to this page (a CSV file's
    Column mapping), not to its Overview.
    """

    label: str
    url_name: str
    settings_help: str = ""
    next_step: bool = False


@dataclass(frozen=True, slots=True)
class FormSection:
    """A group of a ``config_form``'s fields, shown as a fieldset with this
    ``legend`` (and ``help``, a sentence under it). A field whose widget has
    ``data-schemes="sftp https"`` is shown only while the address (the input
    marked ``data-scheme-source``) starts with one of those schemes;
    without JavaScript every field shows, and ``help`` says which apply."""

    legend: str
    fields: tuple[str, ...]
    help: str = ""


#: The status words most HR systems use, each to the person status of the
#: same name: a starting point for a connector's ``default_status_map``.
STANDARD_STATUS_MAP: dict[str, str] = {
    "Candidate": "candidate",
    "Onboarding": "onboarding",
    "Active": "active",
    "On Leave": "on_leave",
    "Inactive": "inactive",
    "Terminated": "terminated",
}


#: What a secret becomes in text shown to anyone.
SCRUBBED = "********"


@dataclass(frozen=True)
class ConnectorSettings:
    """Base of a connector's typed settings (``Connector.settings_class``):
    a frozen dataclass whose fields are already normalised, by the same
    normalisers the connector's form uses (its ``settings.py``). Secret
    fields are declared ``field(repr=False)``. This base holds nothing: the
    settings of a connector that has none.
    """

    @classmethod
    def from_stored(cls, *, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> Self:
        """The settings from a connection's stored ``config`` and decrypted
        ``secrets``. Raise a permanent ConnectorError naming the setting when
        a stored value is no longer valid (a setting of this server changed
        since it was saved, or the JSON was written by hand)."""
        return cls()


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
    #: One true sentence on what the integration reads and from where, for
    #: the "New connection" cards ("Reads a CSV file of employees from …").
    description: ClassVar[str] = ""
    #: The settings form. It may group its fields with ``sections`` (a
    #: tuple of ``FormSection``): the pages then show those fields only, in
    #: those groups, and leave the others to the connector's own pages.
    config_form: ClassVar[type[forms.Form]]
    #: The typed settings the connector reads (``self.settings``).
    settings_class: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    #: Form fields whose values are stored encrypted and never shown again.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    #: The streams a run can read from this connector (``connections.sync.streams``):
    #: "employees", and "locations" when it lists them. Abilities that are not
    #: read by a run (uploads, webhooks, pushes) are mixins below, not streams.
    streams: ClassVar[frozenset[str]] = frozenset({"employees"})
    #: How records can arrive without a run reading them (DESIGN §1,
    #: inbound): "upload" (a file posted to hrsync), "webhook" (the HR
    #: system posts its changes). The runs they start carry that trigger;
    #: the Runs tab offers only the triggers a connection can produce.
    inbound: ClassVar[frozenset[str]] = frozenset()
    #: Vendor status (as spelled by the vendor) → Person.Status value.
    default_status_map: ClassVar[dict[str, str]] = {}
    #: The safeguard threshold a new connection of this kind starts with
    #: (``Connection.safeguard_percent``); None: the model's default. A
    #: source whose files list everyone, as the vendor's own import blocks
    #: them, may start from the vendor's threshold.
    default_safeguard_percent: ClassVar[int | None] = None
    #: Person fields this connector fills, and therefore owns on the Person
    #: (see RemoteEmployee.PERSON_FIELDS). A field listed here is overwritten
    #: by every sync, even with an empty value, so list only what you send.
    provides: ClassVar[frozenset[str]] = frozenset({*RemoteEmployee.PERSON_FIELDS, "depot"})
    #: True when fetch_employees() returns everyone: people missing from it
    #: are leavers. False for partial feeds (webhooks, deltas).
    full_snapshot: ClassVar[bool] = True
    #: True when ``Check.sample`` holds records as they will map to person
    #: fields (keys: person field names, "key", "line", "custom.<key>", …):
    #: the UI shows them under the health bar as a preview after a check.
    check_preview: ClassVar[bool] = False
    #: The record attributes (RemoteEmployee's, or aliases of them) whose
    #: vendor attribute name a connection's ``field_map`` may set. Empty: the
    #: connector reads no field map.
    field_map_fields: ClassVar[frozenset[str]] = frozenset()
    #: What an admin needs to know to map a field, beyond "which attribute
    #: fills it", in a sentence for the Settings tab's Fields section (such
    #: as which attributes the vendor lets these credentials read).
    field_map_help: ClassVar[str] = ""
    #: True when the locations are exactly the distinct ``location_id`` of
    #: the employee records (a file with a location column): a sync of all
    #: data then takes them from the employees it read, instead of reading
    #: the source a second time through ``fetch_locations()``.
    locations_in_records: ClassVar[bool] = False
    #: The connector's own pages, for the shared tabs to link to.
    pages: ClassVar[tuple[ConnectorPage, ...]] = ()

    #: Selective sync (DESIGN §5.9): whether a record found for the first
    #: time is synced, or waits, excluded, until an admin includes it. A
    #: connector with a setting for it overrides this per instance.
    include_new_records: bool = True

    def __init__(
        self,
        *,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        field_map: Mapping[str, str] | None = None,
    ) -> None:
        self._config = dict(config)
        self._secrets = dict(secrets)
        self.field_map = dict(field_map or {})
        #: Set by the run reading this connector: says on the run's progress
        #: what the connector waits for ("Waiting 2 s: Personio asked …").
        self.progress_wait: Callable[[str], None] = _ignore_wait

    @cached_property
    def settings(self) -> Any:
        """This connection's ``settings_class``, built once per instance from
        the stored config and secrets. Raises ConnectorError (permanent) when
        a stored value is no longer valid."""
        return self.settings_class.from_stored(config=self._config, secrets=self._secrets)

    def __repr__(self) -> str:
        # Never include secrets, even by accident through a debugger or log.
        return f"<{type(self).__name__} kind={self.kind!r}>"

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this connection replaced by ``SCRUBBED``.

        For text a server sent back (an error page, a reason phrase), before
        it is shortened into a message: scrubbing after the cut could leave a
        prefix of a password. Also replaces the forms a server may echo: the
        URL-encoded and HTML-escaped secret, its base64, and the base64
        ``username:secret`` of an HTTP Basic ``Authorization`` header.
        """
        try:
            username = str(getattr(self.settings, "username", "") or "")
        except ConnectorError:
            username = ""  # settings that do not build were never sent to a server
        forms: set[str] = set()
        for name in self.secret_fields:
            secret = str(self._secrets.get(name) or "")
            if not secret:
                continue
            forms |= {secret, quote(secret, safe=""), quote_plus(secret), html.escape(secret)}
            for raw in (secret, f"{username}:{secret}"):
                encoded = base64.b64encode(raw.encode()).decode()
                forms |= {encoded, encoded.rstrip("=")}  # a quote may drop the padding
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, SCRUBBED)
        return text

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

    def locations_of(self, records: Iterable[RemoteEmployee]) -> list[RemoteLocation]:
        """The distinct locations the records name (``locations_in_records``),
        each named by its id; a connector whose records carry the names
        overrides this."""
        seen: dict[str, RemoteLocation] = {}
        for record in records:
            if record.location_id and record.location_id not in seen:
                seen[record.location_id] = RemoteLocation(remote_id=record.location_id, name=record.location_id)
        return list(seen.values())

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        """Yield every employee. Raise ConnectorError if the read fails part
        way: a partial snapshot must never be treated as a full one."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short, secret-free description of where this connector points,
        for the health bar ("acme.actionhrm.com")."""
        return self.label

    def custom_field_labels(self) -> dict[str, str]:
        """Custom field key → the name this connection gives it, for reports
        and person pages (``hrsync.people.labels.field_label``); a key not
        listed is labelled from the key itself."""
        return {}


def _ignore_wait(message: str) -> None:
    """What a connector tells of its waits when nobody is watching."""


# -- optional abilities ---------------------------------------------------------
#
# Mixins beside the base: a connector that has an ability inherits its mixin
# and implements its hooks; shared code asks ``isinstance(connector, Ability)``
# rather than which connector it is.


@dataclass(frozen=True, slots=True)
class HostKeyOffer:
    """A server's key, fetched without trusting it, for an admin to compare
    with the fingerprint the server's administrator gives them and pin.

    Nothing here is secret. ``pin`` is the value that trusts exactly this key
    when saved in the connector setting ``setting``.
    """

    fingerprint: str  # "SHA256:…", as ``ssh-keygen -l`` prints it
    key_type: str  # "ssh-ed25519"
    pin: str  # a known_hosts line
    setting: str


class HostKeyPinning:
    """Ability: the connector trusts a server only by a pinned key (SFTP).

    Hook:

    ``host_key_fetch() -> HostKeyOffer | None``
        The host key the server offers now, fetched without logging in and
        without trusting it; None when this connection has no host key to
        pin (an https:// address). Raise ConnectorError when the server
        cannot be reached.

    A check that fails on the key returns a ``CheckOffer`` that posts the
    fingerprint it showed to the connector's pin page, which calls the hook
    again and pins the key only when its fingerprint is the one the admin
    was shown: a key is never trusted silently.
    """

    def host_key_fetch(self) -> HostKeyOffer | None:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class SourceColumn:
    """One column of a table-shaped source (a CSV file), for the column-mapping page."""

    ref: str  # how the settings refer to it: its header name, or its position ("3")
    label: str  # how to show it: the header name, or "Column 3"
    example: str = ""  # its value in the first row, to help the admin recognise it
    target: str = ""  # what it maps to now: one of ``column_targets``, "custom.<key>", or "" (ignored)


@dataclass(frozen=True, slots=True)
class ColumnLayout:
    """The columns of the source as it is now, with the connection's mapping
    (or, when none is saved, the suggestions from the header names)."""

    columns: tuple[SourceColumn, ...]
    key: str = ""  # ref of the unique key column, "" when not known
    all_active: bool = False  # "Everyone in the file is active" instead of a status column
    suggested: bool = False  # the targets are suggestions: no mapping is saved yet
    unmatched: tuple[str, ...] = ()  # saved column refs the source no longer has


class ColumnMapped:
    """Ability: the source is a table whose columns the admin maps to
    person fields (a CSV file).

    Hooks:

    ``column_targets``
        What a column can be mapped to ("custom.<key>" is always allowed
        too). The connector's column-mapping page saves the settings
        ``columns`` (JSON {column ref: target}), ``key_column``,
        ``manager_column``, ``status_column`` and ``all_active``, so its
        config form must accept exactly those.

    ``column_headers() -> ColumnLayout``
        The source's columns and their current mapping. Raise
        ConnectorError when the source cannot be read.
    """

    column_targets: ClassVar[tuple[str, ...]]

    def column_headers(self) -> ColumnLayout:
        raise NotImplementedError


class DeltaReadable:
    """Ability: the source can list only the employees changed since a time,
    so the schedule reads the whole list once a day and only the changes in
    between (a *delta* run, which never deactivates anyone by absence).

    Hooks:

    ``fetch_employees_changed(since: datetime) -> Iterator[RemoteEmployee]``
        The employees created or changed at or after ``since`` (an aware
        datetime); raise ConnectorError as ``fetch_employees`` does.

    ``full_sync_time -> datetime.time | None``
        The local time of day of the daily full read; None: every scheduled
        run is a full one.
    """

    def fetch_employees_changed(self, since: dt.datetime) -> Iterator[RemoteEmployee]:
        raise NotImplementedError

    @property
    def full_sync_time(self) -> dt.time | None:
        return None


class AbsenceExchange:
    """Ability: the source keeps absences, which flow one way or the other
    as the connection's setting says (the ``absences`` stream).

    Hooks:

    ``absence_direction -> str``
        "from_source" (the source's absences are copied here), "to_source"
        (absences recorded in hrsync are sent to it, through ``Pushable``),
        or "" (off: the connector does not list the stream).

    ``absence_window(today) -> tuple[date, date]``
        The first and last day a read covers: absences outside it are
        neither read nor removed.

    ``absences_only_approved -> bool``
        Only approved absences are read (from_source) or sent (to_source).

    ``fetch_absences() -> Iterator[RemoteAbsence]``
        Every absence in the window (from_source). Raise ConnectorError if
        the read fails part way: a partial list must never remove absences.
    """

    @property
    def absence_direction(self) -> str:
        return ""

    def absence_window(self, today: dt.date) -> tuple[dt.date, dt.date]:
        raise NotImplementedError

    @property
    def absences_only_approved(self) -> bool:
        return False

    def fetch_absences(self) -> Iterator[RemoteAbsence]:
        raise NotImplementedError


class Pushable:
    """Ability: the run writes back to the source after its local commit
    (DESIGN §1, pushes).

    Hooks:

    ``push_fields -> frozenset[str]``
        The person fields (``RemoteEmployee.PERSON_FIELDS`` names, and
        "depot") this connection sends to the source rather than reads from
        it (the connection's per-field ownership: hrsync wins). A field is
        pushed or pulled, never both: ``provides`` must not list these.
        Empty (the default) when the connection sends no person details.

    ``push_problem(change: PushChange) -> str``
        Why the source would refuse ``change`` for sure ("Forenames is 51
        characters; accessplanit takes at most 50"), or "": checked while
        planning, so a dry run lists it as that person's error and no
        request is ever sent for it.

    ``push(changes: Sequence[PushChange]) -> Iterator[PushResult]``
        Send each change, one at a time, and yield one result per change,
        by its ``key``. A record the vendor refuses is a "rejected" result
        with the vendor's message, never an exception; raise nothing for a
        single record's failure ("failed"). A push must be safe to repeat:
        a person's "create" first looks for the record already carrying
        our person id, and answers "sent" with its id if it is there.

    Person pushes (stream "employees"): ``values`` hold person field names
    with JSON values; a "create" also holds ``person_ref`` (our person id,
    as ``RemoteEmployee.person_ref`` reads it back) and ``location_id`` (the
    source's location for the person's depot, through the depot mappings);
    an "update" holds only the fields that changed, and its ``remote_id``.
    """

    @property
    def push_fields(self) -> frozenset[str]:
        return frozenset()

    def push_problem(self, change: PushChange) -> str:
        return ""

    def push(self, changes: Sequence[PushChange]) -> Iterator[PushResult]:
        raise NotImplementedError


class TrainingReadable:
    """Ability: the source keeps people's training records (the
    ``training`` stream: ``people.TrainingRecord``), and course requests an
    admin decides in hrsync.

    Hooks:

    ``fetch_training() -> Iterator[RemoteTrainingRecord]``
        Every training record: a full read, so a record missing from it was
        removed at the source. Raise ConnectorError if the read fails part
        way.

    ``fetch_training_changed(since: datetime) -> Iterator[RemoteTrainingRecord]``
        Only those created or changed at or after ``since`` (a delta run):
        a partial read, which removes nothing.

    ``course_request_pending(record: RemoteTrainingRecord) -> bool``
        Whether the record is a course request waiting for a decision (a
        provisional booking on a course that has not started).

    ``course_request_decide(remote_id: str, *, approve: bool) -> str``
        Approve or reject the request at the source; returns the record's
        new status, as the vendor spells it. Raise ConnectorError (its
        message says why) when the source refuses or cannot be reached.
    """

    def fetch_training(self) -> Iterator[RemoteTrainingRecord]:
        raise NotImplementedError

    def fetch_training_changed(self, since: dt.datetime) -> Iterator[RemoteTrainingRecord]:
        raise NotImplementedError

    def course_request_pending(self, record: RemoteTrainingRecord) -> bool:
        return False

    def course_request_decide(self, remote_id: str, *, approve: bool) -> str:
        raise NotImplementedError


class WebhookReceiver:
    """Ability: the source notifies hrsync of changes by calling
    ``/hooks/<kind>/<connection uuid>/<secret>/`` (``connections.api``). The
    secret is the connection's own (``connections.api.webhooks``); each
    delivery is stored as an ``InboundFile`` of kind "webhook", answered
    ``202``, and processed by a run of its own that re-reads the records it
    names: a partial run, which never deactivates anyone by absence.

    Hooks:

    ``webhook_methods``
        The HTTP methods the source calls with; others are answered 405.

    ``webhook_targets(*, method: str, body: Mapping) -> list[WebhookTarget]``
        The records a delivery names. Raise ``WebhookRefused`` for a body
        that names no record hrsync reads (an unknown module, a missing id).

    ``webhook_reread(target: WebhookTarget) -> RemoteEmployee | RemoteTrainingRecord | None``
        The record as the source has it now, or None when the source no
        longer has it (it was deleted). Raise ConnectorError when the source
        cannot answer.
    """

    webhook_methods: ClassVar[tuple[str, ...]] = ("POST",)

    def webhook_targets(self, *, method: str, body: Mapping[str, Any]) -> list[WebhookTarget]:
        raise NotImplementedError

    def webhook_reread(self, target: WebhookTarget) -> Any:
        raise NotImplementedError


class Uploadable:
    """Ability: the source pushes files to hrsync's REST API
    (``connections.api``) instead of hrsync reading them: each file is stored
    as an ``InboundFile`` first, answered ``202``, and processed by a run of
    its own (DESIGN §1, inbound). A connection of such a connector has an
    API key (``connections.api.keys``), issued when it is created and shown
    once; the key identifies the connection on every request.

    Hooks:

    ``upload_kinds``
        The ``InboundFile`` kinds the connection accepts ("employee",
        "position"); the endpoint of another kind answers 404.

    ``max_upload_bytes -> int``
        The largest file accepted: a larger one is refused (413) while it
        streams in, before it is all read.

    ``parse_upload(inbound_file) -> Iterator[RemoteEmployee]``
        The records of a stored file (read from ``inbound_file.content``).
        An employee file: every employee (the file is a full snapshot). A
        position file: one record per position, ``remote_id`` its holder's
        id ("" when vacant), ``job_title`` its title, ``manager_remote_id``
        the holder of the nearest filled position above, ``raw["position_id"]``
        its id. A file refused as a whole raises an exception whose
        ``message`` says why and whose ``problems`` (each with ``line``,
        ``employee_id``, ``message``) say where; a bad record is a record
        with ``problems``, as from ``fetch_employees``.

    ``upload_contacts -> tuple[str, ...]``
        The email addresses told about each real file that ends as
        ``error``, ``blocked`` or ``complete_with_errors`` (one email per
        file, after commit). None by default.
    """

    upload_kinds: ClassVar[tuple[str, ...]] = ("employee",)

    @property
    def max_upload_bytes(self) -> int:
        raise NotImplementedError

    @property
    def upload_contacts(self) -> tuple[str, ...]:
        return ()

    def parse_upload(self, inbound_file: Any) -> Iterator[RemoteEmployee]:
        raise NotImplementedError
