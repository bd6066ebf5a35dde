"""accessplanit: users both ways, companies, training records and webhooks
over API v2 (VENDORS.md, "accessplanit (API v2)").

This module translates; :mod:`connectors.accessplanit.client` talks HTTP.
What a sync reads and sends:

* employees: ``User`` in the connection's statuses (and companies), the
  fields mapped below; the user's ``ExternalID`` is our person id when
  hrsync created the user (``RemoteEmployee.person_ref``);
* locations: ``Company`` (ID, Name), which the Depots tab maps to depots;
* training: delegates (``UserCourseDate``, bookings) and ``UserAward``;
* pushes (``push_users``): users created and updated with the fields
  hrsync owns (the connection's ownership), one request per change, a
  create looking for the ExternalID first so it is never made twice;
* webhooks: a delivery names a module and an id; the record is re-read.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar

from django.utils import timezone

from connectors import http
from connectors.accessplanit.client import (
    AccessPlanItClient,
    AccessPlanItUnreachable,
    odata_all,
    odata_any,
    odata_literal,
    odata_since,
)
from connectors.accessplanit.forms import AccessPlanItConfigForm
from connectors.accessplanit.settings import OWNER_HRSYNC, AccessPlanItSettings
from connectors.base import (
    Check,
    Connector,
    ConnectorError,
    DeltaReadable,
    Pushable,
    PushChange,
    PushResult,
    RemoteEmployee,
    RemoteLocation,
    RemoteTrainingRecord,
    TrainingReadable,
    WebhookReceiver,
    WebhookRefused,
    WebhookTarget,
    date_or_problem,
)

logger = logging.getLogger(__name__)

#: accessplanit user property → person field (text fields).
USER_TEXT_FIELDS: dict[str, str] = {
    "Forenames": "first_name",
    "Surname": "last_name",
    "Email": "email",
    "Phone": "work_phone",
    "Mobile": "mobile_phone",
    "JobTitle": "job_title",
}
#: Person field → the user property it is sent as.
PUSH_PROPERTIES: dict[str, str] = {person: prop for prop, person in USER_TEXT_FIELDS.items()}
USER_SELECT: tuple[str, ...] = (
    "ID", "ExternalID", *USER_TEXT_FIELDS, "Status", "DOB", "Sex", "MainCompanyID",
)
COMPANY_SELECT: tuple[str, ...] = ("ID", "Name")
DELEGATE_SELECT: tuple[str, ...] = (
    "ID", "UserID", "CourseDateID", "CourseDateDetailsLabel", "CourseDateStartDate", "Status", "CompanyID",
    "DateUpdated",
)
# No ID: v2 publishes none for an award, and $select of an unknown
# property is an error. An award is keyed (and paged) by user and award.
AWARD_SELECT: tuple[str, ...] = ("UserID", "AwardID", "AwardLabel", "TargetDate", "Status", "DateUpdated")
AWARD_ORDER: tuple[str, ...] = ("UserID", "AwardID")
#: accessplanit's validation limits on a user (VENDORS.md).
NAME_LIMITS: dict[str, int] = {"first_name": 50, "last_name": 40, "email": 80}
#: accessplanit's sexes, spelled as the directory spells genders.
GENDERS = {"male": "Male", "m": "Male", "female": "Female", "f": "Female"}
#: How an award's remote id starts (a delegate's is its own ``ID``).
AWARD_PREFIX = "award:"
BOOKING, AWARD = "booking", "award"
PROVISIONAL = "Provisional"
BOOKED, CANCELLED = "Booked", "Cancelled"
#: Webhook module (case-folded) → the stream it changes.
WEBHOOK_MODULES: dict[str, str] = {"user": "employees", "usercoursedate": "training", "useraward": "training"}
MAX_WEBHOOK_ID = 200


class AccessPlanItConnector(Connector, DeltaReadable, Pushable, TrainingReadable, WebhookReceiver):
    kind = "accessplanit"
    label = "accessplanit"
    description = (
        "Reads users and companies from accessplanit, can send user details back, and shows people's "
        "course bookings and awards; accessplanit's webhooks tell hrsync of changes."
    )
    config_form = AccessPlanItConfigForm
    settings_class = AccessPlanItSettings
    settings: AccessPlanItSettings
    secret_fields = ("api_key", "password")
    streams: frozenset[str] = frozenset({"locations", "employees"})
    inbound = frozenset({"webhook"})
    full_snapshot = True
    default_status_map: ClassVar[dict[str, str]] = {
        "Enabled": "active",
        "New": "onboarding",
        "Disabled": "inactive",
    }
    # Every mapped field, pushed ones included: the planner never updates a
    # pushed field from the source, but it creates a person with it.
    provides: frozenset[str] = frozenset({*USER_TEXT_FIELDS.values(), "date_of_birth", "gender", "depot"})
    webhook_methods: ClassVar[tuple[str, ...]] = ("POST", "PUT", "PATCH", "DELETE")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            settings = self.settings
        except ConnectorError:
            return  # a run says so when it reads; the pages still open
        if settings.training:
            self.streams = type(self).streams | {"training"}

    # -- the client ----------------------------------------------------------

    @cached_property
    def client(self) -> AccessPlanItClient:
        """One client (one HTTP session, one token) for this run."""
        settings = self.settings
        return AccessPlanItClient(
            base_url=settings.base_url,
            auth_mode=settings.auth_mode,
            api_key=settings.api_key,
            username=settings.username,
            password=settings.password,
            scrub=self.scrub,
            on_wait=lambda text: self.progress_wait(text),
        )

    def describe(self) -> str:
        try:
            return http.safe_host(self.settings.base_url)
        except ConnectorError:
            return self.label

    # -- employees and companies ---------------------------------------------

    def check(self) -> Check:
        try:
            items, count = self.client.first_page("User", select=USER_SELECT, filter=self._user_filter(), top=1)
        except ConnectorError as exc:
            return Check(ok=False, message=exc.message)
        statuses = " or ".join(self.settings.user_statuses)
        if count is None:  # accessplanit need not send the count it was asked for
            counted = f"{'some' if items else 'no'} users in status {statuses}"
        else:
            counted = f"{count} user{'' if count == 1 else 's'} in status {statuses}"
        records = [self._employee(item, "check") for item in items]
        return Check(
            ok=True,
            message=f"Connected to accessplanit at {self.describe()} ({counted})",
            sample=[
                {"id": record.remote_id, "name": f"{record.first_name} {record.last_name}".strip(),
                 "email": record.email, "status": record.status}
                for record in records
            ],
        )

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        yield from self._employees(self._user_filter())

    def fetch_employees_changed(self, since: dt.datetime) -> Iterator[RemoteEmployee]:
        yield from self._employees(odata_all(self._user_filter(), odata_since("DateUpdated", since)))

    @property
    def full_sync_time(self) -> dt.time | None:
        # One full read a night; the runs in between read what changed.
        return dt.time(2, 0)

    def fetch_locations(self) -> Iterator[RemoteLocation]:
        for _page, item in self.client.records("Company", select=COMPANY_SELECT):
            remote_id = _text(item.get("ID"))
            if remote_id:
                yield RemoteLocation(remote_id=remote_id, name=_text(item.get("Name")) or remote_id, raw=item)

    def _user_filter(self) -> str:
        settings = self.settings
        return odata_all(odata_any("Status", settings.user_statuses), odata_any("MainCompanyID", settings.companies))

    def _employees(self, filter: str) -> Iterator[RemoteEmployee]:
        index, current = 0, 0
        for page, item in self.client.records("User", select=USER_SELECT, filter=filter):
            if page != current:
                current, index = page, 0
            index += 1
            yield self._employee(item, f"page {page}, record {index}")

    def _employee(self, item: Mapping[str, Any], position: str) -> RemoteEmployee:
        problems: list[str] = []
        values = {field: _text(item.get(prop), prop, problems) for prop, field in USER_TEXT_FIELDS.items()}
        remote_id = _text(item.get("ID"), "ID", problems)
        if not remote_id:
            problems.insert(0, "the user has no ID")
        sex = _text(item.get("Sex"), "Sex", problems)
        return RemoteEmployee(
            remote_id=remote_id,
            status=_text(item.get("Status"), "Status", problems),
            date_of_birth=_date(item.get("DOB"), "DOB", problems),
            gender=GENDERS.get(sex.lower(), sex),
            location_id=_text(item.get("MainCompanyID"), "MainCompanyID", problems),
            person_ref=_text(item.get("ExternalID"), "ExternalID", problems),
            raw=dict(item),
            problems=problems,
            source_position=position,
            **values,
        )

    # -- pushes --------------------------------------------------------------

    @property
    def push_fields(self) -> frozenset[str]:
        settings = self.settings
        if not settings.push_users:
            return frozenset()
        return frozenset(name for name, owner in settings.ownership.items() if owner == OWNER_HRSYNC)

    def push_problem(self, change: PushChange) -> str:
        if change.stream != "employees" or change.operation not in ("create", "update"):
            return ""
        from hrsync.people.labels import field_label

        values = change.values
        if change.operation == "create":
            if not _text(values.get("first_name")) or not _text(values.get("last_name")):
                return "accessplanit needs a first and a last name for a new user."
        for name, limit in NAME_LIMITS.items():
            value = values.get(name)
            if isinstance(value, str) and len(value.strip()) > limit:
                return f"{field_label(name)} is {len(value.strip())} characters; accessplanit takes at most {limit}."
        if change.operation == "create" and not _text(values.get("location_id")):
            who = " ".join(filter(None, (_text(values.get("first_name")), _text(values.get("last_name")))))
            return (
                f"{who} has no accessplanit company: map their depot to a company on the Depots tab."
            )
        return ""

    def push(self, changes: Sequence[PushChange]) -> Iterator[PushResult]:
        for change in changes:
            yield self._push_one(change)

    def _push_one(self, change: PushChange) -> PushResult:
        if change.stream != "employees" or change.operation not in ("create", "update"):
            return PushResult(
                change.key, "rejected", message="accessplanit takes only new and changed users from hrsync."
            )
        problem = self.push_problem(change)
        if problem:
            return PushResult(change.key, "rejected", message=problem)
        try:
            if change.operation == "create":
                return self._push_create(change)
            return self._push_update(change)
        except ConnectorError as exc:
            if exc.refuses_the_record:
                what = "the new user" if change.operation == "create" else "the change"
                said = exc.vendor_said or f"without saying why (HTTP {exc.status})"
                return PushResult(change.key, "rejected", message=f"accessplanit refused {what}: {said}")
            if isinstance(exc, AccessPlanItUnreachable) or exc.status in (401, 403):
                raise  # nothing sent after it would fare better: the run stops sending
            return PushResult(change.key, "failed", message=exc.message)

    def _push_create(self, change: PushChange) -> PushResult:
        values = change.values
        person_ref = _text(values.get("person_ref"))
        if person_ref:
            # A repeated or interrupted push: the user hrsync made before is the one.
            found = self.client.record("User", select=("ID",), filter=f"ExternalID eq {odata_literal(person_ref)}")
            if found is not None and _text(found.get("ID")):
                return PushResult(change.key, "sent", remote_id=_text(found.get("ID")))
        body: dict[str, Any] = {"ExternalID": person_ref, "MainCompanyID": _text(values.get("location_id"))}
        body |= _user_properties(values)
        created = self.client.create("User", body)
        return PushResult(change.key, "sent", remote_id=_text(created.get("ID")))

    def _push_update(self, change: PushChange) -> PushResult:
        if not change.remote_id:
            return PushResult(change.key, "rejected", message="The person is not linked to an accessplanit user yet.")
        body = _user_properties(change.values)
        if body:
            self.client.update("User", change.remote_id, body)
        return PushResult(change.key, "sent", remote_id=change.remote_id)

    # -- training ------------------------------------------------------------

    def fetch_training(self) -> Iterator[RemoteTrainingRecord]:
        yield from self._training(since=None)

    def fetch_training_changed(self, since: dt.datetime) -> Iterator[RemoteTrainingRecord]:
        yield from self._training(since=since)

    def _training(self, *, since: dt.datetime | None) -> Iterator[RemoteTrainingRecord]:
        changed = odata_since("DateUpdated", since) if since is not None else ""
        companies = odata_any("CompanyID", self.settings.companies)
        delegates = self.client.records("UserCourseDate", select=DELEGATE_SELECT, filter=odata_all(companies, changed))
        for page, item in delegates:
            yield _booking(item, f"delegates page {page}")
        # Awards carry no company: with companies set, every award is kept,
        # and the planner skips those of people it does not know.
        awards = self.client.records("UserAward", select=AWARD_SELECT, filter=changed, order_by=AWARD_ORDER)
        for page, item in awards:
            yield _award(item, f"awards page {page}")

    def course_request_pending(self, record: RemoteTrainingRecord) -> bool:
        return (
            record.kind == BOOKING
            and record.status.strip().casefold() == PROVISIONAL.casefold()
            and record.start_date is not None
            and record.start_date > timezone.localdate()
        )

    def course_request_decide(self, remote_id: str, *, approve: bool) -> str:
        status = BOOKED if approve else CANCELLED
        try:
            answer = self.client.update("UserCourseDate", remote_id, {"Status": status})
        except ConnectorError as exc:
            what = "approve" if approve else "reject"
            raise ConnectorError(
                f"accessplanit did not {what} the course request: {exc.message}",
                permanent=exc.permanent, status=exc.status,
            ) from exc
        return _text(answer.get("Status")) or status

    # -- webhooks ------------------------------------------------------------

    def webhook_targets(self, *, method: str, body: Mapping[str, Any]) -> list[WebhookTarget]:
        if not isinstance(body, Mapping):
            raise WebhookRefused('The delivery is not a JSON object such as {"module": "User", "id": "jasmit"}.')
        module = body.get("module")
        stream = WEBHOOK_MODULES.get(module.strip().casefold()) if isinstance(module, str) else None
        if stream is None:
            raise WebhookRefused(
                "The delivery names no module hrsync reads: it takes User, UserCourseDate and UserAward."
            )
        record_id = body.get("id")
        if not isinstance(record_id, str) or not record_id.strip() or len(record_id.strip()) > MAX_WEBHOOK_ID:
            raise WebhookRefused('The delivery names no record: give its id as text, such as "id": "jasmit".')
        record_id = record_id.strip()
        if stream == "training" and "training" not in self.streams:
            raise WebhookRefused(
                "Training records are off for this connection; turn on “Read training records” under Settings "
                "to take them."
            )
        if module.strip().casefold() == "useraward":
            record_id = AWARD_PREFIX + record_id
        return [WebhookTarget(stream=stream, remote_id=record_id, deleted=method.upper() == "DELETE")]

    def webhook_reread(self, target: WebhookTarget) -> RemoteEmployee | RemoteTrainingRecord | None:
        # A user outside the connection's statuses or companies is re-read
        # as it is, not as None: the status map decides what it means (a
        # Disabled user becomes inactive), as a full read would by absence.
        if target.stream == "employees":
            item = self.client.record("User", select=USER_SELECT, filter=f"ID eq {odata_literal(target.remote_id)}")
            return self._employee(item, "webhook") if item is not None else None
        if target.stream != "training":
            return None
        if target.remote_id.startswith(AWARD_PREFIX):
            award_id = target.remote_id[len(AWARD_PREFIX):]
            user_id, sep, award = award_id.rpartition("~")
            if sep and user_id and award:
                literal = award if award.isdigit() else odata_literal(award)
                filter = f"UserID eq {odata_literal(user_id)} and AwardID eq {literal}"
            else:
                filter = f"ID eq {odata_literal(award_id)}"
            item = self.client.record("UserAward", select=AWARD_SELECT, filter=filter, order_by=AWARD_ORDER)
            return _award(item, "webhook") if item is not None else None
        item = self.client.record(
            "UserCourseDate", select=DELEGATE_SELECT, filter=f"ID eq {odata_literal(target.remote_id)}"
        )
        return _booking(item, "webhook") if item is not None else None


# -- value helpers -------------------------------------------------------------


def _text(value: Any, name: str = "", problems: list[str] | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list | bool):
        if problems is not None:
            problems.append(f"{name} is not a single value")
        return ""
    return str(value).strip()


def _date(value: Any, name: str, problems: list[str]) -> dt.date | None:
    if value is None or value == "":
        return None
    text = _text(value) or repr(value)
    return date_or_problem(text, label=name, problems=problems)


def _updated_at(value: Any) -> dt.datetime | None:
    """``DateUpdated`` (``2025-02-22T11:01:38.17``): accessplanit sends it
    without a zone; hrsync takes it as UTC, so an update is never read as
    older than it is by the server's offset."""
    text = _text(value)
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _user_properties(values: Mapping[str, Any]) -> dict[str, Any]:
    """Person field values → accessplanit's user properties (only those given)."""
    return {
        PUSH_PROPERTIES[name]: "" if value is None else value
        for name, value in values.items()
        if name in PUSH_PROPERTIES
    }


