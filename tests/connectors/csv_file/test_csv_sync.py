"""CSV files through the real planner and applier (file:// addresses)."""

from __future__ import annotations

import pytest

from connections import services
from hrsync.people.models import Person
from mappings.models import DepotMapping, EmployeeMapping
from mappings.services import depot_map
from tests.connections.helpers import run_sync, table_snapshot

pytestmark = pytest.mark.django_db

HEADER = "Staff No,First Name,Surname,Email,Status,Manager,Site\n"


def create(uri: str, **values) -> object:
    return services.connection_create(kind="csv_file", name="Staff file", config={"uri": uri, **values})


def people() -> dict[str, Person]:
    return {p.email: p for p in Person.objects.select_related("manager", "depot")}


def changes(run, action: str) -> list[dict]:
    return [c for c in run.changes if c["action"] == action]


def test_a_file_syncs_into_the_directory_with_managers_listed_after_their_reports(write_csv):
    uri = write_csv(
        HEADER
        + "1,Ann,Lee,ann@example.com,Active,3,Leeds\n"
        + "2,Bo,Ng,bo@example.com,On Leave,3,York\n"
        + "3,Cy,Oh,cy@example.com,Active,,Leeds\n"
        + "4,Di,Le,di@example.com,Leaver,,York\n"
    )
    connection = create(uri)

    locations = run_sync(connection, scope="locations")
    assert locations.status == "succeeded", locations.error
    for mapping in DepotMapping.objects.filter(connection=connection):
        depot_map(connection=connection, remote_location_id=mapping.remote_location_id,
                  depot_name=mapping.remote_name)
    run = run_sync(connection, scope="employees")

    assert run.status == "succeeded", run.error
    directory = people()
    # 4 is a leaver who was never here: not created.
    assert set(directory) == {"ann@example.com", "bo@example.com", "cy@example.com"}
    assert directory["ann@example.com"].manager == directory["cy@example.com"]
    assert directory["bo@example.com"].manager == directory["cy@example.com"]
    assert directory["bo@example.com"].status == "on_leave"
    assert directory["bo@example.com"].depot.name == "York"
    assert directory["ann@example.com"].employee_reference == "1"
    assert run.counts["created"] == 3


def test_duplicate_keys_become_conflicts_and_the_rest_syncs(write_csv):
    uri = write_csv(
        HEADER
        + "1,Ann,Lee,ann@example.com,Active,,\n"
        + "2,Bo,Ng,bo@example.com,Active,,\n"
        + "2,Bob,Ng,bob@example.com,Active,,\n"
    )
    run = run_sync(create(uri), scope="employees")

    assert run.status == "completed_with_conflicts"
    conflicts = changes(run, "conflict")
    assert [(c["remote_id"], c["position"]) for c in conflicts] == [("2", "line 3"), ("2", "line 4")]
    assert "appears 2 times" in conflicts[0]["message"]
    assert set(people()) == {"ann@example.com"}
    assert EmployeeMapping.objects.get(remote_id="2").state == "conflict"


def test_bad_emails_and_dates_are_row_errors_with_their_line_while_the_rest_syncs(write_csv):
    uri = write_csv(
        "Staff No,First Name,Email,Date of Birth,Status\n"
        "1,Ann,ann@example.com,1990-01-31,Active\n"
        "2,Bo,not-an-email,1991-02-01,Active\n"
        "3,Cy,cy@example.com,31/02/1990,Active\n"
        "4,Di,di@example.com,,Active\n"
    )
    run = run_sync(create(uri), scope="employees")

    assert run.status == "completed_with_errors"
    errors = {c["position"]: c["message"] for c in changes(run, "error")}
    assert set(errors) == {"line 3", "line 4"}
    assert "not-an-email" in errors["line 3"] and "not a valid email" in errors["line 3"]
    assert errors["line 4"] == "Date of Birth '31/02/1990' is not a date (YYYY-MM-DD)."
    assert set(people()) == {"ann@example.com", "di@example.com"}


def test_a_ragged_row_is_an_error_row_with_its_line(write_csv):
    uri = write_csv("Staff No,First Name,Email,Status\n1,Ann,ann@example.com,Active\n2,Bo,bo@example.com\n")
    run = run_sync(create(uri), scope="employees")
    [error] = changes(run, "error")
    assert error["position"] == "line 3"
    assert "Line 3 has 3 fields where the header has 4." in error["message"]


def test_someone_missing_from_the_next_file_is_deactivated(write_csv, tmp_path):
    full = HEADER + "".join(f"{i},P{i},L{i},p{i}@example.com,Active,,\n" for i in range(1, 11))
    connection = create(write_csv(full))
    assert run_sync(connection, scope="employees").counts["created"] == 10

    (tmp_path / "staff.csv").write_text(full.replace("7,P7,L7,p7@example.com,Active,,\n", ""))
    run = run_sync(connection, scope="employees")

    assert run.status == "succeeded", run.error
    assert run.counts["deactivated"] == 1
    assert Person.objects.get(email="p7@example.com").status == "inactive"
    assert Person.objects.filter(status="active").count() == 9


