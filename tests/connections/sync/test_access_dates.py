"""Access dates in a sync: a person whose first day is still to come is
onboarding with no working login and no invitation; from the day after the
last working day, they are terminated and locked out. On a frozen day."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core import mail

from connections.models import SyncRun
from hrsync.people.models import Person
from tests.connections.helpers import run_sync
from tests.connections.static_connector import employee
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2027, 3, 2)
Status = Person.Status


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)


def change_for(run: SyncRun, remote_id: str) -> dict:
    return next(c for c in run.changes if c["remote_id"] == remote_id)


@pytest.mark.django_db(transaction=True)
def test_a_future_hire_date_makes_an_onboarding_person_without_a_login_or_an_invitation(source):
    connection = ConnectionFactory(name="Notify HR", credential_notifications=True)
    source.employees = [
        employee("1", email="nina@example.com", access_starts_on=dt.date(2027, 3, 3)),
        employee("2", email="olga@example.com", access_starts_on=TODAY),
    ]

    run = run_sync(connection, scope="employees")

    nina = Person.objects.get(email="nina@example.com")
    olga = Person.objects.get(email="olga@example.com")
    assert run.status == SyncRun.Status.SUCCEEDED
    assert nina.status == Status.ONBOARDING
    assert nina.access_starts_on == dt.date(2027, 3, 3)
    assert nina.user is None
    assert change_for(run, "1")["message"] == "Starts on 3 March 2027: onboarding until then."
    # Whoever starts today is active, with a login and an invitation.
    assert olga.status == Status.ACTIVE
    assert olga.user is not None and olga.user.is_active
    assert [message.to for message in mail.outbox] == [["olga@example.com"]]


def test_a_hire_date_moved_into_the_future_disables_the_login(connection, source):
    user = User.objects.create_user("pat@example.com")
    person = PersonFactory(email="pat@example.com", user=user, managed_by=connection)
    EmployeeMappingFactory(connection=connection, remote_id="7", person=person)
    source.employees = [employee("7", email="pat@example.com", access_starts_on=dt.date(2027, 4, 1))]

    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    user.refresh_from_db()
    assert person.status == Status.ONBOARDING
    assert not user.is_active
    assert change_for(run, "7")["fields"]["status"] == ["active", "onboarding"]


def test_the_day_after_the_last_working_day_the_person_is_terminated_and_locked(connection, source):
    user = User.objects.create_user("leo@example.com")
    person = PersonFactory(email="leo@example.com", user=user, managed_by=connection)
    EmployeeMappingFactory(connection=connection, remote_id="7", person=person)
    # Last working day 1 March: locked from 2 March, today.
    source.employees = [employee("7", email="leo@example.com", access_ends_on=TODAY)]

    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    user.refresh_from_db()
    assert person.status == Status.TERMINATED
    assert person.access_ends_on == TODAY
    assert not user.is_active
    change = change_for(run, "7")
    assert change["action"] == "deactivate"
    assert change["message"] == "Last working day was 1 March 2027: access locked."
    assert run.counts["deactivated"] == 1


def test_on_the_last_working_day_itself_the_person_is_still_active(connection, source):
    user = User.objects.create_user("leo@example.com")
    person = PersonFactory(email="leo@example.com", user=user, managed_by=connection)
    EmployeeMappingFactory(connection=connection, remote_id="7", person=person)
    source.employees = [employee("7", email="leo@example.com", access_ends_on=TODAY + dt.timedelta(days=1))]

    run_sync(connection, scope="employees")

    person.refresh_from_db()
    user.refresh_from_db()
    assert person.status == Status.ACTIVE
    assert user.is_active


def test_a_protected_person_is_not_locked_out_after_their_last_working_day(connection, source):
    user = User.objects.create_user("ada@example.com")
    person = PersonFactory(email="ada@example.com", user=user, managed_by=connection, is_protected=True)
    EmployeeMappingFactory(connection=connection, remote_id="7", person=person)
    source.employees = [employee("7", email="ada@example.com", access_ends_on=TODAY)]

    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    user.refresh_from_db()
    assert person.status == Status.ACTIVE
    assert user.is_active
    assert run.counts["deactivated"] == 0
    assert any("protected" in warning for warning in change_for(run, "7")["warnings"])


def test_a_leaver_whose_last_working_day_passed_before_their_first_sync_is_not_created(connection, source):
    source.employees = [employee("1", access_ends_on=dt.date(2027, 2, 1))]

    run = run_sync(connection, scope="employees")

    assert not Person.objects.exists()
    change = change_for(run, "1")
    assert change["action"] == "skip"
    assert change["message"] == "Skipped — left before their first sync (last working day 31 January 2027)."


def test_too_many_people_leaving_by_their_last_working_day_is_blocked_by_the_safeguard(connection, source):
    connection.safeguard_min = 1
    connection.save()
    for n in range(4):
        person = PersonFactory(email=f"p{n}@example.com", managed_by=connection)
        EmployeeMappingFactory(connection=connection, remote_id=str(n), person=person)
    source.employees = [employee(str(n), email=f"p{n}@example.com", access_ends_on=TODAY) for n in range(4)]

    run = run_sync(connection, scope="employees")

    assert run.status == SyncRun.Status.BLOCKED
    assert not Person.objects.filter(status=Status.TERMINATED).exists()
