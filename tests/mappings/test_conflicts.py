"""Conflicts on the Employees tab: records that collide grouped and compared
side by side, settled in one action, and their messages told again at once;
and depots mapped by name said so."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connectors.base import RemoteLocation
from hrsync.people.models import Depot, Person
from mappings import selectors
from mappings.models import DepotMapping, EmployeeMapping
from tests.connections.conftest import connection, source  # noqa: F401  (the static test connector)
from tests.connections.helpers import run_sync
from tests.connections.static_connector import employee
from tests.factories import ConnectionFactory, DepotFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db
State = EmployeeMapping.State


def _conflicts_url(connection) -> str:  # noqa: F811
    return reverse("connections:employees", args=[connection.pk]) + "?filter=conflicts"


def _resolve(client, connection, mappings, *, keep, others="ignore", **extra):  # noqa: F811
    return client.post(
        reverse("connections:conflict_resolve", args=[connection.pk]),
        {
            "members": ",".join(str(m.pk) for m in mappings),
            "keep": "" if keep is None else str(keep.pk),
            "others": others,
            **extra,
        },
    )


def _flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _pair(source, connection, **second):  # noqa: F811
    """Ann keyed in twice (a rehire's earlier spell on file), synced once."""
    source.employees = [
        employee("A1", first_name="Ann", last_name="Lee", email="ann@example.com", job_title="Driver",
                 hire_date=dt.date(2020, 5, 1)),
        employee("A2", **{"first_name": "Ann", "last_name": "Lee", "email": " ANN@example.com",
                          "job_title": "Picker", "hire_date": dt.date(2015, 1, 1), **second}),
    ]
    run_sync(connection, scope="employees")
    return EmployeeMapping.objects.get(remote_id="A1"), EmployeeMapping.objects.get(remote_id="A2")


# -- grouping ----------------------------------------------------------------------------------


def test_two_records_sharing_an_email_are_one_group_compared_field_by_field(source, connection):  # noqa: F811
    first, second = _pair(source, connection)

    [group] = selectors.conflict_group_list(connection=connection)

    assert group.key == "ann@example.com" and group.person is None
    assert [m.pk for m in group.mappings] == [first.pk, second.pk]
    assert group.title == "2 records share the email ann@example.com"
    rows = {row.label: row for row in group.rows}
    assert [value for value, _differs in rows["Job title"].cells] == ["Driver", "Picker"]
    assert rows["Job title"].differs and rows["Hire date"].differs
    assert not rows["First name"].differs
    # Emails are compared as they are matched: trimmed, ignoring case.
    assert not rows["Email"].differs
    assert [m.pk for m in group.keepable] == [first.pk, second.pk]


def test_a_record_whose_email_belongs_to_a_person_of_another_connection_is_grouped_with_them(
    source, connection  # noqa: F811
):
    personio = ConnectionFactory(name="Personio")
    ben = PersonFactory(first_name="Ben", last_name="Ode", email="ben@example.com", managed_by=personio,
                        job_title="Manager")
    EmployeeMappingFactory(connection=personio, remote_id="P9", person=ben, state=State.LINKED)
    source.employees = [employee("B1", first_name="Ben", last_name="Ode", email="ben@example.com",
                                 job_title="Driver")]
    run_sync(connection, scope="employees")

    [group] = selectors.conflict_group_list(connection=connection)

    assert group.person == ben
    assert [m.remote_id for m in group.mappings] == ["B1"]
    assert group.columns[-1].person == ben and group.columns[-1].note == "Linked to the connection Personio"
    assert "Personio" in group.person_taken and group.keepable == []
    job = next(row for row in group.rows if row.key == "job_title")
    assert [value for value, _differs in job.cells] == ["Driver", "Manager"] and job.differs


def test_records_sharing_a_remote_id_are_one_group_with_a_column_per_record(source, connection):  # noqa: F811
    source.employees = [
        employee("D1", first_name="Dee", email="dee@example.com"),
        employee("D1", first_name="Dana", email="dana@example.com"),
    ]
    run_sync(connection, scope="employees")

    [group] = selectors.conflict_group_list(connection=connection)

    assert group.repeated_id and group.keepable == []
    assert group.title == "2 records with the id D1"
    first_names = next(row for row in group.rows if row.key == "first_name")
    assert [value for value, _differs in first_names.cells] == ["Dee", "Dana"]
    assert EmployeeMapping.objects.get(remote_id="D1").message.startswith("The id D1 appears 2 times in the source")


def test_the_conflicts_page_shows_the_records_side_by_side_with_labels(staff, source, connection):  # noqa: F811
    _pair(source, connection)

    html = staff.get(_conflicts_url(connection)).content.decode()

    assert "2 records share the email ann@example.com" in html
    assert html.count('class="table compare-table"') == 1
    assert '<th scope="row">Job title<span class="visually-hidden"> (the values differ)</span></th>' in html
    assert '<td class="is-different">Picker</td>' in html or '<td class="is-different">Driver</td>' in html
    for key in ("job_title", "first_name", "hire_date", "remote_id"):
        assert f">{key}<" not in html and f" {key} " not in html
    assert ">None<" not in html


# -- resolving in one action -----------------------------------------------------------------


def test_one_post_links_one_record_to_the_person_and_ignores_the_other(staff, source, connection):  # noqa: F811
    ann = PersonFactory(first_name="Ann", last_name="Lee", email="ann@example.com")
    first, second = _pair(source, connection)

    response = _resolve(staff, connection, [first, second], keep=second)

    assert response.status_code == 302
    assert _flashes(response) == [
        "Linked Ann Lee (id A2) to Ann Lee. Ignored Ann Lee (id A1): syncs leave it out."
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    ann.refresh_from_db()
    assert (second.state, second.person_id, second.message) == (State.LINKED, ann.pk, "")
    assert (first.state, first.person_id) == (State.IGNORED, None)
    assert ann.managed_by_id == connection.pk
    # The next sync agrees: the ignored record no longer makes the other a conflict.
    run = run_sync(connection, scope="employees")
    first.refresh_from_db()
    ann.refresh_from_db()
    assert run.counts["conflicts"] == 0
    assert first.state == State.IGNORED and ann.job_title == "Picker"


def test_one_post_links_one_record_and_creates_a_person_from_the_other(staff, source, connection):  # noqa: F811
    ann = PersonFactory(first_name="Ann", last_name="Lee", email="ann@example.com")
    first, second = _pair(source, connection, first_name="Annie")

    response = _resolve(staff, connection, [first, second], keep=first, others="create")

    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.person_id) == (State.LINKED, ann.pk)
    assert second.state == State.LINKED and second.person_id not in (None, ann.pk)
    created = Person.objects.get(pk=second.person_id)
    # The record's own first and last name; no email, for that one is Ann's.
    assert (created.first_name, created.last_name, created.email) == ("Annie", "Lee", "")
    assert created.managed_by_id == connection.pk
    assert "Annie Lee has no email yet" in _flashes(response)[0]


def test_one_post_creates_the_kept_record_when_nobody_has_its_email(staff, source, connection):  # noqa: F811
    first, second = _pair(source, connection)

    _resolve(staff, connection, [first, second], keep=first)

    first.refresh_from_db()
    person = Person.objects.get(pk=first.person_id)
    assert (person.first_name, person.email) == ("Ann", "ann@example.com")
    assert EmployeeMapping.objects.get(pk=second.pk).state == State.IGNORED


def test_a_group_that_fails_half_way_changes_nothing(staff, source, connection):  # noqa: F811
    ann = PersonFactory(first_name="Ann", last_name="Lee", email="ann@example.com")
    first, second = _pair(source, connection)
    # The status map lost the other record's status since the sync: it cannot be created.
    EmployeeMapping.objects.filter(pk=second.pk).update(remote_status="Seasonal")

    response = _resolve(staff, connection, [first, second], keep=first, others="create")

    assert "Status 'Seasonal' is not in the status map" in _flashes(response)[0]
    first.refresh_from_db()
    ann.refresh_from_db()
    assert (first.state, first.person_id) == (State.CONFLICT, None)
    assert ann.managed_by_id is None
    assert Person.objects.count() == 1


def test_records_of_another_connection_are_refused(staff, source, connection):  # noqa: F811
    first, second = _pair(source, connection)
    foreign = EmployeeMappingFactory(person=None, state=State.CONFLICT)

    response = _resolve(staff, connection, [first, second, foreign], keep=first)

    assert "changed since the page was shown" in _flashes(response)[0]
    assert set(EmployeeMapping.objects.filter(connection=connection).values_list("state", flat=True)) == {
        State.CONFLICT
    }


def test_ignoring_a_linked_record_of_a_group_asks_first(staff, source, connection):  # noqa: F811
    source.employees = [employee("A1", email="ann@example.com")]
    run_sync(connection, scope="employees")
    linked = EmployeeMapping.objects.get(remote_id="A1")
    newcomer = EmployeeMappingFactory(connection=connection, remote_id="A2", person=None, state=State.CONFLICT,
                                      remote_name="Ann Again", remote_email="ann@example.com",
                                      message="2 records in the source share the email ann@example.com.")

    response = _resolve(staff, connection, [linked, newcomer], keep=newcomer)

    assert response.status_code == 200
    assert b"Ignoring it unlinks them" in response.content
    assert EmployeeMapping.objects.get(pk=linked.pk).state == State.LINKED

    response = _resolve(staff, connection, [linked, newcomer], keep=newcomer, confirm="on")

    assert response.status_code == 302
    assert EmployeeMapping.objects.get(pk=linked.pk).state == State.IGNORED
    assert EmployeeMapping.objects.get(pk=newcomer.pk).person_id == linked.person_id


# -- messages told again at once -----------------------------------------------------------------


def test_after_ignoring_one_of_a_pair_the_other_no_longer_says_two_records_share(staff, source, connection):  # noqa: F811
    first, second = _pair(source, connection)
    assert second.message == "2 records in the source share the email ann@example.com."

    staff.post(reverse("connections:employee_action", args=[connection.pk, first.pk]),
               {"action": "ignore", "ignored": "1"})

    second.refresh_from_db()
    assert second.state == State.UNMATCHED
    assert "share" not in second.message
    assert second.message.startswith("Ready to create: nobody has this email, so the next sync creates")
    html = staff.get(reverse("connections:employees", args=[connection.pk]) + "?filter=unmatched").content.decode()
    assert "Ready to create" in html
    # …and the next sync does what the message said.
    run_sync(connection, scope="employees")
    second.refresh_from_db()
    assert second.state == State.LINKED and second.person.email == "ann@example.com"


def test_after_linking_one_of_a_pair_the_other_says_who_has_the_person_now(staff, source, connection):  # noqa: F811
    ann = PersonFactory(first_name="Ann", last_name="Lee", email="ann@example.com")
    first, second = _pair(source, connection)

    staff.post(reverse("connections:employee_action", args=[connection.pk, first.pk]),
               {"action": "ignore", "ignored": "1"})
    second.refresh_from_db()
    assert second.message.startswith("Ready to link: the next sync links this record to Ann Lee")

    staff.post(reverse("connections:employee_action", args=[connection.pk, first.pk]),
               {"action": "ignore", "ignored": "0"})
    second.refresh_from_db()
    assert (second.state, second.message) == (State.CONFLICT, "2 records in the source share the email ann@example.com.")
    assert ann.pk


# -- the page ---------------------------------------------------------------------------------


def _groups(connection, count: int) -> None:  # noqa: F811
    people = Person.objects.bulk_create(
        [Person(first_name=f"P{n}", last_name="Taken", email=f"g{n}@example.com") for n in range(0, count, 2)]
    )
    assert people
    EmployeeMapping.objects.bulk_create(
        EmployeeMapping(connection=connection, remote_id=f"R{n}-{copy}", state=State.CONFLICT,
                        remote_name=f"Record {n}", remote_email=f"g{n}@example.com", remote_status="Active",
                        message="2 records in the source share the email.",
                        remote_records=[{"first_name": f"R{n}", "job_title": f"Job {copy}", "status": "Active"}])
        for n in range(count)
        for copy in (1, 2)
    )


def test_the_conflicts_page_reads_the_same_number_of_queries_for_5_and_50_groups(staff, source, connection):  # noqa: F811
    def queries(count: int) -> int:
        EmployeeMapping.objects.all().delete()
        Person.objects.all().delete()
        _groups(connection, count)
        with CaptureQueriesContext(db) as captured:
            response = staff.get(_conflicts_url(connection))
        assert response.status_code == 200
        assert len(response.context["groups"]) == min(count, 20)
        return len(captured)

    assert queries(5) == queries(50)


def test_the_employees_tab_explains_conflicts_and_unmatched(staff, connection):  # noqa: F811
    EmployeeMappingFactory(connection=connection)

    html = staff.get(reverse("connections:employees", args=[connection.pk])).content.decode()

    assert "Conflicts are records the sync left alone because they claim the same person" in html
    assert "Unmatched records are not linked to anybody yet" in html
    assert "?filter=conflicts" in html and "?filter=unmatched" in html


# -- depots mapped by name -----------------------------------------------------------------------


def test_a_location_mapped_to_a_depot_by_its_name_is_said_on_the_depots_tab_and_in_the_run(
    staff, source, connection  # noqa: F811
):
    leeds = DepotFactory(name="Leeds")
    york = DepotFactory(name="York")
    source.locations = [RemoteLocation(remote_id="L1", name="leeds"), RemoteLocation(remote_id="L2", name="Hull")]

    run = run_sync(connection, scope="locations")

    mapping = DepotMapping.objects.get(remote_location_id="L1")
    assert (mapping.depot_id, mapping.matched_by_name) == (leeds.pk, True)
    assert DepotMapping.objects.get(remote_location_id="L2").matched_by_name is False
    run_html = staff.get(reverse("connections:run", args=[connection.pk, run.pk])).content.decode()
    assert "Mapped to the depot Leeds because the names match" in run_html
    depots_url = reverse("connections:depots", args=[connection.pk])
    assert staff.get(depots_url).content.decode().count("Mapped automatically: a depot has the same name") == 1

    # Once an admin picks the depot, it is their choice, not the name's.
    other = DepotMapping.objects.get(remote_location_id="L2")
    staff.post(depots_url, {f"depot_{mapping.pk}": str(york.pk), f"depot_{other.pk}": ""})
    mapping.refresh_from_db()
    assert (mapping.depot_id, mapping.matched_by_name) == (york.pk, False)
    assert "Mapped automatically" not in staff.get(depots_url).content.decode()
    assert Depot.objects.count() == 2