def _roster(count: int) -> list[str]:
    return [f"{i},P{i},L{i},p{i}@example.com,Active,," for i in range(1, count + 1)]


def test_a_stray_quote_fails_the_run_naming_its_line_and_deactivates_nobody(write_csv, tmp_path):
    rows = _roster(30)
    connection = create(write_csv(HEADER + "\n".join(rows) + "\n"))
    assert run_sync(connection, scope="employees").counts["created"] == 30
    before = table_snapshot(exclude=("connections.SyncRun",))

    rows[26] = "27,\"O'Neil,L27,p27@example.com,Active,,"  # line 28: a quote that never closes
    (tmp_path / "staff.csv").write_text(HEADER + "\n".join(rows) + "\n")
    run = run_sync(connection, scope="employees")

    assert run.status == "failed"
    assert run.error.startswith("The quote that opens on line 28 is never closed")
    assert run.error.endswith(" Nothing was changed.")
    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert Person.objects.filter(status="active").count() == 30


def test_a_stray_quote_closed_by_a_quote_far_below_fails_the_run(write_csv, tmp_path):
    rows = _roster(100)
    connection = create(write_csv(HEADER + "\n".join(rows) + "\n"))
    run_sync(connection, scope="employees")
    before = table_snapshot(exclude=("connections.SyncRun",))

    rows[9] = "10,\"O'Neil,L10,p10@example.com,Active,,"
    rows[89] = '90,"P90, Jr",L90,p90@example.com,Active,,'
    (tmp_path / "staff.csv").write_text(HEADER + "\n".join(rows) + "\n")
    run = run_sync(connection, scope="employees")

    assert run.status == "failed"
    assert run.error.startswith("The quote that opens on line 11 is not closed within")
    assert table_snapshot(exclude=("connections.SyncRun",)) == before


def test_a_stray_quote_closed_by_another_a_few_lines_below_fails_the_run(write_csv, tmp_path):
    # Rosters quote names with commas in them ("Lee, Jr"): the next such
    # quote closes a stray one, and the people between must not look gone.
    rows = _roster(30)
    connection = create(write_csv(HEADER + "\n".join(rows) + "\n"))
    run_sync(connection, scope="employees")
    before = table_snapshot(exclude=("connections.SyncRun",))

    rows[9] = "10,\"O'Neil,L10,p10@example.com,Active,,"
    rows[12] = '13,"P13, Jr",L13,p13@example.com,Active,,'
    (tmp_path / "staff.csv").write_text(HEADER + "\n".join(rows) + "\n")
    run = run_sync(connection, scope="employees")

    assert run.status == "failed"
    assert run.error.startswith("The quote that opens on line 11 closes only on line 14, so lines 11 to 14")
    assert run.error.endswith(" Nothing was changed.")
    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert Person.objects.filter(status="active").count() == 30


def test_a_megabyte_value_is_an_error_row_with_its_line_and_the_rest_syncs(write_csv):
    uri = write_csv(
        HEADER
        + "1,Ann,Lee,ann@example.com,Active,,\n"
        + f"2,{'B' * 1_000_000},Ng,bo@example.com,Active,,\n"
        + "3,Cy,Oh,cy@example.com,Active,,\n"
    )
    run = run_sync(create(uri), scope="employees")

    assert run.status == "completed_with_errors", run.error
    [error] = changes(run, "error")
    assert (error["position"], error["message"]) == ("line 3", "First Name is longer than 150 characters.")
    assert set(people()) == {"ann@example.com", "cy@example.com"}


def test_a_header_only_file_is_blocked_for_approval_whatever_the_thresholds(write_csv, tmp_path):
    connection = create(write_csv(HEADER + "\n".join(_roster(4)) + "\n"))
    run_sync(connection, scope="employees")
    before = table_snapshot(exclude=("connections.SyncRun",))

    (tmp_path / "staff.csv").write_text(HEADER)
    run = run_sync(connection, scope="employees")

    assert run.status == "blocked"
    assert run.error.startswith("Staff file returned no records, so this sync would deactivate all 4 people")
    assert "approve it only if everyone has really left" in run.error
    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert Person.objects.filter(status="active").count() == 4


def test_an_empty_file_fails_the_run_saying_nothing_was_changed_once(write_csv, tmp_path):
    connection = create(write_csv(HEADER + "\n".join(_roster(2)) + "\n"))
    run_sync(connection, scope="employees")

    (tmp_path / "staff.csv").write_text("")
    run = run_sync(connection, scope="employees")

    assert run.status == "failed"
    assert run.error == "The file is empty; a roster needs at least a header row. Nothing was changed."


