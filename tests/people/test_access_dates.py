"""The daily task that applies the access dates on the day itself (and
``people apply-access-dates``, which runs it by hand), on a frozen day."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from connections import tasks
from hrsync.people.access import people_access_dates_apply
from hrsync.people.models import Person
from hrsync.people.rules import access_status, person_has_access
from tests.connections.conftest import source  # noqa: F401 (the static connector's fixture)
from tests.factories import ConnectionFactory, PersonFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2027, 3, 3)
Status = Person.Status


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def notifying(source):
    return ConnectionFactory(name="Notify HR", credential_notifications=True)


def test_on_their_first_day_an_onboarding_person_becomes_active_gets_a_login_and_is_invited(
    notifying, django_capture_on_commit_callbacks
):
    starter = PersonFactory(
        email="nina@example.com", status=Status.ONBOARDING, access_starts_on=TODAY, managed_by=notifying
    )
    tomorrow = PersonFactory(
        email="olga@example.com",
        status=Status.ONBOARDING,
        access_starts_on=TODAY + dt.timedelta(days=1),
        managed_by=notifying,
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = people_access_dates_apply(today=TODAY)

    starter.refresh_from_db()
    tomorrow.refresh_from_db()
    assert starter.status == Status.ACTIVE
    assert starter.user is not None and starter.user.is_active
    assert not starter.user.has_usable_password()
    assert [message.to for message in mail.outbox] == [["nina@example.com"]]
    assert tomorrow.status == Status.ONBOARDING and tomorrow.user is None
    assert [(c.person_id, c.old_status, c.new_status, c.login) for c in result.changes] == [
        (starter.pk, "onboarding", "active", "created")
    ]
    assert result.changes[0].reason == "Started on 3 March 2027: access from that day."


def test_a_starter_whose_connection_sends_no_invitations_gets_their_disabled_login_enabled_only(
    source, django_capture_on_commit_callbacks
):
    quiet = ConnectionFactory(credential_notifications=False)
    user = User.objects.create_user("pat@example.com", is_active=False)
    with_login = PersonFactory(
        status=Status.ONBOARDING, access_starts_on=TODAY, managed_by=quiet, user=user
    )
    without = PersonFactory(status=Status.ONBOARDING, access_starts_on=TODAY, managed_by=quiet)

    with django_capture_on_commit_callbacks(execute=True):
        people_access_dates_apply(today=TODAY)

    user.refresh_from_db()
    without.refresh_from_db()
    with_login.refresh_from_db()
    assert with_login.status == Status.ACTIVE and user.is_active
    assert without.status == Status.ACTIVE and without.user is None
    assert mail.outbox == []


def test_from_the_day_access_ends_the_person_is_terminated_and_their_login_disabled(notifying):
    user = User.objects.create_user("leo@example.com")
    leaver = PersonFactory(access_ends_on=TODAY, user=user, managed_by=notifying)
    staying = PersonFactory(
        access_ends_on=TODAY + dt.timedelta(days=1),
        user=User.objects.create_user("max@example.com"),
        managed_by=notifying,
    )

    result = people_access_dates_apply(today=TODAY)

    leaver.refresh_from_db()
    user.refresh_from_db()
    staying.refresh_from_db()
    assert leaver.status == Status.TERMINATED
    assert not user.is_active
    assert staying.status == Status.ACTIVE and staying.user.is_active
    assert [(c.person_id, c.new_status, c.login, c.reason) for c in result.changes] == [
        (leaver.pk, "terminated", "disabled", "Last working day was 2 March 2027: access locked.")
    ]


def test_a_protected_person_is_never_terminated_or_locked_by_their_access_dates(notifying):
    user = User.objects.create_user("ada@example.com")
    protected = PersonFactory(access_ends_on=TODAY, user=user, is_protected=True, managed_by=notifying)

    result = people_access_dates_apply(today=TODAY)

    protected.refresh_from_db()
    user.refresh_from_db()
    assert protected.status == Status.ACTIVE
    assert user.is_active
    assert result.changes == []


def test_applying_the_access_dates_twice_the_same_day_changes_nothing_the_second_time(
    notifying, django_capture_on_commit_callbacks
):
    PersonFactory(status=Status.ONBOARDING, access_starts_on=TODAY, managed_by=notifying)
    PersonFactory(access_ends_on=TODAY, user=User.objects.create_user("leo@example.com"), managed_by=notifying)
    with django_capture_on_commit_callbacks(execute=True):
        first = people_access_dates_apply(today=TODAY)
    before = list(Person.objects.order_by("pk").values_list("status", "user_id", "updated_at"))

    with django_capture_on_commit_callbacks(execute=True):
        second = people_access_dates_apply(today=TODAY)

    assert len(first.changes) == 2
    assert second.changes == []
    assert list(Person.objects.order_by("pk").values_list("status", "user_id", "updated_at")) == before
    assert len(mail.outbox) == 1


def test_the_dispatcher_applies_the_access_dates_too(notifying):
    starter = PersonFactory(status=Status.ONBOARDING, access_starts_on=TODAY, managed_by=notifying)

    tasks.dispatch_due_syncs()

    starter.refresh_from_db()
    assert starter.status == Status.ACTIVE


def test_the_command_prints_what_it_changed(notifying, capsys):
    leaver = PersonFactory(first_name="Leo", last_name="Lind", access_ends_on=TODAY, managed_by=notifying)

    call_command("people", "apply-access-dates")
    out = capsys.readouterr().out

    leaver.refresh_from_db()
    assert leaver.status == Status.TERMINATED
    assert "Access dates on 3 March 2027: 1 changed." in out
    assert f"Leo Lind (person {leaver.pk}): active → terminated. Last working day was 2 March 2027" in out

    call_command("people", "apply-access-dates")
    assert "nothing to change" in capsys.readouterr().out


def test_the_command_prints_json(notifying, capsys):
    starter = PersonFactory(status=Status.ONBOARDING, access_starts_on=TODAY, managed_by=notifying)

    call_command("people", "apply-access-dates", "--json")
    data = json.loads(capsys.readouterr().out)

    assert data["today"] == "2027-03-03"
    assert data["changes"] == [
        {
            "person_id": starter.pk,
            "name": starter.full_name,
            "old_status": "onboarding",
            "new_status": "active",
            "reason": "Started on 3 March 2027: access from that day.",
            "login": "created",
        }
    ]


def test_the_person_page_shows_the_access_dates(staff, source):
    person = PersonFactory(
        status=Status.ONBOARDING, access_starts_on=dt.date(2027, 4, 1), access_ends_on=dt.date(2028, 1, 1)
    )

    page = staff.get(reverse("people:detail", args=[person.pk])).content.decode()

    assert "<dt>Access from</dt>" in page
    assert "1 April 2027" in page
    assert "<dt>Access until</dt>" in page
    assert "1 January 2028" in page


@pytest.mark.parametrize(
    ("status", "starts", "ends", "expected"),
    [
        ("active", None, None, ("active", True)),
        ("active", TODAY + dt.timedelta(days=1), None, ("onboarding", False)),
        ("onboarding", TODAY, None, ("active", True)),
        ("inactive", TODAY + dt.timedelta(days=1), None, ("inactive", False)),
        ("active", TODAY - dt.timedelta(days=9), TODAY, ("terminated", False)),
        ("on_leave", None, TODAY + dt.timedelta(days=1), ("on_leave", True)),
    ],
)
def test_the_access_rule_gives_a_status_and_a_login_for_each_pair_of_dates(status, starts, ends, expected):
    new_status, _reason = access_status(status=status, access_starts_on=starts, access_ends_on=ends, today=TODAY)
    allowed = person_has_access(status=new_status, access_starts_on=starts, access_ends_on=ends, today=TODAY)

    assert (new_status, allowed) == expected
