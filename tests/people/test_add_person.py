"""Add person (``/people/new/``) and the edit of a person's own fields: the
same rules, in the same words, as a sync applies to a record."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from connections.models import SyncRun
from connections.services import connection_create
from connections.sync import directory_fingerprint
from connectors import registry
from connectors.actionhrm.connector import _date as actionhrm_date
from hrsync.people import services
from hrsync.people.models import Person
from tests.connections.helpers import run_sync
from tests.connections.static_connector import StaticConnector, employee
from tests.factories import ConnectionFactory, DepotFactory, PersonFactory

pytestmark = pytest.mark.django_db

NEW = reverse("people:new")
LIST = reverse("people:list")


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_user("staff", is_staff=True)


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def source(monkeypatch):
    """A connection to a source whose records the test sets."""
    monkeypatch.setitem(registry.CONNECTORS, "static", ("Static", "tests.connections.static_connector.StaticConnector"))
    monkeypatch.setattr(StaticConnector, "employees", [])
    monkeypatch.setattr(StaticConnector, "locations", [])
    monkeypatch.setattr(StaticConnector, "error", None)
    return ConnectionFactory(name="Static HR")


def sync_message(connection, **fields) -> str:
    """The message a sync gives for one record carrying ``fields``."""
    StaticConnector.employees = [employee("1", **fields)]
    run = run_sync(connection, scope="employees")
    (change,) = run.changes
    assert change["action"] == "error"
    return change["message"]


def form_errors(response, field: str) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


def new_person(**fields) -> dict[str, str]:
    return {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "active", **fields}


# -- adding a person ------------------------------------------------------------------


def test_the_people_page_offers_add_person(staff):
    PersonFactory()

    html = staff.get(LIST).content.decode()

    assert f'href="{NEW}"' in html and "Add person" in html


def test_an_empty_directory_offers_both_a_sync_and_add_person(staff):
    html = staff.get(LIST).content.decode()

    assert "No people yet" in html
    assert f'href="{NEW}"' in html and reverse("connections:list") in html


def test_a_valid_new_person_is_saved_unmanaged_and_listed(staff):
    depot = DepotFactory(name="North")
    boss = PersonFactory(first_name="Grace", last_name="Hopper")

    response = staff.post(
        NEW,
        new_person(email=" Ada@Example.COM ", job_title="Analyst", depot=depot.pk, manager=boss.pk, hire_date="2020-02-03"),
    )

    person = Person.objects.get(first_name="Ada")
    assert response.status_code == 302 and response.url == reverse("people:detail", args=[person.pk])
    assert person.email == "ada@example.com"  # stored as a sync stores it
    assert (person.depot, person.manager, person.hire_date) == (depot, boss, dt.date(2020, 2, 3))
    assert person.managed_by is None
    page = staff.get(response.url).content.decode()
    assert "Added Ada Lovelace" in page and "Added by hand" in page
    assert "Ada Lovelace" in staff.get(LIST).content.decode()


def test_the_add_person_form_has_a_manager_picker_and_a_depot_select(staff):
    DepotFactory(name="North")

    html = staff.get(NEW).content.decode()

    assert 'data-picker-for="id_manager"' in html and 'data-person-picker="manager"' in html
    assert '<select name="depot"' in html and "No depot" in html and "North" in html
    assert 'name="status"' in html


def test_the_names_are_not_labelled_optional_since_one_of_them_is_needed(staff):
    html = staff.get(NEW).content.decode()

    assert '<label for="id_first_name">First name</label>' in html
    assert '<label for="id_last_name">Last name</label>' in html
    assert '<label for="id_job_title">Job title <span class="optional">(optional)</span></label>' in html


def test_adding_a_person_moves_the_directory_fingerprint_so_an_earlier_dry_run_is_out_of_date(admin_user):
    connection = connection_create(
        kind="actionhrm", name="Acme HR", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )
    before = directory_fingerprint(connection_id=connection.pk)

    services.person_create(data=new_person(), user=admin_user)

    assert directory_fingerprint(connection_id=connection.pk) != before


# -- the sync's rules, in the sync's words --------------------------------------------


def test_a_control_character_is_refused_as_the_sync_refuses_it(staff, source):
    synced = sync_message(source, first_name="Ada\u0007")

    response = staff.post(NEW, new_person(first_name="Ada\u0007"))

    (error,) = form_errors(response, "first_name")
    assert error == "The first name contains a control character (U+0007)."
    assert error.removesuffix(".") in synced
    assert not Person.objects.filter(last_name="Lovelace").exists()


def test_a_tab_is_refused_in_a_name_but_kept_in_a_job_title_as_the_sync_does(staff):
    refused = staff.post(NEW, new_person(first_name="Ada\tB"))
    kept = staff.post(NEW, new_person(job_title="Driver\tnights"))

    assert form_errors(refused, "first_name")
    assert kept.status_code == 302 and Person.objects.get().job_title == "Driver\tnights"


def test_a_value_too_long_is_refused_as_the_sync_refuses_it(staff, source):
    synced = sync_message(source, last_name="L" * 151)

    response = staff.post(NEW, new_person(last_name="L" * 151))

    (error,) = form_errors(response, "last_name")
    assert error == "Last name is longer than 150 characters." and error in synced
    assert not Person.objects.exists()


def test_an_invalid_email_is_refused_as_the_sync_refuses_it(staff, source):
    synced = sync_message(source, email="not-an-address")

    response = staff.post(NEW, new_person(email="not-an-address"))

    (error,) = form_errors(response, "email")
    assert error == "'not-an-address' is not a valid email address." and error in synced
    assert not Person.objects.exists()


def test_an_email_another_person_has_in_another_case_is_refused(staff):
    PersonFactory(first_name="Grace", email="ada@example.com")

    response = staff.post(NEW, new_person(email="ADA@Example.com"))

    assert form_errors(response, "email") == ["Another person already has this email address."]
    assert not Person.objects.filter(first_name="Ada").exists()


def test_an_invalid_date_is_refused_as_the_sync_refuses_it(staff):
    synced: list[str] = []
    actionhrm_date("2024-02-30", "Hire date", synced)

    response = staff.post(NEW, new_person(hire_date="2024-02-30"))

    assert form_errors(response, "hire_date") == synced == ["Hire date '2024-02-30' is not a date (YYYY-MM-DD)"]
    assert not Person.objects.exists()


def test_a_status_that_is_not_a_directory_status_is_refused(staff):
    response = staff.post(NEW, new_person(status="retired"))

    assert form_errors(response, "status")
    assert not Person.objects.exists()


def test_a_new_person_needs_a_name(staff):
    response = staff.post(NEW, new_person(first_name=" ", last_name=""))

    assert form_errors(response, "first_name") == ["Enter their first name, last name or both."]
    assert staff.post(NEW, new_person(first_name="")).status_code == 302  # a last name will do


def test_person_create_checks_the_rules_whoever_calls_it(admin_user):
    with pytest.raises(services.ValidationError) as refused:
        services.person_create(data=new_person(first_name="Nul\u0000"), user=admin_user)

    assert "control character (U+0000)" in str(refused.value)
    assert not Person.objects.exists()


# -- editing a person's own fields ----------------------------------------------------


def test_an_edit_is_checked_by_the_same_rules_as_a_new_person(staff):
    person = PersonFactory(first_name="Ada", email="ada@example.com")
    url = reverse("people:detail", args=[person.pk])

    response = staff.post(url, new_person(first_name="Ad\u0085a", last_name="L" * 151))

    assert form_errors(response, "first_name") == [
        "The first name contains a control character (U+0085), which usually means the text "
        "was saved or read in the wrong encoding."
    ]
    assert form_errors(response, "last_name") == ["Last name is longer than 150 characters."]
    person.refresh_from_db()
    assert person.first_name == "Ada"


def test_a_forged_post_cannot_change_a_field_the_connection_owns(staff):
    acme = connection_create(
        kind="actionhrm", name="Acme HR", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )
    person = PersonFactory(first_name="Ada", job_title="Analyst", managed_by=acme)

    staff.post(reverse("people:detail", args=[person.pk]), {"first_name": "Hacked", "job_title": "Engineer"})
    with pytest.raises(services.OwnedFieldsError, match="First name comes from Acme HR: change it in ActionHRM."):
        services.person_update(person=person, data={"first_name": "Hacked"})

    person.refresh_from_db()
    assert (person.first_name, person.job_title) == ("Ada", "Engineer")
    assert SyncRun.objects.count() == 0


def test_the_job_title_takes_a_whole_row_so_a_long_title_is_not_cut_off(staff):
    html = staff.get(NEW).content.decode()

    assert re.search(r'<div class="field wide">\s*<label for="id_job_title">', html)