def test_a_mostly_empty_file_is_blocked_by_the_safeguard(write_csv, tmp_path):
    full = HEADER + "".join(f"{i},P{i},L{i},p{i}@example.com,Active,,\n" for i in range(1, 21))
    connection = create(write_csv(full))
    run_sync(connection, scope="employees")
    before = table_snapshot(exclude=("connections.SyncRun",))

    (tmp_path / "staff.csv").write_text(HEADER + "1,P1,L1,p1@example.com,Active,,\n")
    run = run_sync(connection, scope="employees")

    assert run.status == "blocked"
    assert table_snapshot(exclude=("connections.SyncRun",)) == before


def test_a_file_error_fails_the_run_and_changes_nothing(write_csv, tmp_path):
    connection = create(write_csv(HEADER + "1,Ann,Lee,ann@example.com,Active,,\n"))
    run_sync(connection, scope="employees")
    before = table_snapshot(exclude=("connections.SyncRun",))

    (tmp_path / "staff.csv").write_bytes(HEADER.encode() + "1,Jürgen,Lee,ann@example.com,Active,,\n".encode("latin-1"))
    run = run_sync(connection, scope="employees")

    assert run.status == "failed"
    assert run.error == (
        "Line 2 is not valid UTF-8; choose the file's encoding (Latin-1, Windows-1252) in the settings. "
        "Nothing was changed."
    )
    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    connection.refresh_from_db()
    assert connection.last_check_ok is False


def test_everyone_active_without_a_status_column(write_csv):
    uri = write_csv("Email,Forename\nann@example.com,Ann\nbo@example.com,Bo\n")
    run = run_sync(create(uri, all_active="true"), scope="all")
    assert run.status == "succeeded", run.error
    assert {p.email: p.status for p in Person.objects.all()} == {
        "ann@example.com": "active", "bo@example.com": "active"
    }


def test_only_the_mapped_fields_are_taken_over(write_csv):
    person = Person.objects.create(first_name="Ann", last_name="Lee", email="ann@example.com",
                                   job_title="Driver", mobile_phone="07700 900001")
    uri = write_csv("Email,First Name,Status\nann@example.com,Annie,Active\n")
    connection = create(uri, columns='{"Email": "email", "First Name": "first_name"}', status_column="Status")

    run = run_sync(connection, scope="employees")

    assert run.status == "succeeded", run.error
    person.refresh_from_db()
    assert (person.first_name, person.job_title, person.mobile_phone) == ("Annie", "Driver", "07700 900001")
    assert person.managed_by_id == connection.pk


def test_a_windows_payroll_export_syncs_with_its_columns_mapped(tmp_path):
    """A recorded export: semicolons, Windows-1252, DD/MM/YYYY, a quoted
    separator and a quoted line break, a custom field, a leaver, and the
    manager listed after everyone who reports to them."""
    import datetime as dt
    import shutil
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "csv_file" / "payroll_export_cp1252.csv"
    path = shutil.copy(fixture, tmp_path / "export.csv")
    connection = create(
        f"file://{path}",
        delimiter="auto",
        encoding="cp1252",
        date_format="DD/MM/YYYY",
        columns='{"Staff No": "employee_reference", "Forename": "first_name", "Surname": "last_name", '
                '"E-mail": "email", "Date of Birth": "date_of_birth", "Job Title": "job_title", '
                '"Depot": "location", "Start Date": "hire_date", "Shoe size": "custom.shoe_size"}',
        manager_column="Line Manager",
        status_column="Employment Status",
    )

    run = run_sync(connection)

    assert run.status == "succeeded", run.error
    directory = people()
    assert set(directory) == {"j.mueller@example.com", "zoe.oneill@example.com", "sian.obriain@example.com"}
    mueller = directory["j.mueller@example.com"]
    assert (mueller.first_name, mueller.last_name, mueller.job_title) == ("Jürgen", "Müller", "Driver; HGV Class 1")
    assert mueller.date_of_birth == dt.date(1980, 1, 31) and mueller.hire_date == dt.date(2015, 3, 1)
    assert mueller.custom_fields == {"shoe_size": "44"}
    assert mueller.manager == directory["sian.obriain@example.com"]
    zoe = directory["zoe.oneill@example.com"]
    assert (zoe.last_name, zoe.job_title, zoe.status) == ("O’Neill", "Warehouse\r\nOperative", "on_leave")
    positions = {c["remote_id"]: c["position"] for c in run.changes}
    assert positions == {"1001": "line 2", "1002": "line 3", "1003": "line 5", "1004": "line 6"}
    assert sorted(DepotMapping.objects.values_list("remote_location_id", flat=True)) == ["Leeds", "York"]


def test_the_person_form_locks_exactly_the_mapped_fields(write_csv):
    from hrsync.people.services import connection_owned_fields

    uri = write_csv("Email,First Name,Status\nann@example.com,Ann,Active\n")
    explicit = create(uri, columns='{"Email": "email", "First Name": "first_name"}', status_column="Status")
    assert connection_owned_fields(connection=explicit) == {"email", "first_name", "status"}

    explicit.delete()
    automatic = create(uri)  # columns from the header: unknown until the file is read, so all locked
    assert {"mobile_phone", "job_title", "first_name"} <= connection_owned_fields(connection=automatic)