def _booking(item: Mapping[str, Any], position: str) -> RemoteTrainingRecord:
    problems: list[str] = []
    remote_id = _text(item.get("ID"), "ID", problems)
    user_id = _text(item.get("UserID"), "UserID", problems)
    if not remote_id:
        problems.append("the delegate has no ID")
    if not user_id:
        problems.append("the delegate names no user")
    return RemoteTrainingRecord(
        remote_id=remote_id,
        employee_remote_id=user_id,
        kind=BOOKING,
        label=_text(item.get("CourseDateDetailsLabel"), "CourseDateDetailsLabel", problems),
        start_date=_date(item.get("CourseDateStartDate"), "CourseDateStartDate", problems),
        status=_text(item.get("Status"), "Status", problems),
        updated_at=_updated_at(item.get("DateUpdated")),
        raw=dict(item),
        problems=problems,
        source_position=position,
    )


def _award(item: Mapping[str, Any], position: str) -> RemoteTrainingRecord:
    problems: list[str] = []
    user_id = _text(item.get("UserID"), "UserID", problems)
    award_id = _text(item.get("AwardID"), "AwardID", problems)
    own_id = _text(item.get("ID"), "ID", problems)
    key = own_id or (f"{user_id}~{award_id}" if user_id and award_id else "")
    if not user_id:
        problems.append("the award names no user")
    if not key:
        problems.append("the award has no AwardID")
    return RemoteTrainingRecord(
        remote_id=AWARD_PREFIX + key if key else "",
        employee_remote_id=user_id,
        kind=AWARD,
        label=_text(item.get("AwardLabel"), "AwardLabel", problems),
        start_date=_date(item.get("TargetDate"), "TargetDate", problems),
        status=_text(item.get("Status"), "Status", problems),
        updated_at=_updated_at(item.get("DateUpdated")),
        raw=dict(item),
        problems=problems,
        source_position=position,
    )


__all__ = ["AccessPlanItConnector"]
