"""The Employees tab's include list (selective sync): the Included column,
the Excluded filter and the bulk Include/Exclude form, through the Django
test client, with the saved rows checked after every POST."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db
State = EmployeeMapping.State


@pytest.fixture
def connection(db):
    return ConnectionFactory(name="Static HR")


def _url(connection) -> str:
    return reverse("connections:employees", args=[connection.pk])


def _flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _record(connection, remote_id: str, *, state=State.UNMATCHED, person=None, **fields) -> EmployeeMapping:
    defaults = {"remote_name": f"Remote {remote_id}", "remote_email": f"{remote_id.lower()}@example.com"}
    return EmployeeMappingFactory(
        connection=connection, remote_id=remote_id, state=state, person=person, **{**defaults, **fields}
    )


def _states(connection) -> dict[str, str]:
    return dict(EmployeeMapping.objects.filter(connection=connection).values_list("remote_id", "state"))


def test_the_tab_shows_who_is_included_with_a_labelled_box_for_every_record(staff, connection):
    ada = PersonFactory(first_name="Ada", last_name="Lovelace", managed_by=connection)
    _record(connection, "A1", state=State.EXCLUDED, person=ada, remote_name="Ada Lovelace")
    _record(connection, "B2", state=State.EXCLUDED, remote_name="Bob Builder")
    _record(connection, "C3", remote_name="Carla Jones")

    html = staff.get(_url(connection)).content.decode()

    for mapping in EmployeeMapping.objects.all():
        box = re.search(rf'<input type="checkbox" id="select-{mapping.pk}" name="selected" value="{mapping.remote_id}" form="employees-bulk">', html)
        assert box, mapping.remote_id
        # The box's name says what ticking it does; whether the record is included is said beside it.
        assert f'<label for="select-{mapping.pk}" class="visually-hidden">Select {mapping.remote_name}</label>' in html
    assert html.count('<span class="badge badge-neutral">No</span>') == 2
    assert html.count('<span class="badge badge-ok">Yes</span>') == 1
    assert "No</label>" not in html and "Yes</label>" not in html
    assert "Excluded — not synced: Ada Lovelace stays as they are and is no longer updated." in html
    assert "Excluded — not synced." in html
    assert '<form id="employees-bulk"' in html and "csrfmiddlewaretoken" in html
    assert 'value="include"' in html and "Include selected in syncs" in html
    assert 'value="exclude"' in html and "Exclude selected from syncs" in html


def test_an_excluded_record_offers_no_link_or_create_until_it_is_included(staff, connection):
    ada = PersonFactory(first_name="Ada", last_name="Lovelace", managed_by=connection)
    linked = _record(connection, "A1", state=State.EXCLUDED, person=ada, remote_name="Ada Lovelace")
    waiting = _record(connection, "B2", state=State.EXCLUDED, remote_name="Bob Builder")
    carla = _record(connection, "C3", remote_name="Carla Jones")

    html = staff.get(_url(connection)).content.decode()

    def row(mapping) -> str:
        [found] = [part for part in html.split("<tr")[1:] if f'id="select-{mapping.pk}"' in part]
        return found

    for excluded in (linked, waiting):
        text = row(excluded)
        assert "Include the record to link it or create a person." in text
        assert 'value="link"' not in text and 'value="create"' not in text and 'value="unlink"' not in text
    assert 'value="link"' in row(carla) and 'value="create"' in row(carla)
    assert "Include the record to link it" not in row(carla)


def test_records_are_listed_by_id_in_the_order_the_numbers_count(staff, connection):
    for remote_id in ("10", "2", "1", "11", "E7", "100"):
        _record(connection, remote_id)

    response = staff.get(_url(connection))

    assert [m.remote_id for m in response.context["mappings"]] == ["1", "2", "10", "11", "E7", "100"]


def test_the_excluded_filter_lists_only_excluded_records_and_works_with_the_search(staff, connection):
    _record(connection, "A1", state=State.EXCLUDED, remote_name="Ada Lovelace")
    _record(connection, "A2", state=State.EXCLUDED, remote_name="Alan Turing")
    _record(connection, "A3", remote_name="Ada Byron")

    response = staff.get(_url(connection), {"filter": "excluded", "q": "ada"})

    assert [m.remote_id for m in response.context["mappings"]] == ["A1"]
    counts = {slug: n for slug, _label, n, _selected in response.context["filters"]}
    assert (counts["excluded"], counts["all"]) == (1, 2)


def test_exclude_selected_saves_the_states_and_goes_back_to_the_list_as_it_was(staff, connection):
    person = PersonFactory(managed_by=connection)
    _record(connection, "A1", state=State.LINKED, person=person)
    _record(connection, "B2")
    _record(connection, "C3")
    back = _url(connection) + "?q=example&page=1"

    response = staff.post(_url(connection), {"operation": "exclude", "selected": ["A1", "B2"], "next": back})

    assert response.status_code == 302 and response["Location"] == back
    assert _states(connection) == {"A1": State.EXCLUDED, "B2": State.EXCLUDED, "C3": State.UNMATCHED}
    assert EmployeeMapping.objects.get(remote_id="A1").person == person
    assert _flashes(response) == [
        "Excluded 2 records: syncs skip them and create or change nobody for them; "
        "people linked to them stay as they are."
    ]


def test_include_selected_says_how_many_were_included_already(staff, connection):
    _record(connection, "A1", state=State.EXCLUDED, remote_email="")
    _record(connection, "B2")

    response = staff.post(_url(connection), {"operation": "include", "selected": ["A1", "B2"]})

    assert _states(connection) == {"A1": State.UNMATCHED, "B2": State.UNMATCHED}
    assert _flashes(response) == [
        "Included 1 record: the next sync updates, links or creates its person. 1 record was included already."
    ]


def test_all_records_on_this_page_acts_on_the_page_shown_without_javascript(staff, connection):
    EmployeeMapping.objects.bulk_create(
        [EmployeeMapping(connection=connection, remote_id=f"R{n:03}", state=State.EXCLUDED) for n in range(60)]
    )
    second = staff.get(_url(connection), {"page": 2}).content.decode()
    page_ids = re.findall(r'<input type="hidden" name="page_ids" value="([^"]+)">', second)
    assert page_ids == [f"R{n:03}" for n in range(50, 60)]

    staff.post(_url(connection), {"operation": "include", "all_on_page": "1", "page_ids": page_ids})

    states = _states(connection)
    assert {rid for rid, state in states.items() if state == State.UNMATCHED} == set(page_ids)
    assert sum(1 for state in states.values() if state == State.EXCLUDED) == 50


def test_a_post_with_nothing_selected_changes_nothing_and_says_what_to_do(staff, connection):
    _record(connection, "A1")

    response = staff.post(_url(connection), {"operation": "exclude", "page_ids": ["A1"]})

    assert _states(connection) == {"A1": State.UNMATCHED}
    assert _flashes(response) == ["Select the records first: tick their boxes, or tick All records on this page."]


def test_a_record_that_is_not_the_connections_is_refused_and_nothing_changes(staff, connection):
    _record(connection, "A1")
    _record(ConnectionFactory(name="Other HR"), "Z9")

    response = staff.post(_url(connection), {"operation": "exclude", "selected": ["A1", "Z9"]})

    assert _states(connection) == {"A1": State.UNMATCHED}
    assert EmployeeMapping.objects.get(remote_id="Z9").state == State.UNMATCHED
    assert _flashes(response) == [
        "Static HR has no record with the id Z9, so nothing was changed. "
        "A record is known once a sync has read it: check the ids, or run a sync first."
    ]


def test_the_bulk_form_needs_a_staff_login_and_the_csrf_token(connection, django_user_model):
    _record(connection, "A1")
    url = _url(connection)

    anonymous = Client().post(url, {"operation": "exclude", "selected": ["A1"]})
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    forged = strict.post(url, {"operation": "exclude", "selected": ["A1"]})

    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert forged.status_code == 403
    assert _states(connection) == {"A1": State.UNMATCHED}
    assert not Person.objects.exists()
