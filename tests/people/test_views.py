"""The people pages: directory, person page, protection and the picker's search."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.models import SyncRun
from connections.services import connection_create
from connections.sync.changes import Action, Change, SyncPlan
from hrsync.people import services
from hrsync.people.models import Person
from tests.factories import (
    ConnectionFactory,
    DepotFactory,
    EmployeeMappingFactory,
    PersonFactory,
    sync_run_report_store,
)

pytestmark = pytest.mark.django_db

LIST = reverse("people:list")
SEARCH = reverse("people:search")


@pytest.fixture
def acme(db):
    """An ActionHRM connection: it owns names, email, reference, phones,
    date of birth, gender and depot — not job title, dates or manager."""
    return connection_create(
        kind="actionhrm",
        name="Acme HR",
        config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"},
    )


def names(response) -> list[str]:
    return [str(person) for person in response.context["people"]]


def finished_run(connection, *changes: Change, dry_run=False, status=SyncRun.Status.SUCCEEDED, **fields):
    now = timezone.now()
    run = SyncRun.objects.create(
        connection=connection,
        dry_run=dry_run,
        status=status,
        started_at=now,
        finished_at=now,
        **fields,
    )
    sync_run_report_store(run=run, report=SyncPlan(changes=list(changes)).to_report())
    return run


# -- the directory ------------------------------------------------------------------


def test_the_directory_lists_people_with_depot_status_owner_and_protection(staff, acme):
    depot = DepotFactory(name="North")
    PersonFactory(
        first_name="Ada", last_name="Lovelace", email="ada@example.com", employee_reference="E7",
        depot=depot, managed_by=acme, is_protected=True,
    )
    PersonFactory(first_name="Bob", last_name="Manual", status=Person.Status.ON_LEAVE)

    response = staff.get(LIST)

    assert response.status_code == 200
    assert names(response) == ["Ada Lovelace", "Bob Manual"]
    html = response.content.decode()
    for text in ("ada@example.com", "E7", "North", "Acme HR", "Manual", "On leave", "Protected"):
        assert text in html
    ada = Person.objects.get(email="ada@example.com")
    assert reverse("people:detail", args=[ada.pk]) in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ada", ["Ada Lovelace"]),
        ("LOVELACE", ["Ada Lovelace"]),
        ("ada love", ["Ada Lovelace"]),
        ("grace@navy", ["Grace Hopper"]),
        ("E-100", ["Grace Hopper"]),
        ("ada hopper", []),
    ],
)
def test_the_directory_searches_names_emails_and_references(staff, query, expected):
    PersonFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    PersonFactory(first_name="Grace", last_name="Hopper", email="grace@navy.mil", employee_reference="E-100")

    assert names(staff.get(LIST, {"q": query})) == expected


def test_the_directory_filters_by_depot_and_status(staff):
    north, south = DepotFactory(name="North"), DepotFactory(name="South")
    PersonFactory(first_name="Ann", last_name="A", depot=north)
    PersonFactory(first_name="Ben", last_name="B", depot=north, status=Person.Status.TERMINATED)
    PersonFactory(first_name="Cat", last_name="C", depot=south)
    PersonFactory(first_name="Dan", last_name="D", depot=None)

    assert names(staff.get(LIST, {"depot": north.pk})) == ["Ann A", "Ben B"]
    assert names(staff.get(LIST, {"depot": "none"})) == ["Dan D"]
    assert names(staff.get(LIST, {"status": "terminated"})) == ["Ben B"]
    assert names(staff.get(LIST, {"depot": north.pk, "status": "active"})) == ["Ann A"]
    # A stale depot id or a made-up status filters nothing rather than failing.
    assert len(names(staff.get(LIST, {"depot": "987654", "status": "bogus"}))) == 4


def test_the_directory_pages_by_fifty_and_keeps_the_filters_in_the_links(staff):
    depot = DepotFactory(name="North")
    PersonFactory.create_batch(120, depot=depot)

    first = staff.get(LIST, {"depot": depot.pk})
    last = staff.get(LIST, {"depot": depot.pk, "page": 3})
    beyond = staff.get(LIST, {"depot": depot.pk, "page": 99})

    assert len(first.context["people"]) == 50
    assert first.context["page_obj"].paginator.num_pages == 3
    assert f"?depot={depot.pk}&amp;page=2" in first.content.decode()
    assert len(last.context["people"]) == 20
    assert beyond.status_code == 200 and beyond.context["page_obj"].number == 3
    assert staff.get(LIST, {"page": "junk"}).context["page_obj"].number == 1


def test_the_directory_runs_the_same_few_queries_for_200_people_as_for_2(staff, acme, django_assert_max_num_queries):
    depots = DepotFactory.create_batch(5)
    PersonFactory.create_batch(2, depot=depots[0], managed_by=acme)
    with CaptureQueriesContext(db) as few:
        staff.get(LIST)
    PersonFactory.create_batch(198, depot=depots[1], managed_by=acme)

    with django_assert_max_num_queries(len(few)):
        response = staff.get(LIST, {"q": "example", "status": "active"})

    assert len(response.context["people"]) == 50
    assert len(few) <= 8


def test_an_empty_directory_says_people_come_from_syncing_a_connection(staff):
    response = staff.get(LIST)

    html = response.content.decode()
    assert "Most people come from syncing a connection" in html
    assert reverse("connections:list") in html and reverse("people:new") in html


def test_a_search_that_finds_no_one_says_so(staff):
    PersonFactory(first_name="Ada")

    html = staff.get(LIST, {"q": "zebra"}).content.decode()

    assert "No one matches these filters" in html
    assert "People come from syncing" not in html


# -- the person page -------------------------------------------------------------------


def test_a_managed_person_shows_the_connections_fields_read_only(staff, acme):
    person = PersonFactory(first_name="Ada", employee_reference="E7", job_title="Analyst", managed_by=acme)

    response = staff.get(reverse("people:detail", args=[person.pk]))

    html = response.content.decode()
    assert "Read-only here: change them in ActionHRM" in html
    form = response.context["form"]
    assert {"first_name", "last_name", "email", "employee_reference", "depot", "status"}.isdisjoint(form.fields)
    assert {"job_title", "hire_date", "termination_date", "manager"} <= set(form.fields)
    assert 'name="first_name"' not in html and 'name="job_title"' in html
    synced = {name for _label, _value, name, _link in response.context["synced"]}
    assert {"first_name", "employee_reference", "depot", "status"} <= synced
    assert "E7" in html


def test_saving_a_managed_person_cannot_change_the_fields_the_connection_owns(staff, acme):
    person = PersonFactory(first_name="Ada", email="ada@example.com", job_title="Analyst", managed_by=acme)

    response = staff.post(
        reverse("people:detail", args=[person.pk]),
        {"first_name": "Hacked", "email": "evil@example.com", "status": "terminated", "job_title": "Engineer"},
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.first_name, person.email, person.status) == ("Ada", "ada@example.com", "active")
    assert person.job_title == "Engineer"


def test_person_update_refuses_owned_fields_and_writes_nothing(acme):
    person = PersonFactory(first_name="Ada", job_title="Analyst", managed_by=acme)

    with pytest.raises(services.OwnedFieldsError, match="First name comes from Acme HR: change it in ActionHRM"):
        services.person_update(person=person, data={"first_name": "Hacked", "job_title": "Engineer"})

    person.refresh_from_db()
    assert (person.first_name, person.job_title) == ("Ada", "Analyst")


def test_a_field_map_that_names_an_optional_field_makes_the_connection_own_it(acme):
    acme.field_map = {"job_title": "position"}
    acme.save()
    person = PersonFactory(job_title="Analyst", managed_by=acme)

    assert "job_title" in services.person_owned_fields(person=person)
    with pytest.raises(services.OwnedFieldsError):
        services.person_update(person=person, data={"job_title": "Engineer"})


def test_a_connection_whose_integration_is_gone_keeps_every_synced_field_read_only():
    gone = ConnectionFactory(kind="retired-vendor")
    person = PersonFactory(managed_by=gone)

    owned = services.person_owned_fields(person=person)

    assert {"first_name", "email", "depot", "manager", "status", "job_title"} <= owned


def test_person_update_decides_ownership_from_the_stored_record(acme):
    person = PersonFactory(first_name="Ada", managed_by=acme)
    person.managed_by = None  # a stale or tampered instance changes nothing

    with pytest.raises(services.OwnedFieldsError):
        services.person_update(person=person, data={"first_name": "Hacked"})


def test_a_manual_person_is_edited_in_full(staff):
    depot = DepotFactory(name="North")
    boss = PersonFactory(first_name="Grace")
    person = PersonFactory(first_name="Ada", email="ada@example.com")
    url = reverse("people:detail", args=[person.pk])

    assert "Added by hand" in staff.get(url).content.decode()
    response = staff.post(
        url,
        {
            "first_name": "Ada",
            "last_name": "King",
            "email": " Ada.King@Example.com ",
            "status": "on_leave",
            "depot": depot.pk,
            "manager": boss.pk,
            "hire_date": "2020-02-03",
        },
        follow=True,
    )

    person.refresh_from_db()
    assert (person.last_name, person.email, person.status) == ("King", "ada.king@example.com", "on_leave")
    assert (person.depot, person.manager, person.hire_date) == (depot, boss, dt.date(2020, 2, 3))
    assert "Saved Ada King" in response.content.decode()


def test_an_invalid_edit_shows_errors_and_saves_nothing(staff):
    PersonFactory(email="taken@example.com")
    person = PersonFactory(first_name="Ada", email="ada@example.com")
    url = reverse("people:detail", args=[person.pk])

    taken = staff.post(url, {"first_name": "Zed", "email": "TAKEN@example.com", "status": "active"})
    own_manager = staff.post(url, {"first_name": "Zed", "email": "ada@example.com", "status": "active", "manager": person.pk})

    assert taken.status_code == 200 and taken.context["form"].errors
    assert "own manager" in own_manager.content.decode()
    person.refresh_from_db()
    assert (person.first_name, person.email) == ("Ada", "ada@example.com")
    # The page around the rejected form still shows the saved person.
    assert taken.context["person"].first_name == "Ada"


def test_the_person_page_lists_the_persons_mappings(staff, acme):
    person = PersonFactory(managed_by=acme)
    EmployeeMappingFactory(connection=acme, person=person, remote_id="AHR-42", remote_status="Active")

    html = staff.get(reverse("people:detail", args=[person.pk])).content.decode()

    assert "AHR-42" in html and "Linked" in html and reverse("connections:employees", args=[acme.pk]) in html


def test_the_person_page_shows_what_finished_syncs_changed(staff, acme):
    other = connection_create(kind="actionhrm", name="Other HR", config={"subdomain": "o", "username": "u"}, secrets={"password": "p"})
    person = PersonFactory(first_name="Ada", managed_by=acme)
    EmployeeMappingFactory(connection=acme, person=person, remote_id="R1")
    stranger = PersonFactory()
    created = finished_run(acme, Change(action=Action.CREATE, remote_id="R1", fields={"first_name": [None, "Ada"]}))
    updated = finished_run(
        acme,
        Change(action=Action.UPDATE, remote_id="R1", person_id=person.pk, fields={"last_name": ["Byron", "Lovelace"]}),
        Change(action=Action.UPDATE, remote_id="R9", person_id=stranger.pk, fields={"last_name": ["X", "Not hers"]}),
        status=SyncRun.Status.COMPLETED_WITH_ERRORS,
    )
    finished_run(acme, Change(action=Action.UNCHANGED, remote_id="R1", person_id=person.pk))
    finished_run(acme, Change(action=Action.UPDATE, remote_id="R1", person_id=person.pk,
                              fields={"gender": ["", "dry-run value"]}), dry_run=True)
    finished_run(acme, Change(action=Action.DEACTIVATE, remote_id="R1", person_id=person.pk,
                              fields={"status": ["active", "blocked-run value"]}), status=SyncRun.Status.BLOCKED)
    finished_run(other, Change(action=Action.UPDATE, remote_id="R1", person_id=person.pk,
                               fields={"gender": ["", "other-connection value"]}))

    response = staff.get(reverse("people:detail", args=[person.pk]))

    history = response.context["history"]
    assert [(e.change.run.pk, e.change.action) for e in history] == [(updated.pk, "update"), (created.pk, "create")]
    html = response.content.decode()
    assert "Byron" in html and "Lovelace" in html
    assert reverse("connections:run", args=[acme.pk, updated.pk]) in html
    for hidden in ("Not hers", "dry-run value", "blocked-run value", "other-connection value"):
        assert hidden not in html


def test_the_person_page_reads_only_the_last_20_runs(staff, acme, django_assert_max_num_queries):
    person = PersonFactory(managed_by=acme)
    EmployeeMappingFactory(connection=acme, person=person, remote_id="R1")
    old = finished_run(acme, Change(action=Action.UPDATE, remote_id="R1", person_id=person.pk,
                                    fields={"job_title": ["", "Ancient"]}))
    SyncRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    for _ in range(20):
        finished_run(acme, Change(action=Action.UPDATE, remote_id="R1", person_id=person.pk,
                                  fields={"job_title": ["a", "b"]}))

    with CaptureQueriesContext(db) as queries:
        response = staff.get(reverse("people:detail", args=[person.pk]))

    assert len(response.context["history"]) == 20
    assert "Ancient" not in response.content.decode()
    assert len([q for q in queries if 'FROM "connections_syncrun"' in q["sql"]]) == 1
    # The 20 runs' changes about her: one index query and one chunk query, not one per run.
    assert len([q for q in queries if 'FROM "connections_syncrunchange' in q["sql"]]) == 2


# -- protection ---------------------------------------------------------------------------


def test_protecting_a_person_marks_them_and_moves_updated_at(staff):
    person = PersonFactory()
    before = person.updated_at
    url = reverse("people:protect", args=[person.pk])

    response = staff.post(url, {"protected": "1"}, follow=True)

    person.refresh_from_db()
    assert person.is_protected and person.updated_at > before
    assert "a sync will never deactivate them" in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("people:detail", args=[person.pk])

    staff.post(url, {"protected": "0"})
    person.refresh_from_db()
    assert not person.is_protected


def test_the_person_page_explains_protection(staff):
    person = PersonFactory()

    html = staff.get(reverse("people:detail", args=[person.pk])).content.decode()

    assert "A sync never deactivates a protected person" in html
    assert reverse("people:protect", args=[person.pk]) in html


def test_protect_is_post_only(staff):
    person = PersonFactory()

    assert staff.get(reverse("people:protect", args=[person.pk])).status_code == 405
    person.refresh_from_db()
    assert not person.is_protected


# -- the picker's search ---------------------------------------------------------------------


def test_search_returns_matching_people_as_json(staff):
    ada = PersonFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com", status=Person.Status.ON_LEAVE)
    PersonFactory(first_name="Grace", last_name="Hopper")

    response = staff.get(SEARCH, {"q": "lovel"})

    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "results": [{"id": ada.pk, "name": "Ada Lovelace", "email": "ada@example.com", "status": "on_leave"}]
    }


def test_search_needs_two_characters_and_returns_at_most_20(staff):
    PersonFactory.create_batch(25, last_name="Smith")

    assert staff.get(SEARCH, {"q": "s"}).json() == {"results": []}
    assert staff.get(SEARCH).json() == {"results": []}
    assert len(staff.get(SEARCH, {"q": "smith"}).json()["results"]) == 20


@pytest.mark.parametrize("text", ["a\x00b", "lovelace\x00"])
def test_a_search_holding_a_nul_is_ignored_by_the_picker_and_the_directory_alike(staff, text):
    # PostgreSQL refuses a NUL in a query: the text is dropped as invalid
    # before it gets there, the same way on every search box.
    PersonFactory(first_name="Ada", last_name="Lovelace")
    PersonFactory(first_name="Grace", last_name="Hopper")

    picker = staff.get(SEARCH, {"q": text})
    directory = staff.get(LIST, {"q": text})

    assert picker.status_code == 200 and picker.json() == {"results": []}
    assert directory.status_code == 200 and sorted(names(directory)) == ["Ada Lovelace", "Grace Hopper"]


# -- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["people:list", "people:search", "people:detail", "people:protect"])
def test_people_pages_are_for_staff_only(client, name):
    person = PersonFactory()
    url = reverse(name, args=[person.pk]) if name in ("people:detail", "people:protect") else reverse(name)

    anonymous = client.get(url)
    client.force_login(get_user_model().objects.create_user("member"))
    member_get, member_post = client.get(url), client.post(url, {"protected": "1"})

    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert member_get.status_code == 403 and member_post.status_code == 403
    person.refresh_from_db()
    assert not person.is_protected
