"""The people directory's operations (keyword-only, typed; DESIGN §8)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import get_connection, send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from connections.models import Connection, SyncRun
from connections.services import connection_connector
from connections.sync.changes import WRITING_ACTIONS, Action
from connectors.base import RemoteEmployee
from hrsync.people.models import Person
from mappings.models import EmployeeMapping

logger = logging.getLogger(__name__)

#: Related fields exported by a readable key instead of an id.
_RELATED_EXPORT = {
    "depot": "depot__name",
    "manager": "manager__email",
    "user": "user__username",
    "managed_by": "managed_by__name",
}


def people_export_fields() -> list[str]:
    """Every Person field by its model name, ``id`` first, in model order."""
    return [field.name for field in Person._meta.concrete_fields]


def people_export_rows(*, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
    """Every person as plain JSON-ready data, streamed from one query.

    Related rows appear by a readable key: depot by name, manager by email,
    user by username, managed_by by connection name. Dates and datetimes are
    ISO 8601 strings; ``custom_fields`` stays an object. ``values()`` joins
    the related tables in the same query without building model instances
    (a Connection instance would decrypt its secrets for every row).
    """
    fields = people_export_fields()
    columns = [_RELATED_EXPORT.get(name, name) for name in fields]
    rows = Person.objects.order_by("pk").values_list(*columns)
    for row in rows.iterator(chunk_size=chunk_size):
        yield {name: _plain(value) for name, value in zip(fields, row, strict=True)}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


# -- the person page -----------------------------------------------------------

#: Person fields an admin can edit on the person page, in form order. A field
#: a managing connection owns is left out of the form and refused here.
EDITABLE_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "employee_reference",
    "job_title",
    "status",
    "depot",
    "manager",
    "date_of_birth",
    "gender",
    "mobile_phone",
    "work_phone",
    "home_phone",
    "hire_date",
    "termination_date",
)

#: Owned by any managing connection whatever its connector provides: every
#: sync sets the status from the connection's status map (DESIGN §5.5), so an
#: edit here would be undone by the next run.
ALWAYS_OWNED: frozenset[str] = frozenset({"status"})

#: Every field a sync could write, for a connection whose connector can no
#: longer be loaded (its integration was removed or disabled): read-only is
#: the safe guess, since that connection still claims the record.
_ALL_SYNCED: frozenset[str] = frozenset({*RemoteEmployee.PERSON_FIELDS, "depot", "manager"})


class OwnedFieldsError(ValidationError):
    """An edit tried to change fields the managing connection owns."""


def connection_owned_fields(*, connection: Connection) -> frozenset[str]:
    """The Person fields ``connection`` writes on every sync, so owns.

    The connector *instance* decides (as for the planner): a connector may own
    more fields on a connection whose field map names them.
    """
    try:
        provides = connection_connector(connection=connection).provides
    except ValidationError:
        provides = _ALL_SYNCED
    return frozenset(provides).intersection(EDITABLE_FIELDS) | ALWAYS_OWNED


def person_owned_fields(*, person: Person) -> frozenset[str]:
    """Fields of ``person`` that only their managing connection may change."""
    if person.managed_by_id is None:
        return frozenset()
    return connection_owned_fields(connection=person.managed_by)


def person_update(*, person: Person, data: Mapping[str, Any]) -> Person:
    """Save an admin's edit of ``person``'s own (not synced) fields.

    ``data`` maps field names from ``EDITABLE_FIELDS`` to cleaned values
    (model instances for depot and manager). Raises ``OwnedFieldsError`` —
    and writes nothing — if it names a field the managing connection owns,
    whatever the form let through; ``ValidationError`` for invalid values.
    """
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValueError(f"Not editable on the person page: {', '.join(unknown)}.")
    # Decide from the stored owner, not from whatever the caller's instance says.
    current = Person.objects.select_related("managed_by").get(pk=person.pk)
    refused = sorted(person_owned_fields(person=current) & set(data))
    if refused:
        connection = current.managed_by
        labels = ", ".join(str(Person._meta.get_field(name).verbose_name) for name in refused)
        raise OwnedFieldsError(
            f"Managed by {connection}: {labels} change only in {connection.kind_label}."
        )
    if data.get("manager") is not None and data["manager"].pk == person.pk:
        raise ValidationError({"manager": "A person cannot be their own manager."})
    for name, value in data.items():
        setattr(person, name, value)
    if "email" in data:
        # Stored lower-cased, as the sync stores it: addresses match case-insensitively.
        person.email = (person.email or "").strip().lower()
    unchanged = [f.name for f in Person._meta.concrete_fields if f.name not in data]
    person.full_clean(exclude=unchanged)
    person.save(update_fields=[*data, "updated_at"])
    return person


def person_set_protected(*, person: Person, protected: bool) -> Person:
    """Mark ``person`` protected (a sync never deactivates them) or not.

    ``updated_at`` moves too: protection changes what a sync would do, and the
    engine uses it to tell that a dry run is out of date.
    """
    now = timezone.now()
    Person.objects.filter(pk=person.pk).update(is_protected=protected, updated_at=now)
    person.is_protected, person.updated_at = protected, now
    return person


@dataclass(frozen=True, slots=True)
class PersonRunChange:
    """What one past run did to one person (from the run's report)."""

    run: SyncRun
    action: str
    fields: dict[str, list[Any]]
    message: str
    warnings: list[str]


#: How far back the person page looks for changes.
HISTORY_RUNS = 20


def person_run_changes(*, person: Person, runs: int = HISTORY_RUNS) -> list[PersonRunChange]:
    """The changes recent syncs made to ``person``, newest first.

    Reports are large (one entry per remote record), so this reads only the
    last ``runs`` finished real runs of the connections that map the person
    (or manage them) — dry runs and blocked, failed or rejected runs changed
    nothing. A ``create`` entry has no person id yet (the person did not
    exist when it was planned); it is matched by the mapping's remote id.
    """
    remote_ids: dict[int, set[str]] = {}
    mapped = EmployeeMapping.objects.filter(person=person).order_by()
    for connection_id, remote_id in mapped.values_list("connection_id", "remote_id"):
        remote_ids.setdefault(connection_id, set()).add(remote_id)
    connection_ids = set(remote_ids)
    if person.managed_by_id is not None:
        connection_ids.add(person.managed_by_id)
    if not connection_ids:
        return []
    recent = (
        SyncRun.objects.filter(
            connection_id__in=connection_ids,
            dry_run=False,
            status__in=(SyncRun.Status.SUCCEEDED, SyncRun.Status.COMPLETED_WITH_ERRORS),
        )
        # Never build a full Connection here: that would decrypt its secrets.
        .select_related("connection")
        .only(
            "id", "connection_id", "created_at", "finished_at", "report",
            "connection__name", "connection__kind",
        )
        .order_by("-created_at", "-id")[:runs]
    )
    found: list[PersonRunChange] = []
    for run in recent:
        mine = remote_ids.get(run.connection_id, set())
        for entry in (run.report or {}).get("changes", []):
            if not _is_about(entry, person_id=person.pk, remote_ids=mine):
                continue
            # Unchanged rows are noise, unless they say why nothing happened
            # ("protected: not deactivated").
            if entry.get("action") not in WRITING_ACTIONS and not entry.get("warnings"):
                continue
            found.append(
                PersonRunChange(
                    run=run,
                    action=entry.get("action", ""),
                    fields=dict(entry.get("fields") or {}),
                    message=entry.get("message", ""),
                    warnings=list(entry.get("warnings") or []),
                )
            )
    return found


def _is_about(entry: Mapping[str, Any], *, person_id: int, remote_ids: set[str]) -> bool:
    if entry.get("person_id") is not None:
        return entry["person_id"] == person_id
    return entry.get("action") == Action.CREATE and entry.get("remote_id") in remote_ids


# -- invitations -------------------------------------------------------------------


def people_send_invitations(*, person_ids: list[int]) -> int:
    """Email each person a link to set their password. Never a password."""
    sent = 0
    # One SMTP session for the whole batch, not one per person.
    mail_connection = get_connection()
    for person in Person.objects.filter(id__in=person_ids).select_related("user"):
        user = person.user
        if user is None or not person.email:
            continue
        path = reverse(
            "password_reset_confirm",
            kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)},
        )
        context = {"person": person, "link": f"{settings.HRSYNC_BASE_URL}{path}", "username": user.get_username()}
        try:
            send_mail(
                subject="Your hrsync login",
                message=render_to_string("people/invitation_email.txt", context),
                from_email=None,
                recipient_list=[person.email],
                connection=mail_connection,
            )
            sent += 1
        except OSError:
            logger.warning("Could not send the invitation email to person %s", person.pk, exc_info=True)
    return sent
