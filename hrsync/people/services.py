"""The people directory's operations (keyword-only, typed; DESIGN §8)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.mail import get_connection, send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from connections.models import Connection, SyncRun
from connections.reports import sync_run_person_changes
from connections.services import connection_connector
from connections.sync.changes import WRITING_ACTIONS
from connectors.base import RemoteEmployee
from hrsync.people import rules
from hrsync.people.labels import field_label
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


def _person_values_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` checked by the rules a sync applies to a record
    (``hrsync.people.rules``), with the email as the sync stores it.
    Raises ``ValueError`` for a key that is not editable, ``ValidationError``
    (per field, in the sync's words) for a value a sync would refuse."""
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValueError(f"Not editable on the person page: {', '.join(unknown)}.")
    values = dict(data)
    if "email" in values:
        # Stored lower-cased, as the sync stores it: addresses match case-insensitively.
        values["email"] = (values["email"] or "").strip().lower()
    if problems := rules.person_values_problems(values=values):
        raise ValidationError(problems)
    return values


#: The message of the case-insensitive email constraint (``person_email_ci_unique``).
_EMAIL_TAKEN = next(
    str(c.violation_error_message) for c in Person._meta.constraints if c.name == "person_email_ci_unique"
)


def _person_full_clean(person: Person, *, exclude: list[str] | None = None) -> None:
    """``full_clean``, with the email constraint's error on the email field:
    Django cannot tell which field a constraint on ``Lower("email")`` is about."""
    try:
        person.full_clean(exclude=exclude)
    except ValidationError as exc:
        errors = exc.update_error_dict({})
        general = errors.pop(NON_FIELD_ERRORS, [])
        taken = [error for error in general if _EMAIL_TAKEN in error.messages]
        if taken:
            errors.setdefault("email", []).extend(taken)
        if rest := [error for error in general if error not in taken]:
            errors[NON_FIELD_ERRORS] = rest
        raise ValidationError(errors) from None


def _person_save(person: Person, **kwargs: Any) -> None:
    """Save, turning a lost race for an email (two admins adding the same
    address at once) into the same error as the check before it."""
    try:
        with transaction.atomic():
            person.save(**kwargs)
    except IntegrityError:
        if person.email and Person.objects.filter(email__iexact=person.email).exclude(pk=person.pk).exists():
            raise ValidationError({"email": _EMAIL_TAKEN}) from None
        raise


def person_update(*, person: Person, data: Mapping[str, Any]) -> Person:
    """Save an admin's edit of ``person``'s own (not synced) fields.

    ``data`` maps field names from ``EDITABLE_FIELDS`` to cleaned values
    (model instances for depot and manager). Raises ``OwnedFieldsError`` —
    and writes nothing — if it names a field the managing connection owns,
    whatever the form let through; ``ValidationError`` for invalid values,
    by the same rules as a sync (``hrsync.people.rules``).
    """
    values = _person_values_clean(data)
    # Decide from the stored owner, not from whatever the caller's instance says.
    current = Person.objects.select_related("managed_by").get(pk=person.pk)
    refused = sorted(person_owned_fields(person=current) & set(values))
    if refused:
        connection = current.managed_by
        labels = ", ".join(field_label(name) for name in refused)
        raise OwnedFieldsError(
            f"{labels} {'come' if len(refused) > 1 else 'comes'} from {connection.name}: "
            f"change {'them' if len(refused) > 1 else 'it'} in {connection.kind_label}."
        )
    if values.get("manager") is not None and values["manager"].pk == person.pk:
        raise ValidationError({"manager": "A person cannot be their own manager."})
    # Checked and saved on the stored copy: a refused edit leaves the
    # caller's instance (a page's header) as it was.
    for name, value in values.items():
        setattr(current, name, value)
    unchanged = [f.name for f in Person._meta.concrete_fields if f.name not in values]
    _person_full_clean(current, exclude=unchanged)
    _person_save(current, update_fields=[*values, "updated_at"])
    for name in (*values, "updated_at"):
        setattr(person, name, getattr(current, name))
    return person


def person_create(*, data: Mapping[str, Any], user: AbstractBaseUser) -> Person:
    """Add a person by hand, as ``user`` (the admin).

    ``data`` maps field names from ``EDITABLE_FIELDS`` to cleaned values, as
    for ``person_update``, and is checked by the same rules as a sync. No
    connection manages the new person, so every field stays editable on
    their page. Their ``updated_at`` (and the row count) changes the
    directory's fingerprint, so a dry run planned before is out of date.
    """
    values = _person_values_clean(data)
    if not any(str(values.get(name) or "").strip() for name in ("first_name", "last_name")):
        # A sync may add a record without a name (HR will send it); nobody
        # will ever send one for a person added here.
        raise ValidationError({"first_name": "Enter their first name, last name or both."})
    person = Person(**values)
    _person_full_clean(person)
    _person_save(person)
    logger.info("Person %s added by hand by %s", person.pk, user.get_username())
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
    nothing — and of those only the changes the report's index files under
    the person (``connections.reports``; a real run's creates included).
    """
    mapped = EmployeeMapping.objects.filter(person=person).order_by()
    connection_ids = set(mapped.values_list("connection_id", flat=True))
    if person.managed_by_id is not None:
        connection_ids.add(person.managed_by_id)
    if not connection_ids:
        return []
    recent = (
        SyncRun.objects.filter(
            connection_id__in=connection_ids,
            dry_run=False,
            status__in=SyncRun.COMPLETED_STATUSES,
        )
        # Never build a full Connection here: that would decrypt its secrets.
        .select_related("connection")
        .only(
            "id", "connection_id", "dry_run", "created_at", "finished_at",
            "connection__name", "connection__kind",
        )
        .order_by("-created_at", "-id")[:runs]
    )
    recent = list(recent)
    about = sync_run_person_changes(run_ids=[run.pk for run in recent], person_id=person.pk)
    found: list[PersonRunChange] = []
    for run in recent:
        for entry in about.get(run.pk, []):
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
