"""The Employees and Depots tabs, through the Django test client, with the
saved rows checked after every action."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from connections.models import Connection
from hrsync.people.models import Depot, Person
from mappings import services
from mappings.models import DepotMapping, EmployeeMapping
from tests.connections.conftest import source  # noqa: F401  (the static test connector)
from tests.connections.helpers import run_sync
from tests.connections.static_connector import employee
from tests.factories import (
    ConnectionFactory,
    DepotFactory,
    DepotMappingFactory,
    EmployeeMappingFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db
State = EmployeeMapping.State


@pytest.fixture
def connection(db):
    return ConnectionFactory(name="Static HR")


def _flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _employees_url(connection) -> str:
    return reverse("connections:employees", args=[connection.pk])


def _action(client, mapping, **data):
    url = reverse("connections:employee_action", args=[mapping.connection_id, mapping.pk])
    return client.post(url, data)


def _linked(connection, remote_id: str, **person_fields) -> EmployeeMapping:
    person = PersonFactory(managed_by=connection, **person_fields)
    return EmployeeMappingFactory(
        connection=connection, remote_id=remote_id, person=person,
        remote_name=person.full_name, remote_email=person.email, remote_status="Active",
    )


def _conflict(connection, remote_id: str, **fields) -> EmployeeMapping:
    defaults = {
        "remote_name": f"Remote {remote_id}",
        "remote_email": f"{remote_id.lower()}@example.com",
        "remote_status": "Active",
        "message": "2 records in the source share the email.",
    }
    return EmployeeMappingFactory(
        connection=connection, remote_id=remote_id, person=None, state=State.CONFLICT, **{**defaults, **fields}
    )


# -- the list ----------------------------------------------------------------------------


def test_the_employees_tab_lists_the_connections_records(staff, connection):
    ada = _linked(connection, "A1", first_name="Ada", last_name="Lovelace", email="ada@example.com")
    conflict = _conflict(connection, "B2")
    EmployeeMappingFactory(remote_id="OTHER")  # another connection's record

    response = staff.get(_employees_url(connection))

    assert response.status_code == 200
    assert response.context["active_tab"] == "employees"
    assert [m.pk for m in response.context["mappings"]] == [ada.pk, conflict.pk]
    html = response.content.decode()
    assert reverse("people:detail", args=[ada.person_id]) in html
    assert "2 records in the source share the email." in html
    assert "OTHER" not in html


def test_the_employees_tab_says_which_records_have_left_the_source(staff, connection, source):  # noqa: F811
    source.employees = [employee("A1"), employee("B2")]
    run_sync(connection, scope="employees")
    source.employees = [employee("A1")]
    left = run_sync(connection, scope="employees")

    html = staff.get(_employees_url(connection)).content.decode()

    run_url = reverse("connections:run", args=[connection.pk, left.pk])
    assert html.count("Not in the source since") == 1
    assert f'Not in the source since <a href="{run_url}">Sync #{left.pk}</a>' in html


def test_the_employees_tab_searches_remote_and_person_fields(staff, connection):
    _linked(connection, "A1", first_name="Ada", last_name="Lovelace", email="ada@example.com")
    _linked(connection, "B2", first_name="Bob", last_name="Builder", email="bob@example.com")
    _conflict(connection, "C3", remote_name="Carla Conflict", remote_email="carla@hr.example")
    url = _employees_url(connection)

    def found(q):
        return [m.remote_id for m in staff.get(url, {"q": q}).context["mappings"]]

    assert found("ada lovelace") == ["A1"]  # every word, across first and last name
    assert found("BOB@EXAMPLE") == ["B2"]
    assert found("c3") == ["C3"]
    assert found("carla@hr") == ["C3"]
    assert found("nobody") == []
    counts = {s: n for s, _label, n, _selected in staff.get(url, {"q": "@example.com"}).context["filters"]}
    assert counts == {"all": 2, "linked": 2, "conflicts": 0, "ignored": 0, "unmatched": 0, "excluded": 0}


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("all", ["A1", "C3", "I4", "U5", "W6", "X7"]),
        ("linked", ["A1"]),
        ("conflicts", ["C3"]),
        ("ignored", ["I4"]),
        # Not linked and nothing in the way: a person deleted, a record unlinked.
        ("unmatched", ["U5", "W6"]),
        ("excluded", ["X7"]),
    ],
)
def test_the_employees_tab_filters_by_state(staff, connection, slug, expected):
    _linked(connection, "A1")
    _conflict(connection, "C3")
    EmployeeMappingFactory(connection=connection, remote_id="I4", person=None, state=State.IGNORED)
    EmployeeMappingFactory(connection=connection, remote_id="U5", person=None, state=State.LINKED)
    EmployeeMappingFactory(connection=connection, remote_id="W6", person=None, state=State.UNMATCHED)
    EmployeeMappingFactory(connection=connection, remote_id="X7", person=None, state=State.EXCLUDED)

    response = staff.get(_employees_url(connection), {"filter": slug})

    assert [m.remote_id for m in response.context["mappings"]] == expected
    counts = {s: count for s, _label, count, _selected in response.context["filters"]}
    assert counts == {"all": 6, "linked": 1, "conflicts": 1, "ignored": 1, "unmatched": 2, "excluded": 1}


def _bulk_mappings(connection, count: int) -> None:
    people = Person.objects.bulk_create(
        [Person(first_name=f"P{i}", last_name="Bulk", email=f"bulk{i}@example.com") for i in range(count)]
    )
    EmployeeMapping.objects.bulk_create(
        [
            EmployeeMapping(
                connection=connection, remote_id=f"R{i:05}", person=person,
                remote_name=f"P{i} Bulk", remote_email=person.email, remote_status="Active",
            )
            for i, person in enumerate(people)
        ]
    )


def test_the_employees_tab_paginates_50_records_a_page(staff, connection):
    _bulk_mappings(connection, 120)
    url = _employees_url(connection)

    third = staff.get(url, {"page": 3})
    filtered = staff.get(url, {"q": "bulk", "filter": "linked"})

    assert [m.remote_id for m in third.context["mappings"]] == [f"R{i:05}" for i in range(100, 120)]
    assert len(filtered.context["mappings"]) == 50
    assert "q=bulk&amp;filter=linked&amp;page=2" in filtered.content.decode()


def test_the_employees_tab_renders_a_page_of_2000_records_in_a_constant_number_of_queries(
    staff, connection, django_assert_max_num_queries
):
    _bulk_mappings(connection, 2000)
    url = _employees_url(connection)
    staff.get(url)  # warm the session and the content types

    # session, user, connection, the filter counts, the page count, the page's rows
    with django_assert_max_num_queries(6):
        response = staff.get(url, {"page": 7})

    assert len(response.context["mappings"]) == 50
    assert response.content.count(b'name="action" value="link"') == 50


@pytest.mark.parametrize("text", ["\x00", "ada\x00"])
def test_a_search_holding_a_nul_is_ignored_and_every_record_listed(staff, connection, text):
    # PostgreSQL refuses a NUL in a query: the text is dropped as invalid first.
    ada = _linked(connection, "A1", first_name="Ada", last_name="Lovelace", email="ada@example.com")
    conflict = _conflict(connection, "B2")

    response = staff.get(_employees_url(connection), {"q": text})

    assert response.status_code == 200
    assert [m.pk for m in response.context["mappings"]] == [ada.pk, conflict.pk]
    assert response.context["q"] == ""


def test_the_employees_tab_explains_what_to_do_when_there_are_no_records(staff, connection):
    response = staff.get(_employees_url(connection))

    assert response.status_code == 200
    assert b"No employee records yet" in response.content


# -- link ----------------------------------------------------------------------------------------


def test_linking_a_conflict_to_a_person_links_and_manages_them(staff, connection):
    mapping = _conflict(connection, "C1")
    person = PersonFactory(email="carla@example.com")
    before = mapping.updated_at

    response = _action(staff, mapping, action="link", person=str(person.pk))

    assert response.status_code == 302
    assert response["Location"] == _employees_url(connection)
    assert _flashes(response) == [f"Linked Remote C1 to {person}."]
    mapping.refresh_from_db()
    person.refresh_from_db()
    assert (mapping.person, mapping.state, mapping.message) == (person, State.LINKED, "")
    assert mapping.updated_at > before
    assert person.managed_by == connection


def test_the_picker_accepts_an_email_or_the_name_and_email_it_suggests(staff, connection):
    first, second = _conflict(connection, "C1"), _conflict(connection, "C2")
    ada = PersonFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    bob = PersonFactory(email="bob@example.com")

    _action(staff, first, action="link", person="ADA@example.com")
    _action(staff, second, action="link", person="Bob Builder <bob@example.com>")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.person, second.person) == (ada, bob)


def test_relinking_releases_the_previous_person(staff, connection):
    mapping = _linked(connection, "A1")
    old_person = mapping.person
    new_person = PersonFactory()

    _action(staff, mapping, action="link", person=str(new_person.pk))

    mapping.refresh_from_db()
    old_person.refresh_from_db()
    assert mapping.person == new_person
    assert old_person.managed_by is None


def test_a_person_can_be_linked_to_one_record_of_a_connection_only(staff, connection):
    taken = _linked(connection, "A1")
    mapping = _conflict(connection, "C1")

    response = _action(staff, mapping, action="link", person=str(taken.person_id), next=_employees_url(connection) + "?q=C1")

    assert response["Location"] == _employees_url(connection) + "?q=C1"
    assert _flashes(response) == [
        f"{taken.person} is already linked to another record of this connection ({taken.remote_name}). "
        "A person can be linked to one record only: unlink that record first."
    ]
    mapping.refresh_from_db()
    assert (mapping.person, mapping.state) == (None, State.CONFLICT)
    assert EmployeeMapping.objects.filter(person=taken.person).count() == 1


def test_a_person_linked_to_another_connection_is_not_linked_here_too(staff, connection):
    other = ConnectionFactory(name="Personio")
    person = PersonFactory()
    EmployeeMappingFactory(connection=other, remote_id="X", person=person)
    mapping = _conflict(connection, "C1")

    response = _action(staff, mapping, action="link", person=str(person.pk))

    assert _flashes(response) == [f"{person} is already linked to the connection Personio. Unlink them there first."]
    mapping.refresh_from_db()
    assert (mapping.person, mapping.state) == (None, State.CONFLICT)


def test_a_person_managed_by_another_connection_is_not_taken_over(staff, connection):
    other = ConnectionFactory(name="Personio")
    person = PersonFactory(managed_by=other)
    mapping = _conflict(connection, "C1")

    response = _action(staff, mapping, action="link", person=str(person.pk))

    assert _flashes(response) == [f"{person} is managed by the connection Personio. Unlink them there first."]
    mapping.refresh_from_db()
    person.refresh_from_db()
    assert mapping.person is None and person.managed_by == other


@pytest.mark.parametrize(("value", "error"), [("", "Choose the person"), ("999999", "No person has the id or email '999999'.")])
def test_linking_needs_a_person_that_exists(staff, connection, value, error):
    mapping = _conflict(connection, "C1")

    response = _action(staff, mapping, action="link", person=value)

    assert error in _flashes(response)[0]
    mapping.refresh_from_db()
    assert mapping.person is None


# -- unlink ---------------------------------------------------------------------------------------


def test_unlink_asks_for_confirmation_first(staff, connection):
    mapping = _linked(connection, "A1")

    response = _action(staff, mapping, action="unlink")

    assert response.status_code == 200
    assert f"Unlink record A1 from {mapping.person}?".encode() in response.content
    mapping.refresh_from_db()
    assert mapping.person is not None


def test_unlinking_detaches_the_record_and_releases_the_person(staff, connection):
    mapping = _linked(connection, "A1")
    person = mapping.person

    response = _action(staff, mapping, action="unlink", confirm="on")

    assert response.status_code == 302
    assert _flashes(response)[0].startswith("Unlinked ")
    mapping.refresh_from_db()
    person.refresh_from_db()
    assert (mapping.person, mapping.state) == (None, State.UNMATCHED)
    assert mapping.message == (
        f"Ready to link: the next sync links this record to {person}, who has its email. "
        "Link it now to do it yourself."
    )
    assert person.managed_by is None
    assert Person.objects.filter(pk=person.pk).exists()


def test_after_unlinking_the_next_sync_matches_the_record_again_by_email(staff, connection, source):
    source.employees = [employee("A1"), employee("B2")]
    run_sync(connection, scope="employees")
    mapping = EmployeeMapping.objects.get(remote_id="A1")
    person = mapping.person
    _action(staff, mapping, action="unlink", confirm="on")

    run = run_sync(connection, scope="employees")

    assert run.counts["linked"] == 1 and run.counts["deactivated"] == 0
    mapping.refresh_from_db()
    person.refresh_from_db()
    assert (mapping.person, mapping.state, mapping.message) == (person, State.LINKED, "")
    assert person.managed_by == connection
    assert Person.objects.count() == 2


def test_an_unlinked_person_is_not_deactivated_by_the_next_sync(staff, connection, source):
    source.employees = [employee("A1")]
    run_sync(connection, scope="employees")
    mapping = EmployeeMapping.objects.get(remote_id="A1")
    person = mapping.person
    _action(staff, mapping, action="unlink", confirm="on")
    source.employees = []

    run_sync(connection, scope="employees")

    person.refresh_from_db()
    assert person.status == Person.Status.ACTIVE


# -- ignore ---------------------------------------------------------------------------------------


def test_ignoring_a_record_releases_its_person_and_keeps_it_out_of_syncs(staff, connection, source):
    source.employees = [employee("A1")]
    run_sync(connection, scope="employees")
    mapping = EmployeeMapping.objects.get(remote_id="A1")
    person = mapping.person

    response = _action(staff, mapping, action="ignore", ignored="1")

    assert _flashes(response)[0].startswith("Ignored ")
    mapping.refresh_from_db()
    person.refresh_from_db()
    assert (mapping.state, mapping.person, person.managed_by) == (State.IGNORED, None, None)
    source.employees = [employee("A1", first_name="Changed")]
    run = run_sync(connection, scope="employees")
    person.refresh_from_db()
    assert run.counts["unchanged"] == 1
    assert person.first_name == "FirstA1"


def test_stopping_ignoring_a_record_lets_the_next_sync_match_it(staff, connection, source):
    person = PersonFactory(email="a1@example.com")
    mapping = EmployeeMappingFactory(connection=connection, remote_id="A1", person=None, state=State.IGNORED)
    source.employees = [employee("A1")]

    response = _action(staff, mapping, action="ignore", ignored="0")
    run_sync(connection, scope="employees")

    assert _flashes(response)[0].startswith("Stopped ignoring ")
    mapping.refresh_from_db()
    assert (mapping.state, mapping.person) == (State.LINKED, person)


# -- create -----------------------------------------------------------------------------------------


def test_creating_a_person_from_a_record_uses_its_snapshot(staff, connection):
    connection.status_map = {**connection.status_map, "Parental Leave": "on_leave"}
    connection.save()
    mapping = _conflict(connection, "C1", remote_name="Grace  Brewster Hopper", remote_email=" Grace@Example.com ",
                        remote_status="parental leave")

    response = _action(staff, mapping, action="create")

    person = Person.objects.get(email="grace@example.com")
    assert _flashes(response) == [f"Created {person} from record C1 and linked them."]
    assert (person.first_name, person.last_name, person.status) == ("Grace", "Brewster Hopper", "on_leave")
    assert person.managed_by == connection
    mapping.refresh_from_db()
    assert (mapping.person, mapping.state, mapping.message) == (person, State.LINKED, "")


def test_a_person_is_not_created_with_an_email_somebody_has(staff, connection):
    owner = PersonFactory(email="taken@example.com")
    mapping = _conflict(connection, "C1", remote_email="TAKEN@example.com")

    response = _action(staff, mapping, action="create")

    assert _flashes(response) == [f"{owner} already has the email taken@example.com: link the record to them instead."]
    assert Person.objects.count() == 1
    mapping.refresh_from_db()
    assert mapping.person is None


def test_a_person_is_not_created_with_an_unmapped_status(staff, connection):
    mapping = _conflict(connection, "C1", remote_status="Sabbatical")

    response = _action(staff, mapping, action="create")

    assert "Status 'Sabbatical' is not in the status map." in _flashes(response)[0]
    assert not Person.objects.exists()


def test_a_linked_record_does_not_create_a_second_person(staff, connection):
    mapping = _linked(connection, "A1")

    response = _action(staff, mapping, action="create")

    assert "already linked" in _flashes(response)[0]
    assert Person.objects.count() == 1


# -- the action endpoint ------------------------------------------------------------------------------


def test_the_action_endpoint_refuses_get(staff, connection):
    mapping = _linked(connection, "A1")

    response = staff.get(reverse("connections:employee_action", args=[connection.pk, mapping.pk]))

    assert response.status_code == 405


def test_a_record_of_another_connection_is_not_found(staff, connection):
    foreign = EmployeeMappingFactory(remote_id="X")

    response = staff.post(reverse("connections:employee_action", args=[connection.pk, foreign.pk]), {"action": "ignore"})

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == State.LINKED


def test_an_action_never_redirects_off_the_employees_tab(staff, connection):
    mapping = _linked(connection, "A1")

    response = _action(staff, mapping, action="ignore", next="https://evil.example/")

    assert response["Location"] == _employees_url(connection)


# -- depots ---------------------------------------------------------------------------------------------


def test_the_depots_tab_lists_every_location_with_a_labelled_picker(staff, connection):
    leeds = DepotFactory(name="Leeds")
    mapped = DepotMappingFactory(connection=connection, remote_name="Leeds North", depot=leeds)
    DepotMappingFactory(connection=connection, remote_name="York")
    DepotMappingFactory(remote_name="Elsewhere")  # another connection's

    response = staff.get(reverse("connections:depots", args=[connection.pk]))

    assert response.status_code == 200
    assert response.context["active_tab"] == "depots"
    html = response.content.decode()
    assert "Depot for Leeds North" in html and "New depot for York" in html
    assert "Elsewhere" not in html
    assert f'<option value="{leeds.pk}" selected>Leeds</option>' in html
    assert "— not mapped —" in html
    assert "Save depots" in html
    assert response.context["unmapped"] == 1
    assert mapped.pk in [m.pk for m, _d, _n in response.context["rows"]]


def test_saving_the_depots_maps_existing_and_new_depots_in_one_go(staff, connection):
    leeds = DepotFactory(name="Leeds")
    york_depot = DepotFactory(name="York Depot")
    a = DepotMappingFactory(connection=connection, remote_name="Leeds North")
    b = DepotMappingFactory(connection=connection, remote_name="Hull")
    c = DepotMappingFactory(connection=connection, remote_name="York", depot=leeds)
    d = DepotMappingFactory(connection=connection, remote_name="Nowhere", depot=leeds)
    untouched = DepotMappingFactory(connection=connection, remote_name="Scarborough", depot=leeds)
    before = DepotMapping.objects.get(pk=untouched.pk).updated_at

    response = staff.post(
        reverse("connections:depots", args=[connection.pk]),
        {
            f"depot_{a.pk}": str(leeds.pk), f"new_{a.pk}": "",
            f"depot_{b.pk}": "", f"new_{b.pk}": "  Hull   Depot ",
            f"depot_{c.pk}": str(leeds.pk), f"new_{c.pk}": "york depot",  # the new name wins; matches by case
            f"depot_{d.pk}": "", f"new_{d.pk}": "",
            f"depot_{untouched.pk}": str(leeds.pk), f"new_{untouched.pk}": "",
        },
    )

    assert response.status_code == 302
    assert _flashes(response) == [
        "Saved: 4 locations mapped. 1 not mapped yet. "
        "“york depot” is the name of an existing depot, so York Depot was used. New depot: Hull Depot."
    ]
    hull = Depot.objects.get(name="Hull Depot")
    saved = {m.pk: m.depot_id for m in DepotMapping.objects.all()}
    assert saved == {a.pk: leeds.pk, b.pk: hull.pk, c.pk: york_depot.pk, d.pk: None, untouched.pk: leeds.pk}
    assert Depot.objects.count() == 3
    assert DepotMapping.objects.get(pk=untouched.pk).updated_at == before


def test_saving_with_a_depot_that_no_longer_exists_saves_nothing(staff, connection):
    gone = DepotFactory(name="Gone")
    mapping = DepotMappingFactory(connection=connection)
    gone_pk = gone.pk
    gone.delete()

    response = staff.post(reverse("connections:depots", args=[connection.pk]), {f"depot_{mapping.pk}": str(gone_pk)})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    mapping.refresh_from_db()
    assert mapping.depot is None


def test_the_depot_service_ignores_other_connections_and_rejects_unknown_depots(connection):
    foreign = DepotMappingFactory()
    mine = DepotMappingFactory(connection=connection)
    depot = DepotFactory()

    saved = services.depot_mappings_save(connection=connection, depot_ids={foreign.pk: depot.pk, mine.pk: depot.pk})

    foreign.refresh_from_db()
    assert saved.mapped == 1 and foreign.depot is None
    with pytest.raises(ValidationError):
        services.depot_mappings_save(connection=connection, depot_ids={mine.pk: 999999})


def test_the_depots_tab_explains_what_to_do_without_locations(staff, connection):
    response = staff.get(reverse("connections:depots", args=[connection.pk]))

    assert response.status_code == 200
    assert b"No locations yet. Run Sync Locations on the Overview tab." in response.content


# -- access ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["employees", "employee_action", "depots"])
def test_the_mapping_pages_are_for_staff_only(client, connection, name):
    mapping = _linked(connection, "A1")
    args = [connection.pk, mapping.pk] if name == "employee_action" else [connection.pk]
    url = reverse(f"connections:{name}", args=args)
    method = client.post if name == "employee_action" else client.get

    anonymous = method(url)
    client.force_login(get_user_model().objects.create_user("clerk"))
    non_staff = method(url)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert non_staff.status_code == 403
    assert Connection.objects.count() == 1
