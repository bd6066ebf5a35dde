"""Access dates and logins: who may sign in, and the daily task that applies
the access dates on the day itself (``people_access_dates_apply``).

A connection that grants access from the first working day, or locks it
after the last one, sends ``access_starts_on``/``access_ends_on``; the sync
plans the status from them (``rules.access_status``) and sets the login
(``people_logins_set``). A date passes between two syncs, so the daily task
applies the same rule to the stored dates: on the first day the person
becomes active and (with their connection's credential notifications) gets
a login and an invitation; from the day access ends they are terminated and
their login disabled.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from hrsync.people.models import Person
from hrsync.people.rules import access_status, person_has_access

logger = logging.getLogger(__name__)

#: Ids per query: an IN list this long is fast on PostgreSQL and within SQLite's limits.
_CHUNK = 1000


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def people_logins_set(*, person_ids: Iterable[int], today: dt.date) -> tuple[list[int], list[int]]:
    """Enable or disable the existing logins of ``person_ids`` by their stored
    status and access dates (``rules.person_has_access``). A protected
    person's login is never disabled. Returns the ids of the people whose
    login was enabled, and of those whose login was disabled."""
    enable: list[int] = []
    disable: list[int] = []
    for chunk in _chunks(sorted(set(person_ids))):
        rows = Person.objects.filter(pk__in=chunk, user__isnull=False).values_list(
            "pk", "status", "access_starts_on", "access_ends_on", "is_protected", "user__is_active"
        )
        for pk, status, starts_on, ends_on, protected, login_active in rows:
            allowed = person_has_access(
                status=status, access_starts_on=starts_on, access_ends_on=ends_on, today=today
            )
            if allowed and not login_active:
                enable.append(pk)
            elif not allowed and login_active and not protected:
                disable.append(pk)
    User = get_user_model()
    for chunk in _chunks(enable):
        User.objects.filter(person__in=chunk).update(is_active=True)
    for chunk in _chunks(disable):
        User.objects.filter(person__in=chunk).update(is_active=False)
    return enable, disable


def people_logins_create(*, person_ids: Iterable[int], now: dt.datetime) -> list[int]:
    """Give each of ``person_ids`` who has an email and no login a login
    without a usable password: the invitation's link sets one. Returns the
    ids of the people given one, to invite once the caller commits.

    A login whose username (the email) somebody already has is never
    attached to the person (it could be an admin's): an admin links them by
    hand.
    """
    # Imported here: the sync engine imports this module, and its bulk
    # writer lives in the engine's package.
    from connections.sync.bulk import BATCH_SIZE, rows_update

    User = get_user_model()
    people = []
    for chunk in _chunks(sorted(set(person_ids))):
        people.extend(Person.objects.filter(id__in=chunk, user__isnull=True).exclude(email="").order_by("pk"))
    taken: set[str] = set()
    usernames = [p.email.strip().lower() for p in people]
    for start in range(0, len(usernames), _CHUNK):
        taken.update(
            User.objects.annotate(u=Lower("username"))
            .filter(u__in=usernames[start:start + _CHUNK])
            .values_list("u", flat=True)
        )
    users, given = [], []
    for person, username in zip(people, usernames, strict=True):
        if username in taken:
            continue
        taken.add(username)
        user = User(username=username, email=person.email.strip(), is_active=True)
        user.set_unusable_password()
        users.append(user)
        given.append(person)
    User.objects.bulk_create(users, batch_size=BATCH_SIZE)
    rows_update(
        Person, ["user_id", "updated_at"], [[p.pk, u.pk, now] for p, u in zip(given, users, strict=True)]
    )
    return [p.pk for p in given]


# -- the daily task ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessChange:
    """What the access dates changed for one person today."""

    person_id: int
    name: str
    old_status: str
    new_status: str
    #: Why, in words ("Started on 3 March 2027: access from that day.").
    reason: str
    #: "enabled", "disabled", "created" (a new login, invited), or "".
    login: str = ""


@dataclass(slots=True)
class AccessDatesResult:
    today: dt.date
    changes: list[AccessChange] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"today": self.today.isoformat(), "changes": [asdict(change) for change in self.changes]}


def people_access_dates_apply(*, today: dt.date) -> AccessDatesResult:
    """Apply the access dates that have come: an onboarding person whose
    access starts today or earlier becomes active, their login is enabled
    and (with their managing connection's credential notifications) created
    and an invitation sent after commit; a person whose access ended today
    or earlier is terminated and their login disabled, unless protected.

    Idempotent: a second call the same day finds nothing to do. Each change
    is logged, one line per person, and returned.
    """
    from hrsync.people.services import people_send_invitations  # services import the sync engine

    gone = Person.GONE_STATUSES
    ended = Q(access_ends_on__lte=today)
    due = (
        Q(status=Person.Status.ONBOARDING, access_starts_on__lte=today) & ~ended
    ) | (ended & Q(is_protected=False) & (~Q(status__in=gone) | Q(user__is_active=True)))
    now = timezone.now()
    result = AccessDatesResult(today=today)
    with transaction.atomic():
        rows = list(
            Person.objects.select_for_update(of=("self",))
            .filter(due)
            .order_by("pk")
            .values_list(
                "pk", "first_name", "last_name", "email", "status", "access_starts_on", "access_ends_on",
                "user_id", "managed_by__credential_notifications",
            )
        )
        if not rows:
            return result
        planned: dict[int, tuple[str, str, str, str]] = {}
        by_status: dict[str, list[int]] = {}
        invitable = []
        for pk, first, last, email, status, starts_on, ends_on, user_id, notifications in rows:
            new_status, reason = access_status(
                status=status, access_starts_on=starts_on, access_ends_on=ends_on, today=today
            )
            name = f"{first} {last}".strip() or email or f"person {pk}"
            planned[pk] = (name, status, new_status, reason)
            if new_status != status:
                by_status.setdefault(new_status, []).append(pk)
            if user_id is None and notifications and new_status not in gone:
                invitable.append(pk)
        for status, ids in by_status.items():
            for chunk in _chunks(ids):
                Person.objects.filter(pk__in=chunk).update(status=status, updated_at=now)
        enabled, disabled = people_logins_set(person_ids=planned, today=today)
        created = people_logins_create(person_ids=invitable, now=now)
        login = {
            **dict.fromkeys(enabled, "enabled"),
            **dict.fromkeys(disabled, "disabled"),
            **dict.fromkeys(created, "created"),
        }
        for pk, (name, old, new, reason) in planned.items():
            if old == new and pk not in login:
                continue
            change = AccessChange(
                person_id=pk, name=name, old_status=old, new_status=new, reason=reason, login=login.get(pk, "")
            )
            result.changes.append(change)
            logger.info(
                "Access dates: person %s %s → %s, login %s. %s",
                pk, old, new, change.login or "unchanged", reason,
            )
        if created:
            transaction.on_commit(lambda: people_send_invitations(person_ids=created))
    return result
