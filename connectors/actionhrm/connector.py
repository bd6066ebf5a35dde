"""ActionHRM: employees and locations over a JSON API with HTTP Basic auth.

ActionHRM publishes no API specification, so this connector implements a
documented default profile (docs: VENDORS.md, "ActionHRM") that an admin or
deployer adjusts per connection without code changes:

* where: ``https://<subdomain>.actionhrm.com``, or the connection's
  ``base_url`` (which wins when set);
* paths: ``locations_path`` (``/api/v1/locations``) and ``employees_path``
  (``/api/v1/employees``); page size ``per_page`` (100);
* field names: the connection's ``field_map`` (person field → vendor
  attribute, e.g. ``{"email": "work_email"}``; dotted names such as
  ``"contact.email"`` read nested objects);
* statuses: the connection's status map (defaults below).

Default payloads::

    GET {base}/api/v1/locations
    {"locations": [{"id": "L1", "name": "Sydney Depot"}]}

    GET {base}/api/v1/employees?page=1&per_page=100
    {"employees": [...], "page": 1, "per_page": 100, "total": 1234}
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from connectors import http
from connectors.actionhrm.forms import ActionHRMConfigForm
from connectors.actionhrm.settings import ActionHRMSettings
from connectors.base import (
    STANDARD_STATUS_MAP,
    Check,
    Connector,
    ConnectorError,
    RemoteEmployee,
    RemoteLocation,
    date_or_problem,
)

logger = logging.getLogger(__name__)

VENDOR = "ActionHRM"

#: RemoteEmployee attribute → the vendor attribute read by default.
DEFAULT_FIELDS: dict[str, str] = {
    "remote_id": "id",
    "employee_reference": "employee_reference",
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "date_of_birth": "date_of_birth",
    "gender": "gender",
    "mobile_phone": "mobile_phone",
    "home_phone": "home_phone",
    "work_phone": "work_phone",
    "location_id": "location_id",
    "status": "status",
    "job_title": "job_title",
    "hire_date": "hire_date",
    "termination_date": "termination_date",
    "manager_remote_id": "manager_id",
}
#: Other names a field_map may use for the same fields.
FIELD_ALIASES: dict[str, str] = {"id": "remote_id", "manager_id": "manager_remote_id"}
#: Person fields the default profile documents, so the connector owns them.
PROFILE_FIELDS = frozenset({
    "employee_reference", "first_name", "last_name", "email", "date_of_birth",
    "gender", "mobile_phone", "home_phone", "work_phone", "depot",
})
#: Person fields read when present but owned only when the connection's
#: field_map names them: otherwise a tenant whose ActionHRM never sends, say,
#: job_title would have every job title blanked by the sync.
OPTIONAL_FIELDS = frozenset({"job_title", "hire_date", "termination_date"})
DATE_FIELDS = RemoteEmployee.DATE_FIELDS

#: A server that keeps sending pages past this is broken or ignoring ``page``.
MAX_PAGES = 10_000

_MESSAGES: dict[int, str] = {
    401: (
        "ActionHRM rejected the username or password (401). "
        "Check the API username and password in the connection settings."
    ),
    403: (
        "ActionHRM accepted the username and password but refused access to {where} (403). "
        "Ask your ActionHRM administrator to let this API user read employees and locations."
    ),
    404: (
        "ActionHRM has nothing at {where} (404). Check the sub-domain (or base URL) "
        "and the API paths in the connection settings."
    ),
}


class ActionHRMConnector(Connector):
    kind = "actionhrm"
    label = "ActionHRM"
    description = "Reads employees and locations from your ActionHRM account through its API on every sync."
    config_form = ActionHRMConfigForm
    settings_class = ActionHRMSettings
    settings: ActionHRMSettings
    secret_fields = ("password",)
    streams = frozenset({"employees", "locations"})
    full_snapshot = True
    default_status_map: ClassVar[dict[str, str]] = STANDARD_STATUS_MAP

    provides = PROFILE_FIELDS
    field_map_fields = frozenset({*DEFAULT_FIELDS, *FIELD_ALIASES})

    _session: http.HttpSession | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        named = OPTIONAL_FIELDS.intersection(self.field_map)
        if {"manager", "manager_id", "manager_remote_id"} & set(self.field_map):
            named |= {"manager"}
        if named:
            # Per connection: this instance also owns the optional fields it maps.
            self.provides = type(self).provides | named

    # -- settings --------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``https://host[/prefix]`` without a trailing slash."""
        return self.settings.base_url

    @property
    def session(self) -> http.HttpSession:
        """One HTTP session for this run (this connector instance)."""
        if self._session is None:
            username, password = self.settings.username, self.settings.password
            if not username or not password:
                raise ConnectorError(
                    "The ActionHRM connection has no API username or password. "
                    "Enter them in the connection settings.",
                    permanent=True,
                )
            session = http.http_session(user_agent_suffix=self.kind)
            session.auth = (username, password)
            self._session = session
        return self._session

    def describe(self) -> str:
        try:
            return http.safe_url(self.base_url)
        except ConnectorError:
            return self.label

    # -- reading ---------------------------------------------------------

    def _get_json(self, url: str, **kwargs: Any) -> Any:
        try:
            return http.request_json(
                self.session, "GET", url, vendor=VENDOR, messages=_MESSAGES, scrub=self.scrub, **kwargs
            )
        except ConnectorError as exc:
            raise self._scrubbed(exc) from exc.__cause__

    def _scrubbed(self, exc: ConnectorError) -> ConnectorError:
        """Belt and braces: a message must never carry the password, even if
        a server echoed it back into a quoted page title."""
        message = self.scrub(exc.message)
        if message != exc.message:
            return ConnectorError(message, permanent=exc.permanent)
        return exc

    def check(self) -> Check:
        try:
            locations = list(self.fetch_locations())
        except ConnectorError as exc:
            return Check(ok=False, message=str(exc))
        count = len(locations)
        noun = "location" if count == 1 else "locations"
        return Check(
            ok=True,
            message=f"Connected to ActionHRM at {self.describe()} ({count} {noun})",
            sample=[{"id": loc.remote_id, "name": loc.name} for loc in locations[:5]],
        )

    def fetch_locations(self) -> Iterator[RemoteLocation]:
        url = self.base_url + self.settings.locations_path
        payload = self._get_json(url)
        items = payload.get("locations") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise ConnectorError(
                f"ActionHRM's answer from {http.safe_url(url)} has no \"locations\" list. "
                "Check the locations path in the connection settings.",
                permanent=True,
            )
        for position, item in enumerate(items, start=1):
            remote_id = _text(item.get("id")) if isinstance(item, dict) else ""
            if not remote_id:
                logger.warning("ActionHRM location %d has no id; skipped", position)
                continue
            name = _text(item.get("name")) or remote_id
            yield RemoteLocation(remote_id=remote_id, name=name, raw=item)

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        url = self.base_url + self.settings.employees_path
        where = http.safe_url(url)
        per_page = self.settings.per_page
        fields = self._fields()
        seen = 0
        total: int | None = None
        previous_ids: list[str] | None = None
        page = 1
        while True:
            if page > MAX_PAGES:
                raise ConnectorError(
                    f"ActionHRM kept sending employees past page {MAX_PAGES} of {where}; "
                    "hrsync stopped rather than read forever. Check the employees path and "
                    "page size in the connection settings.",
                    permanent=True,
                )
            payload = self._get_json(url, params={"page": page, "per_page": per_page})
            records = payload.get("employees") if isinstance(payload, dict) else None
            if not isinstance(records, list):
                raise ConnectorError(
                    f"ActionHRM's answer from {where} (page {page}) has no \"employees\" list. "
                    "Check the employees path in the connection settings.",
                    permanent=True,
                )
            reported_total = _int_or_none(payload.get("total"))
            total = reported_total if reported_total is not None else total
            if not records:
                if total is not None and seen < total:
                    logger.warning(
                        "ActionHRM said there are %d employees but page %d was empty after %d",
                        total, page, seen,
                    )
                return
            served_page = _int_or_none(payload.get("page"))
            if served_page is not None and served_page != page:
                raise ConnectorError(
                    f"ActionHRM sent page {served_page} when asked for page {page} of {where}; "
                    "it may not support the page/per_page parameters this connection uses.",
                    permanent=True,
                )
            ids = [
                _text(_lookup(r, fields["remote_id"])) if isinstance(r, dict) else ""
                for r in records
            ]
            if previous_ids is not None and ids == previous_ids and any(ids):
                raise ConnectorError(
                    f"ActionHRM sent the same employees for page {page} as for page {page - 1} "
                    f"of {where}; it may be ignoring the page parameter.",
                    permanent=True,
                )
            previous_ids = ids

            for index, record in enumerate(records, start=1):
                yield self._employee(record, fields, f"page {page}, record {index}")
            seen += len(records)

            # The profile says: stop when page * per_page >= total. Counting the
            # records read is the same for a server that fills its pages, and
            # cannot cut the snapshot short when the server quietly sends fewer
            # per page than asked. Each page adds at least one record, so with
            # a total the loop is bounded; without one, MAX_PAGES bounds it.
            if total is not None:
                if seen >= total:
                    return
            elif len(records) < per_page:
                return  # no total: a short page is the last one
            page += 1

    def _fields(self) -> dict[str, str]:
        fields = dict(DEFAULT_FIELDS)
        for person_field, vendor_attr in self.field_map.items():
            target = FIELD_ALIASES.get(person_field, person_field)
            if target in fields and isinstance(vendor_attr, str) and vendor_attr.strip():
                fields[target] = vendor_attr.strip()
        return fields

    def _employee(
        self, record: Any, fields: Mapping[str, str], position: str
    ) -> RemoteEmployee:
        if not isinstance(record, dict):
            return RemoteEmployee(
                remote_id="",
                raw={},
                problems=[f"record is not an object (it is {type(record).__name__})"],
                source_position=position,
            )
        problems: list[str] = []
        values: dict[str, Any] = {}
        for attribute, vendor_attr in fields.items():
            value = _lookup(record, vendor_attr)
            if attribute in DATE_FIELDS:
                values[attribute] = _date(value, vendor_attr, problems)
            else:
                values[attribute] = _text_or_problem(value, vendor_attr, problems)
        if not values["remote_id"]:
            id_attr = fields["remote_id"]
            problems.insert(
                0, "record has no id" if id_attr == "id" else f"record has no id ({id_attr})"
            )
        return RemoteEmployee(**values, raw=record, problems=problems, source_position=position)


# -- value helpers -----------------------------------------------------------


def _lookup(record: Mapping[str, Any], name: str) -> Any:
    """``record[name]``, or a nested value for a dotted name ("contact.email")."""
    if name in record:
        return record[name]
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list | bool):
        return ""
    return str(value).strip()


def _text_or_problem(value: Any, name: str, problems: list[str]) -> str:
    if isinstance(value, dict | list):
        problems.append(f"{name} is not a single value")
        return ""
    if isinstance(value, bool):
        problems.append(f"{name} is {str(value).lower()}, not a text value")
        return ""
    return _text(value)


def _date(value: Any, name: str, problems: list[str]) -> dt.date | None:
    text = _text(value) if not isinstance(value, dict | list) else repr(value)
    if not text:
        return None
    return date_or_problem(text, label=name, problems=problems)




def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


__all__ = ["ActionHRMConnector", "DEFAULT_FIELDS", "MAX_PAGES"]
