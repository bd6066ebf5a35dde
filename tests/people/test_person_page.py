"""The person page and the People list read in words: who manages a person
(once), what each sync changed (labels, not keys), and no "None"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import SyncRun
from connections.services import connection_create
from connections.sync.changes import Action, Change, SyncPlan
from tests.factories import DepotFactory, EmployeeMappingFactory, PersonFactory, sync_run_report_store

pytestmark = pytest.mark.django_db

LONG_EMAIL = "adelaide.augusta.lovelace-byron.of.the.analytical.engine@very-long-department-name.example.com"


@pytest.fixture
def acme(db):
    return connection_create(
        kind="actionhrm", name="Acme HR", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )


def real_run(connection, *changes: Change) -> SyncRun:
    now = timezone.now()
    run = SyncRun.objects.create(
        connection=connection, status=SyncRun.Status.SUCCEEDED, started_at=now, finished_at=now
    )
    sync_run_report_store(run=run, report=SyncPlan(changes=list(changes)).to_report())
    return run


def page_text(response) -> str:
    """What a reader sees: the page's text without its tags, scripts and attributes."""
    html = response.content.decode()
    body = html[html.index("<main"):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def detail(staff, person):
    return staff.get(reverse("people:detail", args=[person.pk]))


def test_a_person_without_a_login_says_no_login_and_the_page_never_says_none(staff, acme):
    person = PersonFactory(first_name="Ada", last_name="Lovelace", managed_by=acme, user=None)

    text = page_text(detail(staff, person))

    assert "No login" in text
    assert not re.search(r"\bNone\b", text)


def test_the_managing_connection_is_named_once_with_a_link(staff, acme):
    person = PersonFactory(managed_by=acme)

    response = detail(staff, person)

    html = response.content.decode()
    assert page_text(response).count("Managed by") == 1
    assert f'<a href="{reverse("connections:overview", args=[acme.pk])}">Acme HR</a>' in html
    assert f"({acme.kind_label})" not in html
    assert "Read-only here: change them in ActionHRM" in html


def test_a_person_added_by_hand_says_so_and_has_a_clear_empty_history(staff):
    person = PersonFactory()

    text = page_text(detail(staff, person))

    assert "Added by hand" in text and "Managed by" not in text
    assert "No connection is linked to this person, so no sync changes them." in text


def test_a_linked_person_that_no_recent_sync_changed_says_so(staff, acme):
    person = PersonFactory(managed_by=acme)
    EmployeeMappingFactory(connection=acme, person=person, remote_id="R1")

    text = page_text(detail(staff, person))

    assert "No sync has changed this person in the last 20 syncs." in text


def test_the_history_names_fields_by_their_labels_and_keeps_long_emails_whole(staff, acme):
    north = DepotFactory(name="North")
    person = PersonFactory(first_name="Ada", managed_by=acme, email=LONG_EMAIL)
    EmployeeMappingFactory(connection=acme, person=person, remote_id="R1")
    run = real_run(
        acme,
        Change(
            action=Action.UPDATE, remote_id="R1", person_id=person.pk,
            fields={
                "first_name": ["Adelaide", "Ada"],
                "email": ["ada@example.com", LONG_EMAIL],
                "employee_reference": ["", "E7"],
                "depot": [None, "North"],
                "custom.shirt_size": ["S", "M"],
            },
        ),
    )

    response = detail(staff, person)

    html, text = response.content.decode(), page_text(response)
    history = html[html.index('id="history-heading"'):html.index('id="protect-heading"')]
    for label in ("First name", "Email", "Employee reference", "Depot", "Shirt size"):
        assert f'<dt class="field-name">{label}</dt>' in history
    for key in ("first_name", "employee_reference", "custom.shirt_size", "shirt_size"):
        assert key not in history
    assert LONG_EMAIL in history  # whole, never cut short
    assert f'href="{reverse("people:list")}?depot={north.pk}"' in history
    assert f"{run.title} Acme HR" in text


def test_a_created_person_history_shows_the_values_they_were_created_with(staff, acme):
    person = PersonFactory(first_name="Ada", managed_by=acme)
    EmployeeMappingFactory(connection=acme, person=person, remote_id="R1")
    real_run(acme, Change(action=Action.CREATE, remote_id="R1", fields={"first_name": [None, "Ada"]}))

    html = detail(staff, person).content.decode()

    history = html[html.index('id="history-heading"'):html.index('id="protect-heading"')]
    assert '<span class="new">Ada</span>' in history
    assert "empty" not in history and "→" not in history


def test_the_synced_fields_link_the_manager_and_the_depot(staff, acme):
    north = DepotFactory(name="North")
    boss = PersonFactory(first_name="Grace", last_name="Hopper")
    person = PersonFactory(managed_by=acme, depot=north, manager=boss)

    html = detail(staff, person).content.decode()

    assert f'<a href="{reverse("people:list")}?depot={north.pk}">North</a>' in html
    assert f'<a href="{reverse("people:detail", args=[boss.pk])}">Grace Hopper</a>' in html


def test_custom_fields_are_named_by_their_labels(staff, acme):
    person = PersonFactory(managed_by=acme, custom_fields={"shirt_size": "M"})

    html = detail(staff, person).content.decode()

    assert "<dt>Shirt size</dt><dd>M</dd>" in html and "shirt_size" not in html


def test_a_connection_whose_connector_cannot_be_built_still_shows_the_page(staff):
    gone = connection_create(
        kind="actionhrm", name="Gone HR", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )
    type(gone).objects.filter(pk=gone.pk).update(kind="retired-vendor")
    person = PersonFactory(managed_by_id=gone.pk, custom_fields={"shirt_size": "M"})

    response = detail(staff, person)

    assert response.status_code == 200 and "Shirt size" in response.content.decode()


# -- the People list --------------------------------------------------------------------


def test_the_people_list_puts_the_job_title_in_its_own_element_under_the_name(staff):
    person = PersonFactory(first_name="Adam", last_name="Adams", job_title="Warehouse Operative")

    html = staff.get(reverse("people:list")).content.decode()

    link = f'<a href="{reverse("people:detail", args=[person.pk])}">Adam Adams</a>'
    assert f'<th scope="row">{link}<span class="sub">Warehouse Operative</span></th>' in html
