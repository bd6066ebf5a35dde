"""DESIGN §5, rule by rule, asserted on the rows a real run saves."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User

from connections.models import SyncRun
from connectors.base import RemoteLocation
from hrsync.people.models import Person
from mappings.models import DepotMapping, EmployeeMapping
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

Status = Person.Status


def change_for(run: SyncRun, remote_id: str) -> dict:
    return next(c for c in run.changes if c["remote_id"] == remote_id)


def test_a_mapped_record_updates_its_person(connection, source):
    person = PersonFactory(first_name="Old", email="someone@example.com")
    EmployeeMappingFactory(connection=connection, remote_id="7", person=person)
    source.employees = [employee("7", first_name="New", email="someone@example.com")]

    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert person.first_name == "New"
    assert person.managed_by == connection
    assert change_for(run, "7")["action"] == "update"
    assert change_for(run, "7")["fields"]["first_name"] == ["Old", "New"]
    assert run.counts["updated"] == 1


def test_an_unmapped_record_links_to_the_person_with_its_email_ignoring_case_and_spaces(connection, source):
    person = PersonFactory(email="Grace.Hopper@Example.com")
    source.employees = [employee("9", email="  grace.hopper@EXAMPLE.com ")]

    run = run_sync(connection, scope="employees")

    mapping = EmployeeMapping.objects.get(connection=connection, remote_id="9")
    assert mapping.person_id == person.pk and mapping.state == "linked"
    assert Person.objects.count() == 1
    assert run.counts["linked"] == 1
    assert change_for(run, "9")["action"] == "link"


def test_a_record_matching_nobody_creates_a_person_with_every_provided_field(connection, source):
    source.employees = [
        employee(
            "1",
            email="ada@example.com",
            first_name="Ada",
            last_name="Lovelace",
            date_of_birth=dt.date(1990, 12, 10),
            gender="female",
            employee_reference="E001",
            mobile_phone="0400 000 000",
            job_title="Engineer",
            hire_date=dt.date(2020, 1, 6),
            custom={"shirt": "M"},
        )
    ]

    run = run_sync(connection, scope="employees")

    person = Person.objects.get()
    assert (person.first_name, person.last_name, person.email) == ("Ada", "Lovelace", "ada@example.com")
    assert person.date_of_birth == dt.date(1990, 12, 10)
    assert person.employee_reference == "E001" and person.job_title == "Engineer"
    assert person.custom_fields == {"shirt": "M"}
    assert person.status == Status.ACTIVE and person.managed_by == connection
    assert EmployeeMapping.objects.get(remote_id="1").person == person
    assert run.counts["created"] == 1


def test_records_sharing_an_email_are_conflicts_and_the_rest_of_the_run_goes_on(connection, source):
    source.employees = [
        employee("1", email="dup@example.com"),
        employee("2", email="DUP@example.com "),
        employee("3"),
    ]

    run = run_sync(connection, scope="employees")

    assert run.status == SyncRun.Status.COMPLETED_WITH_CONFLICTS
    assert run.get_status_display() == "Completed with conflicts"
    assert run.counts["conflicts"] == 2 and run.counts["created"] == 1 and run.counts["errors"] == 0
    assert list(Person.objects.values_list("email", flat=True)) == ["3@example.com"]
    conflicts = EmployeeMapping.objects.filter(state="conflict").order_by("remote_id")
    assert [m.remote_id for m in conflicts] == ["1", "2"]
    assert all(m.person is None and "share the email" in m.message for m in conflicts)


def test_a_duplicated_remote_id_is_a_conflict(connection, source):
    source.employees = [employee("1", email="a@example.com"), employee("1", email="b@example.com")]

    run = run_sync(connection, scope="employees")

    assert run.counts["conflicts"] == 2
    assert Person.objects.count() == 0


def test_an_email_of_a_person_linked_to_another_record_is_a_conflict(connection, source):
    person = PersonFactory(email="taken@example.com")
    EmployeeMappingFactory(connection=connection, remote_id="OLD", person=person)
    source.employees = [employee("OLD", email="taken@example.com"), employee("NEW", email="taken@example.com")]

    run = run_sync(connection, scope="employees")

    # Both records carry the same email, so both are conflicts; nobody is
    # created and the existing link stays.
    assert run.counts["conflicts"] == 2
    assert EmployeeMapping.objects.get(remote_id="OLD").person == person
    assert Person.objects.count() == 1


def test_an_email_of_a_person_managed_by_another_connection_is_a_conflict(connection, source):
    other = ConnectionFactory(name="Other HR")
    PersonFactory(email="shared@example.com", managed_by=other)
    source.employees = [employee("5", email="shared@example.com"), employee("6")]

    run = run_sync(connection, scope="employees")

    mapping = EmployeeMapping.objects.get(remote_id="5")
    assert mapping.state == "conflict" and "another connection" in mapping.message
    assert run.counts["conflicts"] == 1 and run.counts["created"] == 1


def test_a_new_email_that_belongs_to_someone_else_is_a_conflict_not_a_crash(connection, source):
    mine = PersonFactory(email="mine@example.com")
    PersonFactory(email="yours@example.com")
    EmployeeMappingFactory(connection=connection, remote_id="1", person=mine)
    source.employees = [employee("1", email="yours@example.com")]

    run = run_sync(connection, scope="employees")

    mine.refresh_from_db()
    assert mine.email == "mine@example.com"
    assert run.counts["conflicts"] == 1
    # The existing link is kept while the conflict waits.
    assert EmployeeMapping.objects.get(remote_id="1").state == "linked"


def test_vendor_statuses_go_through_the_status_map_case_insensitively(connection, source):
    source.employees = [employee("1", status="on leave"), employee("2", status="Onboarding")]

    run_sync(connection, scope="employees")

    assert dict(Person.objects.values_list("email", "status")) == {
        "1@example.com": Status.ON_LEAVE,
        "2@example.com": Status.ONBOARDING,
    }


def test_an_unmapped_status_is_a_row_error_not_a_guess(connection, source):
    source.employees = [employee("1", status="Retired"), employee("2")]

    run = run_sync(connection, scope="employees")

    change = change_for(run, "1")
    assert change["action"] == "error"
    assert "Status 'Retired' is not in the status map" in change["message"]
    assert run.counts["errors"] == 1 and run.counts["created"] == 1
    assert run.status == SyncRun.Status.COMPLETED_WITH_ERRORS
    assert not Person.objects.filter(email="1@example.com").exists()


def test_a_record_with_problems_is_a_row_error_while_the_rest_sync(connection, source):
    broken = employee("", email="nobody@example.com")
    bad_date = employee("2", problems=["date_of_birth '31/02/1990' is not a date (YYYY-MM-DD)."])
    source.employees = [broken, bad_date, employee("3")]

    run = run_sync(connection, scope="employees")

    assert run.counts["errors"] == 2 and run.counts["created"] == 1
    assert "31/02/1990" in change_for(run, "2")["message"]
    assert list(Person.objects.values_list("email", flat=True)) == ["3@example.com"]


def test_a_person_missing_from_a_full_snapshot_is_deactivated_never_deleted(connection, source):
    user = User.objects.create_user("leaver@example.com")
    leaver = PersonFactory(email="leaver@example.com", user=user)
    EmployeeMappingFactory(connection=connection, remote_id="L", person=leaver)
    source.employees = [employee("1")]

    run = run_sync(connection, scope="employees")

    leaver.refresh_from_db()
    user.refresh_from_db()
    assert leaver.status == Status.INACTIVE
    assert user.is_active is False
    assert run.counts["deactivated"] == 1
    assert change_for(run, "L")["fields"]["status"] == ["active", "inactive"]


def test_a_status_that_maps_to_terminated_deactivates_and_reappearing_reactivates(connection, source):
    user = User.objects.create_user("p@example.com")
    person = PersonFactory(email="p@example.com", user=user)
    EmployeeMappingFactory(connection=connection, remote_id="P", person=person)

    source.employees = [employee("P", email="p@example.com", status="Terminated")]
    first = run_sync(connection, scope="employees")
    person.refresh_from_db()
    user.refresh_from_db()
    assert first.counts["deactivated"] == 1
    assert person.status == Status.TERMINATED and not user.is_active

    source.employees = [employee("P", email="p@example.com", status="Active")]
    second = run_sync(connection, scope="employees")
    person.refresh_from_db()
    user.refresh_from_db()
    assert second.counts["reactivated"] == 1
    assert person.status == Status.ACTIVE and user.is_active


def test_a_protected_person_is_never_deactivated(connection, source):
    protected = PersonFactory(email="boss@example.com", is_protected=True)
    EmployeeMappingFactory(connection=connection, remote_id="B", person=protected)
    other = PersonFactory(email="x@example.com", is_protected=True)
    EmployeeMappingFactory(connection=connection, remote_id="X", person=other)
    source.employees = [employee("B", email="boss@example.com", status="Terminated")]

    run = run_sync(connection, scope="employees")

    protected.refresh_from_db()
    other.refresh_from_db()
    assert protected.status == Status.ACTIVE and other.status == Status.ACTIVE
    assert run.counts["deactivated"] == 0
    assert run.counts["warnings"] == 2
    assert "protected" in change_for(run, "X")["warnings"][0]


def test_locations_map_to_depots_and_an_unmapped_location_leaves_the_depot_with_a_warning(connection, source):
    leeds = DepotFactory(name="Leeds")
    old_depot = DepotFactory(name="Old")
    DepotMappingFactory(connection=connection, remote_location_id="LDS", depot=leeds)
    DepotMappingFactory(connection=connection, remote_location_id="BRS", depot=None, remote_name="Bristol")
    someone = PersonFactory(email="2@example.com", depot=old_depot)
    EmployeeMappingFactory(connection=connection, remote_id="2", person=someone)
    source.employees = [employee("1", location_id="LDS"), employee("2", location_id="BRS")]

    run = run_sync(connection, scope="employees")

    assert Person.objects.get(email="1@example.com").depot == leeds
    someone.refresh_from_db()
    assert someone.depot == old_depot
    assert "Location Bristol (BRS) is not mapped to a depot" in change_for(run, "2")["warnings"][0]
    assert run.counts["warnings"] == 1


def test_an_unmapped_location_without_a_name_of_its_own_is_named_by_its_id_once(connection, source):
    DepotMappingFactory(connection=connection, remote_location_id="L7", depot=None, remote_name="L7")
    source.employees = [employee("1", location_id="L7"), employee("2", location_id="NEW")]

    run = run_sync(connection, scope="employees")

    assert change_for(run, "1")["warnings"] == ["Location 'L7' is not mapped to a depot; the depot was left unchanged."]
    assert change_for(run, "2")["warnings"] == ["Location 'NEW' is not mapped to a depot; the depot was left unchanged."]


def test_a_manager_who_is_not_synced_yet_is_named_when_their_record_is_known(connection, source):
    EmployeeMappingFactory(connection=connection, remote_id="M", person=None, state="ignored", remote_name="Mia Manager")
    source.employees = [employee("1", manager_remote_id="M"), employee("2", manager_remote_id="Z9")]

    run = run_sync(connection, scope="employees")

    assert change_for(run, "1")["warnings"] == [
        "Manager Mia Manager (M) is not a synced person yet; the manager was left unchanged."
    ]
    assert change_for(run, "2")["warnings"] == [
        "Manager 'Z9' is not a synced person yet; the manager was left unchanged."
    ]
    assert Person.objects.get(email="1@example.com").manager is None


def test_sync_locations_records_remote_locations_and_maps_same_named_depots(connection, source):
    leeds = DepotFactory(name="Leeds Depot")
    source.locations = [RemoteLocation("L1", "Leeds depot"), RemoteLocation("L2", "Perth Depot")]

    run = run_sync(connection, scope="locations")

    mappings = {m.remote_location_id: m for m in connection.depot_mappings.all()}
    assert mappings["L1"].depot == leeds
    assert mappings["L2"].depot is None and mappings["L2"].remote_name == "Perth Depot"
    assert run.counts["locations"] == {"create": 2, "update": 0, "unchanged": 0}
    assert Person.objects.count() == 0


def test_an_unchanged_record_is_detected_and_not_written(connection, source):
    source.employees = [employee("1"), employee("2")]
    run_sync(connection, scope="employees")
    before = dict(Person.objects.values_list("email", "updated_at"))

    run = run_sync(connection, scope="employees")

    assert run.counts["unchanged"] == 2
    assert run.counts["updated"] == 0
    assert dict(Person.objects.values_list("email", "updated_at")) == before


def test_an_ignored_record_is_left_alone(connection, source):
    person = PersonFactory(email="1@example.com", first_name="Keep")
    EmployeeMappingFactory(connection=connection, remote_id="1", person=person, state="ignored")
    source.employees = [employee("1", first_name="Changed")]

    run = run_sync(connection, scope="employees")

    person.refresh_from_db()
    assert person.first_name == "Keep"
    assert change_for(run, "1")["message"] == "Ignored by an admin."


def test_a_manager_listed_after_their_report_is_linked(connection, source):
    source.employees = [employee("2", manager_remote_id="1"), employee("1")]

    run_sync(connection, scope="employees")

    assert Person.objects.get(email="2@example.com").manager == Person.objects.get(email="1@example.com")


def test_a_leaver_who_was_never_here_is_skipped_not_created(connection, source):
    source.employees = [employee("1", status="Terminated"), employee("2")]

    run = run_sync(connection, scope="employees")

    assert list(Person.objects.values_list("email", flat=True)) == ["2@example.com"]
    skipped = change_for(run, "1")
    assert skipped["action"] == "skip"
    assert skipped["message"].startswith("Skipped — left before their first sync")
    assert (run.counts["skipped"], run.counts["unchanged"], run.counts["created"]) == (1, 0, 1)
    assert run.status == SyncRun.Status.SUCCEEDED


def test_running_the_same_sync_again_converges(connection, source):
    source.employees = [employee(str(i), manager_remote_id="0" if i else "") for i in range(5)]
    first = run_sync(connection, scope="employees")
    second = run_sync(connection, scope="employees")
    assert first.counts["created"] == 5
    assert second.counts["unchanged"] == 5
    assert second.counts["updated"] == 0


def test_emails_are_stored_lower_cased_so_a_case_change_is_not_an_update(connection, source):
    source.employees = [employee("1", email=" Ada.Lovelace@Example.COM ")]
    run_sync(connection, scope="employees")
    assert Person.objects.get().email == "ada.lovelace@example.com"

    source.employees = [employee("1", email="ADA.LOVELACE@example.com")]
    assert run_sync(connection, scope="employees").counts["unchanged"] == 1


def test_a_linked_record_whose_person_was_deleted_is_matched_again_and_the_link_saved(connection, source):
    person = PersonFactory(email="1@example.com")
    mapping = EmployeeMappingFactory(connection=connection, remote_id="1", person=person)
    source.employees = [employee("1")]
    run_sync(connection, scope="employees")
    person.delete()

    run = run_sync(connection, scope="employees")

    mapping.refresh_from_db()
    assert run.counts["created"] == 1
    assert mapping.person == Person.objects.get(email="1@example.com")
    assert run_sync(connection, scope="employees").counts["unchanged"] == 1


def test_an_over_long_value_is_a_row_error_not_a_failed_run(connection, source):
    source.employees = [employee("1", job_title="x" * 201), employee("2")]

    run = run_sync(connection, scope="employees")

    assert run.status == SyncRun.Status.COMPLETED_WITH_ERRORS
    assert "Job title is longer than 200 characters" in change_for(run, "1")["message"]
    assert list(Person.objects.values_list("email", flat=True)) == ["2@example.com"]


@pytest.mark.parametrize(
    ("remote_id", "fields", "named"),
    [
        ("1", {"first_name": "Nul\u0000Name"}, "The first name contains a control character (U+0000)"),
        ("1", {"last_name": "Tab\tbed"}, "The last name contains a control character (U+0009)"),
        ("1", {"mobile_phone": "0770\n0900"}, "The mobile phone contains a control character (U+000A)"),
        ("1", {"email": "1\u001b@example.com"}, "The email contains a control character (U+001B)"),
        ("1", {"status": "Active\u0085"}, "The status contains a control character (U+0085)"),
        ("1", {"job_title": "Driver\u0000"}, "The job title contains a control character (U+0000)"),
        ("1", {"first_name": "Lone \ud800 half"}, "The first name contains a control character (U+D800)"),
        ("1", {"custom": {"note": "bell\u0007"}}, "Custom field 'note' contains a control character"),
        ("1", {"custom": {"no\u0000te": "x"}}, "The name of custom field 'no\ufffdte' contains a control"),
        ("1", {"location_id": "L\u00001"}, "The location contains a control character (U+0000)"),
        ("1\u0000", {"email": "other@example.com"}, "The record's id contains a control character (U+0000)"),
    ],
)
def test_a_control_character_in_any_text_value_is_an_error_row_naming_the_field(
    connection, source, remote_id, fields, named
):
    person = PersonFactory(first_name="Old", email="1@example.com")
    EmployeeMappingFactory(connection=connection, remote_id="1", person=person)
    source.employees = [employee(remote_id, **{"first_name": "New", **fields}), employee("2")]
    if remote_id != "1":
        source.employees.append(employee("1", first_name="Old"))

    run = run_sync(connection, scope="employees")

    assert run.status == SyncRun.Status.COMPLETED_WITH_ERRORS
    [error] = [c for c in run.changes if c["action"] == "error"]
    assert named in error["message"]
    person.refresh_from_db()
    assert (person.first_name, person.custom_fields) == ("Old", {})
    assert EmployeeMapping.objects.filter(connection=connection).count() == 2
    assert Person.objects.filter(email="2@example.com").exists()


def test_tabs_and_line_breaks_are_kept_where_free_text_may_hold_them(connection, source):
    address = "1 High St\n\tLeeds"
    source.employees = [employee("1", job_title="Warehouse\r\nOperative", custom={"address": address})]

    run = run_sync(connection, scope="employees")

    assert run.status == SyncRun.Status.SUCCEEDED
    person = Person.objects.get()
    assert (person.job_title, person.custom_fields) == ("Warehouse\r\nOperative", {"address": address})


def test_a_location_with_a_control_character_is_left_out_and_said_so(connection, source):
    source.locations = [
        RemoteLocation("L\u00001", "Leeds"), RemoteLocation("Y", "York\u0000"), RemoteLocation("B", "Bath")
    ]

    run = run_sync(connection, scope="locations")

    assert run.status == SyncRun.Status.SUCCEEDED
    assert list(DepotMapping.objects.values_list("remote_location_id", flat=True)) == ["B"]
    assert run.report["notes"] == [
        "Location 'L\ufffd1' was left out: its id contains a control character (U+0000); "
        "correct it in Static HR, then sync again.",
        "Location 'Y' was left out: its name contains a control character (U+0000); "
        "correct it in Static HR, then sync again.",
    ]


def test_an_over_long_custom_value_or_record_id_is_a_row_error_not_a_failed_run(connection, source):
    from connections.sync.planner import MAX_CUSTOM_VALUE_LENGTH

    source.employees = [
        employee("1", custom={"notes": "x" * (MAX_CUSTOM_VALUE_LENGTH + 1)}),
        employee("2" * 201, email="long@example.com", first_name="Long", last_name="Id"),
        employee("3", custom={"notes": "x" * MAX_CUSTOM_VALUE_LENGTH}),
    ]

    run = run_sync(connection, scope="employees")

    assert run.status == SyncRun.Status.COMPLETED_WITH_ERRORS
    assert change_for(run, "1")["message"] == (
        f"Custom field 'notes' is longer than {MAX_CUSTOM_VALUE_LENGTH} characters."
    )
    assert change_for(run, "2" * 201)["message"] == "The record's id is longer than 200 characters."
    assert list(Person.objects.values_list("email", flat=True)) == ["3@example.com"]


def test_employees_synced_with_their_locations_get_same_named_depots_in_one_run(connection, source):
    leeds = DepotFactory(name="Leeds")
    source.locations = [RemoteLocation("LDS", "Leeds")]
    source.employees = [employee("1", location_id="LDS")]

    run = run_sync(connection, scope="all")

    assert Person.objects.get().depot == leeds
    assert run.counts["warnings"] == 0


def _missing_since(connection) -> dict[str, int | None]:
    return dict(EmployeeMapping.objects.filter(connection=connection).values_list("remote_id", "missing_since_run"))


def test_a_record_that_leaves_the_source_is_marked_missing_until_it_is_back(connection, source):
    source.employees = [employee("A"), employee("B"), employee("C")]
    run_sync(connection, scope="employees")
    assert _missing_since(connection) == {"A": None, "B": None, "C": None}
    untouched = EmployeeMapping.objects.get(connection=connection, remote_id="A").updated_at

    source.employees = [employee("A"), employee("B")]
    left = run_sync(connection, scope="employees")
    assert _missing_since(connection) == {"A": None, "B": None, "C": left.pk}
    # Records still in the source are not written at all.
    assert EmployeeMapping.objects.get(connection=connection, remote_id="A").updated_at == untouched

    source.employees = [employee("A")]
    run_sync(connection, scope="employees")
    assert _missing_since(connection)["C"] == left.pk, "missing since the run that first missed it"

    source.employees = [employee("A"), employee("B"), employee("C")]
    run_sync(connection, scope="employees")
    assert _missing_since(connection) == {"A": None, "B": None, "C": None}


def test_a_dry_run_marks_nothing_missing(connection, source):
    source.employees = [employee("A"), employee("B")]
    run_sync(connection, scope="employees")
    source.employees = [employee("A")]

    run_sync(connection, scope="employees", dry_run=True)

    assert _missing_since(connection) == {"A": None, "B": None}


def test_a_partial_source_says_who_is_back_but_not_who_left(connection, source, monkeypatch):
    source.employees = [employee("A"), employee("B")]
    run_sync(connection, scope="employees")
    source.employees = [employee("A")]
    left = run_sync(connection, scope="employees")
    assert _missing_since(connection) == {"A": None, "B": left.pk}

    monkeypatch.setattr(source, "full_snapshot", False)
    source.employees = [employee("B")]
    run_sync(connection, scope="employees")

    assert _missing_since(connection) == {"A": None, "B": None}
