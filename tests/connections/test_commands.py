"""The operator commands: connections, sync, runs.

The command line is a contract for scripts, so these tests pin the exit
codes and the JSON keys exactly. Syncs use the bundled sample roster; secret
handling uses ActionHRM (its password is a secret) with `responses`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.models import Connection, SyncRun
from hrsync.people.models import Person
from mappings.models import EmployeeMapping

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://acme.actionhrm.com"
PASSWORD = "Sup3r=Secret=Pa55"  # contains '=' on purpose
SUMMARY_KEYS = {
    "id",
    "connection",
    "kind",
    "scope",
    "dry_run",
    "trigger",
    "status",
    "counts",
    "error",
    "started_at",
    "finished_at",
    "delta",
    "read_since",
}
COUNT_KEYS = {
    "created",
    "linked",
    "updated",
    "unchanged",
    "deactivated",
    "reactivated",
    "conflicts",
    "errors",
    "warnings",
    "skipped",
}
CHANGE_KEYS = {"action", "remote_id", "person_id", "email", "name", "fields", "message"}


def run(*args: str) -> tuple[str, str]:
    """Run a command that must succeed; return (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args: str, code: int) -> tuple[CommandError, str]:
    """Run a command that must exit with ``code``; return the error and stdout."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as info:
        call_command(*args, stdout=out, stderr=err)
    assert info.value.returncode == code, str(info.value)
    return info.value, out.getvalue()


def add_sample(name: str = "Demo", size: int = 40) -> Connection:
    out, _ = run("connections", "add", "--kind", "sample", "--name", name, "--set", f"size={size}")
    return Connection.objects.get(pk=int(out.strip()))


def add_actionhrm(name: str = "Acme HR") -> Connection:
    out, _ = run(
        "connections", "add", "--kind", "actionhrm", "--name", name,
        "--set", "subdomain=acme", "--set", "username=api-user", "--set", f"password={PASSWORD}",
    )
    return Connection.objects.get(pk=int(out.strip()))


@pytest.fixture
def sample() -> Connection:
    return add_sample()


@pytest.fixture
def hrm() -> Connection:
    return add_actionhrm()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def actionhrm_answers(mocked, *, status: int = 200) -> None:
    if status != 200:
        mocked.get(f"{BASE}/api/v1/locations", status=status, json={"error": "unauthorised"})
        mocked.get(f"{BASE}/api/v1/employees", status=status, json={"error": "unauthorised"})
        return
    mocked.get(f"{BASE}/api/v1/locations", json={"locations": [{"id": "L1", "name": "Sydney Depot"}]})
    mocked.get(
        f"{BASE}/api/v1/employees",
        match=[responses.matchers.query_param_matcher({"page": "1", "per_page": "100"})],
        json={
            "employees": [
                {
                    "id": "1",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "email": "ada@example.com",
                    "status": "Active",
                    "location_id": "L1",
                }
            ],
            "page": 1,
            "per_page": 100,
            "total": 1,
        },
    )


def blocked_run(connection: Connection) -> SyncRun:
    """A real run the safeguard blocked: the roster shrinks from 40 to 10."""
    run("sync", connection.name)
    run("connections", "set", connection.name, "--set", "size=10")
    fails("sync", connection.name, code=3)
    return SyncRun.objects.get(connection=connection, status=SyncRun.Status.BLOCKED)


# -- connections add ---------------------------------------------------------


def test_add_prints_only_the_new_connections_id():
    out, err = run("connections", "add", "--kind", "sample", "--name", "Demo", "--set", "size=25")

    connection = Connection.objects.get()
    assert out == f"{connection.pk}\n"
    assert err == ""
    assert (connection.kind, connection.name, connection.config["size"]) == ("sample", "Demo", 25)
    assert connection.status_map["Active"] == "active"  # the connector's defaults


def test_add_stores_a_secret_encrypted_and_keeps_equals_signs_in_values(hrm):
    hrm.refresh_from_db()
    assert hrm.secrets == {"password": PASSWORD}
    assert "password" not in hrm.config
    assert hrm.config["username"] == "api-user"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "sample", "--name", "Demo", "--set", "size=3"], "size"),
        (["--kind", "nope", "--name", "Demo"], "Unknown integration"),
        (["--kind", "sample", "--name", "Demo", "--set", "colour=blue"], "Unknown setting(s) colour"),
        (["--kind", "sample", "--name", "Demo", "--set", "size"], "KEY=VALUE"),
        (["--kind", "actionhrm", "--name", "Demo", "--set", "username=u"], "password"),
    ],
)
def test_add_with_invalid_settings_exits_2_and_creates_nothing(args, message):
    error, out = fails("connections", "add", *args, code=2)

    assert message in str(error)
    assert out == ""
    assert not Connection.objects.exists()


def test_add_refuses_a_second_connection_with_the_same_name(sample):
    error, _ = fails("connections", "add", "--kind", "sample", "--name", "Demo", code=2)
    assert "name" in str(error)
    assert Connection.objects.count() == 1


# -- connections list ----------------------------------------------------------


def test_list_shows_a_table_of_connections_with_health_and_last_run(sample):
    run("sync", "Demo")
    add_sample("Other")

    out, _ = run("connections", "list")

    header, *rows = out.strip().splitlines()
    assert header.split("  ")[0:1] == ["ID"]
    for column in ("NAME", "KIND", "ENABLED", "BACKGROUND SYNC", "HEALTH", "LAST RUN"):
        assert column in header
    assert rows[0].startswith(str(sample.pk)) and "Demo" in rows[0] and "ok" in rows[0]
    assert "completed_with_conflicts" in rows[0]  # the demo roster has conflicts on purpose
    assert "Other" in rows[1] and "never" in rows[1] and "not checked" in rows[1]


def test_list_with_no_connections_says_how_to_add_one():
    out, _ = run("connections", "list")
    assert "connections add" in out
    assert json.loads(run("connections", "list", "--json")[0]) == []


def test_list_json_describes_each_connection_and_its_last_run(sample):
    before = json.loads(run("connections", "list", "--json")[0])
    assert before[0]["last_run"] is None

    run("sync", "Demo")
    [item] = json.loads(run("connections", "list", "--json")[0])

    for key in (
        "id", "name", "kind", "enabled", "background_sync", "credential_notifications",
        "last_check_ok", "last_check_message", "next_sync_at", "last_run",
    ):
        assert key in item
    assert item["id"] == sample.pk
    assert (item["name"], item["kind"], item["enabled"]) == ("Demo", "sample", True)
    assert item["last_check_ok"] is True
    assert set(item["last_run"]) == SUMMARY_KEYS
    assert item["last_run"]["id"] == SyncRun.objects.get().pk


def test_list_never_shows_a_secret_only_the_names_of_secrets_that_are_set(hrm):
    out, _ = run("connections", "list")
    out_json, _ = run("connections", "list", "--json")

    assert PASSWORD not in out + out_json
    [item] = json.loads(out_json)
    assert item["secrets_set"] == ["password"]
    assert "secrets" not in item
    assert "password" not in item["config"]


# -- connections test ----------------------------------------------------------


def test_test_prints_ok_and_records_health(sample):
    out, _ = run("connections", "test", "Demo")

    assert out.startswith("OK: Sample roster ready: 40 people")
    sample.refresh_from_db()
    assert sample.last_check_ok is True


def test_test_accepts_the_id_as_well_as_the_name(sample):
    out, _ = run("connections", "test", str(sample.pk))
    assert out.startswith("OK: ")


def test_test_of_an_actionhrm_connection_that_answers(hrm, mocked):
    actionhrm_answers(mocked)
    out, err = run("connections", "test", "Acme HR")

    assert out == "OK: Connected to ActionHRM at acme.actionhrm.com (1 location)\n"
    assert PASSWORD not in out + err


def test_test_exits_1_with_the_reason_when_the_check_fails(hrm, mocked):
    actionhrm_answers(mocked, status=401)

    error, out = fails("connections", "test", "Acme HR", code=1)

    assert "rejected the username or password (401)" in str(error)
    assert out == ""
    assert PASSWORD not in str(error)
    hrm.refresh_from_db()
    assert hrm.last_check_ok is False


ROSTER_CSV = (
    "Staff No,First Name,Last Name,Email,Status\n"
    "1,Ann,Lee,ann@example.com,Active\n"
    "2,Bo,Ng,bo@example.com,Leaver\n"
)


@pytest.fixture
def roster_csv(tmp_path, settings) -> Connection:
    """A CSV file connection to a file on this machine."""
    settings.HRSYNC_ALLOW_LOCAL_FILES = True
    path = tmp_path / "staff.csv"
    path.write_text(ROSTER_CSV)
    out, _ = run("connections", "add", "--kind", "csv_file", "--name", "Roster", "--set", f"uri=file://{path}")
    return Connection.objects.get(pk=int(out.strip()))


def test_test_of_a_csv_connection_prints_the_rows_as_they_map(roster_csv):
    out, _ = run("connections", "test", "Roster")

    message, blank, header, *rows = out.splitlines()
    assert message.startswith("OK: Read this server's ") and message.endswith("the first rows map as shown.")
    assert blank == ""
    assert re.split(r"\s{2,}", header) == [
        "Line", "Unique key", "Employee reference", "First name", "Last name", "Email", "Status",
    ]
    assert [row.split() for row in rows] == [
        ["2", "1", "1", "Ann", "Lee", "ann@example.com", "Active"],
        ["3", "2", "2", "Bo", "Ng", "bo@example.com", "Leaver"],
    ]
    roster_csv.refresh_from_db()
    assert roster_csv.last_check_ok is True


def test_test_json_gives_the_result_and_the_preview_rows(roster_csv, sample):
    result = json.loads(run("connections", "test", "Roster", "--json")[0])

    assert set(result) == {"ok", "message", "preview"}
    assert result["ok"] is True
    assert result["message"].endswith("the first rows map as shown.")
    assert result["preview"] == [
        {"line": 2, "key": "1", "employee_reference": "1", "first_name": "Ann", "last_name": "Lee",
         "email": "ann@example.com", "status": "Active"},
        {"line": 3, "key": "2", "employee_reference": "2", "first_name": "Bo", "last_name": "Ng",
         "email": "bo@example.com", "status": "Leaver"},
    ]
    # A connector whose check reads no preview rows has none to show.
    other = json.loads(run("connections", "test", "Demo", "--json")[0])
    assert other["ok"] is True and other["preview"] == []


def test_test_json_of_a_failing_check_exits_1_with_the_result(hrm, mocked):
    actionhrm_answers(mocked, status=401)

    error, out = fails("connections", "test", "Acme HR", "--json", code=1)

    result = json.loads(out)
    assert result["ok"] is False and result["preview"] == []
    assert "rejected the username or password (401)" in result["message"]
    assert "rejected the username or password (401)" in str(error)
    hrm.refresh_from_db()
    assert hrm.last_check_ok is False


def test_test_of_an_unknown_connection_exits_2():
    error, _ = fails("connections", "test", "Nope", code=2)
    assert "No connection with id or name 'Nope'" in str(error)


# -- connections set -----------------------------------------------------------


def test_set_changes_config_and_options(sample):
    out, _ = run(
        "connections", "set", "Demo",
        "--set", "size=12",
        "--set", "background_sync=true",
        "--set", "credential_notifications=yes",
        "--set", "safeguard_percent=35",
        "--set", "safeguard_min=2",
    )

    sample.refresh_from_db()
    assert sample.config["size"] == 12
    assert sample.background_sync is True
    assert sample.next_sync_at is not None  # background sync is scheduled straight away
    assert sample.credential_notifications is True
    assert (sample.safeguard_percent, sample.safeguard_min) == (35, 2)
    assert "Updated Demo" in out


def test_set_maps_a_vendor_status(sample):
    run("connections", "set", "Demo", "--set", "status_map.On Leave=active", "--set", "status_map.Casual=active")

    sample.refresh_from_db()
    assert sample.status_map["On Leave"] == "active"
    assert sample.status_map["Casual"] == "active"
    assert sample.status_map["Terminated"] == "terminated"


def test_set_replaces_a_secret_and_never_prints_it(hrm):
    out, err = run("connections", "set", "Acme HR", "--set", "password=new=pass=word")

    hrm.refresh_from_db()
    assert hrm.secrets["password"] == "new=pass=word"
    assert "new=pass=word" not in out + err
    assert "password" in out  # the key that changed, not its value


def test_set_keeps_the_stored_secret_when_other_settings_change(hrm):
    run("connections", "set", "Acme HR", "--set", "username=someone-else")

    hrm.refresh_from_db()
    assert hrm.config["username"] == "someone-else"
    assert hrm.secrets["password"] == PASSWORD


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("size=1", "size"),
        ("status_map.Active=hired", "'hired' is not a person status"),
        ("safeguard_percent=lots", "safeguard_percent must be a whole number"),
        ("safeguard_percent=150", "safeguard_percent"),
        ("background_sync=maybe", "is not yes/no"),
        ("colour=blue", "Unknown setting(s) colour"),
    ],
)
def test_set_with_an_invalid_value_exits_2_and_changes_nothing(sample, value, message):
    before = Connection.objects.filter(pk=sample.pk).values().get()

    error, _ = fails("connections", "set", "Demo", "--set", value, code=2)

    assert message in str(error)
    assert Connection.objects.filter(pk=sample.pk).values().get() == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("base_url=https://exa mple.com", "base_url: The host name in the address can have only letters"),
        ("base_url=https://example.com\t/api", "cannot contain tabs, line breaks or other invisible characters"),
        ("status_map.=active", "status_map.<status>: Enter the status as the HR system spells it."),
        ("status_map. =active", "status_map.<status>: Enter the status as the HR system spells it."),
        (f"status_map.{'S' * 101}=active", "A status in the HR system is at most 100 characters"),
        ("status_map.On\nLeave=active", "A status cannot contain line breaks"),
        ("field_map.__class__=id", "'__class__' is not a field ActionHRM can map. Use one of: "),
        ("field_map.=id", "'' is not a field ActionHRM can map"),
        (f"field_map.email={'a' * 100_000}", "The vendor attribute name is at most 100 characters"),
        ("field_map.email=work email", "A vendor attribute name has only letters, digits, _ and -"),
        ("field_map.email=contact..email", "A vendor attribute name has only letters, digits, _ and -"),
    ],
)
def test_set_refuses_a_value_the_settings_page_would_refuse(hrm, value, message):
    before = Connection.objects.filter(pk=hrm.pk).values().get()

    error, _ = fails("connections", "set", "Acme HR", "--set", value, code=2)

    assert message in str(error)
    assert len(str(error)) < 1000
    assert Connection.objects.filter(pk=hrm.pk).values().get() == before


def test_set_refuses_a_csv_address_whose_host_has_a_space(roster_csv):
    before = Connection.objects.filter(pk=roster_csv.pk).values().get()

    error, _ = fails("connections", "set", "Roster", "--set", "uri=https://exa mple.com/staff.csv", code=2)

    assert "uri: The host name in the address can have only letters" in str(error)
    assert Connection.objects.filter(pk=roster_csv.pk).values().get() == before


@pytest.mark.parametrize(("word", "ticked"), [("no", False), ("off", False), ("yes", True), ("1", True)])
def test_set_reads_a_connectors_tick_box_with_the_same_words_as_an_option(roster_csv, word, ticked):
    run("connections", "set", "Roster", "--set", "all_active=" + ("false" if ticked else "true"))

    run("connections", "set", "Roster", "--set", f"all_active={word}")

    assert Connection.objects.get(pk=roster_csv.pk).config.get("all_active", False) is ticked


def test_set_refuses_a_tick_box_word_it_does_not_know(roster_csv):
    before = Connection.objects.filter(pk=roster_csv.pk).values().get()

    error, _ = fails("connections", "set", "Roster", "--set", "all_active=maybe", code=2)

    assert "is not yes/no" in str(error)
    assert Connection.objects.filter(pk=roster_csv.pk).values().get() == before


def test_set_refuses_a_field_map_for_a_connector_that_reads_none(sample):
    before = Connection.objects.filter(pk=sample.pk).values().get()

    error, _ = fails("connections", "set", "Demo", "--set", "field_map.first_name=given", code=2)

    assert "Sample HR data (demo) does not read a field map" in str(error)
    assert Connection.objects.filter(pk=sample.pk).values().get() == before


def test_set_maps_and_unmaps_the_fields_the_connector_reads(hrm):
    run(
        "connections", "set", "Acme HR",
        "--set", "field_map.email=work_email",
        "--set", "field_map.date_of_birth=personal.dob",
        "--set", "field_map.id=person-id",
        "--set", "status_map. Casual =active",
    )
    hrm.refresh_from_db()
    assert hrm.field_map == {"email": "work_email", "date_of_birth": "personal.dob", "id": "person-id"}
    assert hrm.status_map["Casual"] == "active"

    run("connections", "set", "Acme HR", "--set", "field_map.email=")

    hrm.refresh_from_db()
    assert hrm.field_map == {"date_of_birth": "personal.dob", "id": "person-id"}


def test_set_of_an_unknown_connection_exits_2():
    fails("connections", "set", "Nope", "--set", "size=10", code=2)


# -- sync ----------------------------------------------------------------------


def test_sync_runs_in_process_and_prints_a_summary(sample):
    out, err = run("sync", "Demo")

    run_ = SyncRun.objects.get()
    assert (run_.trigger, run_.scope, run_.dry_run) == ("cli", "all", False)
    assert run_.status in SyncRun.COMPLETED_STATUSES
    assert f"Sync #{run_.pk} of Demo" in out
    assert f"created {run_.counts['created']}" in out
    assert Person.objects.count() == run_.counts["created"] > 0
    assert err == ""


def test_sync_json_is_exactly_the_run_summary(sample):
    out, _ = run("sync", str(sample.pk), "--json")

    summary = json.loads(out)
    run_ = SyncRun.objects.get()
    assert set(summary) == SUMMARY_KEYS
    assert set(summary["counts"]) == COUNT_KEYS | {"locations"}
    assert summary["id"] == run_.pk
    assert (summary["connection"], summary["kind"]) == ("Demo", "sample")
    assert (summary["scope"], summary["dry_run"], summary["trigger"]) == ("all", False, "cli")
    assert summary["status"] == run_.status
    assert summary["counts"]["created"] == run_.counts["created"]
    assert summary["counts"]["locations"]["create"] == 6
    assert summary["error"] == ""
    assert summary["started_at"] == run_.started_at.isoformat()
    assert summary["finished_at"] == run_.finished_at.isoformat()


def test_summary_counts_have_every_key_even_when_the_run_recorded_none(sample):
    run_ = SyncRun.objects.create(connection=sample, status=SyncRun.Status.FAILED, counts={})

    summary = json.loads(run("runs", "show", str(run_.pk), "--json")[0])

    assert summary["counts"] == dict.fromkeys(COUNT_KEYS, 0)
    assert summary["started_at"] is None


def test_sync_dry_run_changes_nothing(sample):
    out, _ = run("sync", "Demo", "--dry-run", "--json")

    summary = json.loads(out)
    assert summary["dry_run"] is True
    assert summary["counts"]["created"] > 0
    assert not Person.objects.exists()
    assert not EmployeeMapping.objects.exists()


def test_sync_scope_locations_reads_locations_only(sample):
    summary = json.loads(run("sync", "Demo", "--scope", "locations", "--json")[0])

    assert summary["scope"] == "locations"
    assert summary["counts"]["locations"]["create"] == 6
    assert summary["counts"]["created"] == 0
    assert not Person.objects.exists()
    assert sample.depot_mappings.count() == 6


def test_sync_scope_employees(sample):
    summary = json.loads(run("sync", "Demo", "--scope", "employees", "--json")[0])

    assert summary["scope"] == "employees"
    assert "locations" not in summary["counts"]
    assert Person.objects.count() == summary["counts"]["created"] > 0


def test_sync_rejects_an_unknown_scope(sample):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("sync", "Demo", "--scope", "everything", stdout=StringIO(), stderr=StringIO())
    assert not SyncRun.objects.exists()


def test_sync_of_an_unknown_connection_exits_2():
    error, _ = fails("sync", "Nope", code=2)
    assert "No connection with id or name 'Nope'" in str(error)


def test_sync_that_fails_exits_1_with_the_reason(hrm, mocked):
    actionhrm_answers(mocked, status=401)

    error, out = fails("sync", "Acme HR", "--json", code=1)

    summary = json.loads(out)
    assert summary["status"] == "failed"
    assert "rejected the username or password (401)" in summary["error"]
    assert "rejected the username or password (401)" in str(error)
    assert PASSWORD not in out + str(error)


def test_sync_that_the_safeguard_blocks_exits_3_and_changes_nothing(sample):
    run("sync", "Demo")
    active_before = Person.objects.exclude(status__in=Person.GONE_STATUSES).count()
    run("connections", "set", "Demo", "--set", "size=10")

    error, out = fails("sync", "Demo", "--json", code=3)

    summary = json.loads(out)
    assert summary["status"] == "blocked"
    assert summary["counts"]["deactivated"] > 0
    assert "safeguard" in summary["error"]
    assert f"runs approve {summary['id']}" in str(error)
    assert Person.objects.exclude(status__in=Person.GONE_STATUSES).count() == active_before


def test_sync_while_another_sync_runs_exits_4(sample):
    SyncRun.objects.create(connection=sample, status=SyncRun.Status.RUNNING)

    error, out = fails("sync", "Demo", code=4)

    assert str(error) == "A sync is already running for Demo."
    assert out == ""
    assert SyncRun.objects.count() == 1


def test_sync_apply_run_applies_a_dry_run(sample):
    dry = json.loads(run("sync", "Demo", "--dry-run", "--json")[0])

    summary = json.loads(run("sync", "Demo", "--apply-run", str(dry["id"]), "--json")[0])

    applied = SyncRun.objects.get(pk=summary["id"])
    assert applied.applied_from_id == dry["id"]
    assert (summary["dry_run"], summary["trigger"]) == (False, "cli")
    assert summary["counts"]["created"] == dry["counts"]["created"]
    assert Person.objects.count() == dry["counts"]["created"]
    assert f"Dry run #{dry['id']} was applied exactly as previewed." in applied.report["notes"]


@pytest.mark.parametrize("extra", [["--dry-run"], ["--scope", "employees"]])
def test_sync_apply_run_cannot_change_what_the_dry_run_was(sample, extra):
    dry = json.loads(run("sync", "Demo", "--dry-run", "--json")[0])
    fails("sync", "Demo", "--apply-run", str(dry["id"]), *extra, code=2)
    assert not Person.objects.exists()


def test_sync_apply_run_refuses_a_run_that_is_not_a_finished_dry_run(sample):
    real = json.loads(run("sync", "Demo", "--json")[0])
    error, _ = fails("sync", "Demo", "--apply-run", str(real["id"]), code=2)
    assert "not a finished dry run" in str(error)


def test_sync_apply_run_refuses_another_connections_run(sample):
    other = add_sample("Other")
    dry = json.loads(run("sync", "Other", "--dry-run", "--json")[0])
    error, _ = fails("sync", "Demo", "--apply-run", str(dry["id"]), code=2)
    assert "belongs to Other" in str(error)
    assert not other.runs.filter(dry_run=False).exists()


def test_sync_apply_run_of_an_unknown_run_exits_2(sample):
    fails("sync", "Demo", "--apply-run", "999", code=2)


# -- runs ----------------------------------------------------------------------


def test_runs_list_shows_newest_first(sample):
    first = json.loads(run("sync", "Demo", "--dry-run", "--json")[0])["id"]
    second = json.loads(run("sync", "Demo", "--json")[0])["id"]

    out, _ = run("runs", "list")

    header, *rows = out.strip().splitlines()
    assert "STATUS" in header
    assert [row.split()[0] for row in rows] == [str(second), str(first)]
    assert "dry run" in rows[1]


def test_runs_list_json_filters_by_connection_and_limits(sample):
    add_sample("Other")
    run("sync", "Demo", "--dry-run")
    run("sync", "Other", "--dry-run")
    newest = json.loads(run("sync", "Demo", "--dry-run", "--json")[0])["id"]

    listed = json.loads(run("runs", "list", "--connection", "Demo", "--json")[0])
    limited = json.loads(run("runs", "list", "--limit", "1", "--json")[0])

    assert [item["connection"] for item in listed] == ["Demo", "Demo"]
    assert all(set(item) == SUMMARY_KEYS for item in listed)
    assert [item["id"] for item in limited] == [newest]
    fails("runs", "list", "--connection", "Nope", code=2)
    fails("runs", "list", "--limit", "0", code=2)


def test_runs_list_with_no_runs():
    assert run("runs", "list")[0] == "No sync runs.\n"
    assert json.loads(run("runs", "list", "--json")[0]) == []


def test_runs_show_json_adds_the_changes_and_notes(sample):
    dry = json.loads(run("sync", "Demo", "--dry-run", "--json")[0])

    detail = json.loads(run("runs", "show", str(dry["id"]), "--json")[0])

    assert SUMMARY_KEYS | {"changes", "notes"} <= set(detail)
    assert {key: detail[key] for key in SUMMARY_KEYS} == dry
    stored = SyncRun.objects.get(pk=dry["id"])
    report = stored.report
    assert len(detail["changes"]) == len(stored.changes) > 0
    assert all(CHANGE_KEYS <= set(change) for change in detail["changes"])
    created = next(c for c in detail["changes"] if c["action"] == "create")
    assert created["fields"]["email"][0] in (None, "")
    assert created["email"] and created["name"]
    conflict = next(c for c in detail["changes"] if c["action"] == "conflict")
    assert conflict["message"]
    assert detail["notes"] == report["notes"]


def test_runs_show_prints_the_changes_for_people(sample):
    dry = json.loads(run("sync", "Demo", "--dry-run", "--json")[0])

    out, _ = run("runs", "show", str(dry["id"]))

    assert out.startswith(f"Dry run #{dry['id']} of Demo")
    assert "create" in out and "conflict" in out
    assert "email: —" in out  # a field diff, old → new


def test_runs_show_prints_a_line_per_stream_the_run_read_with_its_counts(roster_csv):
    dry = json.loads(run("sync", "Roster", "--dry-run", "--json")[0])

    out, _ = run("runs", "show", str(dry["id"]))
    detail = json.loads(run("runs", "show", str(dry["id"]), "--json")[0])

    assert sorted(detail["streams"]) == ["employees", "locations"]
    employees = detail["streams"]["employees"]
    assert employees["records"] == 2 and employees["counts"]["created"] == 1
    [line] = [line for line in out.splitlines() if line.startswith("stream employees")]
    assert line.startswith("stream employees: 2 records, full snapshot: created 1")
    assert "stream locations: 0 records: no changes" in out.splitlines()


def test_runs_show_gives_the_line_of_a_row_error(roster_csv, tmp_path):
    (tmp_path / "staff.csv").write_text(ROSTER_CSV + "3,Cy,Oh,cy@example.com,Active,surplus\n")
    dry = json.loads(run("sync", "Roster", "--dry-run", "--json")[0])

    detail = json.loads(run("runs", "show", str(dry["id"]), "--json")[0])
    out, _ = run("runs", "show", str(dry["id"]))

    [error] = [change for change in detail["changes"] if change["action"] == "error"]
    assert error["position"] == "line 4"
    assert error["message"] == "Line 4 has 6 fields where the header has 5."
    assert [change["position"] for change in detail["changes"] if change["action"] != "error"] == [
        "line 2", "line 3",
    ]
    assert "  error      3            Cy Oh <cy@example.com> (line 4)" in out.splitlines()


def test_runs_show_of_an_unknown_run_exits_2():
    fails("runs", "show", "999", code=2)
    fails("runs", "show", "abc", code=2)


def test_runs_approve_applies_a_blocked_run(sample):
    blocked = blocked_run(sample)

    out, _ = run("runs", "approve", str(blocked.pk))

    blocked.refresh_from_db()
    assert blocked.status in SyncRun.COMPLETED_STATUSES
    assert blocked.decided_at is not None
    assert f"Sync #{blocked.pk} of Demo" in out
    assert Person.objects.filter(status="inactive").count() >= blocked.counts["deactivated"]


def test_runs_approve_json(sample):
    blocked = blocked_run(sample)
    summary = json.loads(run("runs", "approve", str(blocked.pk), "--json")[0])
    assert set(summary) == SUMMARY_KEYS
    assert summary["id"] == blocked.pk


def test_runs_approve_exits_1_when_the_directory_changed_meanwhile(sample):
    blocked = blocked_run(sample)
    Person.objects.create(email="hand-made@example.com")

    error, _ = fails("runs", "approve", str(blocked.pk), code=1)

    assert "directory changed" in str(error)


def test_runs_approve_while_another_sync_runs_exits_4(sample):
    blocked = blocked_run(sample)
    SyncRun.objects.create(connection=sample, status=SyncRun.Status.RUNNING)

    error, _ = fails("runs", "approve", str(blocked.pk), code=4)

    assert str(error) == "A sync is already running for Demo."
    blocked.refresh_from_db()
    assert blocked.status == "blocked"


def test_runs_approve_of_a_run_that_is_not_blocked_exits_2(sample):
    done = json.loads(run("sync", "Demo", "--json")[0])
    error, _ = fails("runs", "approve", str(done["id"]), code=2)
    assert "not blocked" in str(error)
    fails("runs", "approve", "999", code=2)


def test_runs_reject_rejects_a_blocked_run_and_changes_nothing(sample):
    blocked = blocked_run(sample)
    active = Person.objects.exclude(status__in=Person.GONE_STATUSES).count()

    out, _ = run("runs", "reject", str(blocked.pk))

    blocked.refresh_from_db()
    assert blocked.status == "rejected"
    assert f"Rejected Sync #{blocked.pk} of Demo: nothing was changed." in out
    assert Person.objects.exclude(status__in=Person.GONE_STATUSES).count() == active
    fails("runs", "reject", str(blocked.pk), code=2)  # only once
    fails("runs", "approve", str(blocked.pk), code=2)


def test_runs_reject_json(sample):
    blocked = blocked_run(sample)
    summary = json.loads(run("runs", "reject", str(blocked.pk), "--json")[0])
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "rejected"


# -- secrets ---------------------------------------------------------------------


def test_no_command_output_ever_contains_a_secret(hrm, mocked):
    actionhrm_answers(mocked)
    outputs = []
    for args in (
        ("connections", "list"),
        ("connections", "list", "--json"),
        ("connections", "test", "Acme HR"),
        ("sync", "Acme HR", "--dry-run"),
        ("sync", "Acme HR", "--json"),
        ("runs", "list", "--json"),
        ("connections", "set", "Acme HR", "--set", f"password={PASSWORD}"),
    ):
        outputs.extend(run(*args))
    run_id = SyncRun.objects.filter(dry_run=False).get().pk
    outputs.extend(run("runs", "show", str(run_id)))
    outputs.extend(run("runs", "show", str(run_id), "--json"))

    assert Person.objects.filter(email="ada@example.com").exists()
    assert not [text for text in outputs if PASSWORD in text]


# -- the real command line ------------------------------------------------------


def embedded_manage(var_dir: Path):
    """``manage(*args, **env)``: manage.py as a script would run it, on a fresh
    embedded install (SQLite) in ``var_dir``, already migrated."""
    base_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "HRSYNC_"))
    }
    base_env["HRSYNC_VAR_DIR"] = str(var_dir)

    def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env={**base_env, **env}, capture_output=True, text=True, timeout=120,
        )

    migrated = manage("migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    return manage


def test_the_exit_codes_reach_the_shell(tmp_path):
    """Through manage.py as a script would run it: a fresh SQLite database."""
    manage = embedded_manage(tmp_path)
    added = manage("connections", "add", "--kind", "sample", "--name", "Demo", "--set", "size=10")
    assert (added.returncode, added.stdout.strip().isdigit()) == (0, True)

    synced = manage("sync", "Demo", "--json")
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["trigger"] == "cli"

    unknown = manage("sync", "Nope")
    assert unknown.returncode == 2
    assert "No connection with id or name 'Nope'" in unknown.stderr
    assert unknown.stdout == ""

    bad = manage("connections", "set", "Demo", "--set", "size=1")
    assert bad.returncode == 2
    assert "size" in bad.stderr


# -- what the console shows -------------------------------------------------------


def test_a_successful_sftp_test_prints_no_traceback(sshd, tmp_path):
    sshd.write("cli-roster.csv", "Staff No,First Name,Last Name,Email,Status\n1,Ann,Lee,ann@example.com,Active\n")
    manage = embedded_manage(tmp_path)
    added = manage(
        "connections", "add", "--kind", "csv_file", "--name", "Roster",
        "--set", f"uri={sshd.uri('cli-roster.csv')}",
        "--set", f"username={sshd.username}",
        "--set", f"password={sshd.password}",
        # The server offers its Ed25519 key first; to find the pinned RSA key
        # hrsync asks for each other kind, ECDSA (which it lacks) included.
        "--set", f"host_key={sshd.host_fingerprint('rsa')}",
    )
    assert added.returncode == 0, added.stderr

    for verbosity in ("1", "2"):
        tested = manage("connections", "test", "Roster", "--verbosity", verbosity)

        assert tested.returncode == 0, tested.stderr
        assert tested.stdout.startswith("OK: Read 127.0.0.1:")
        assert "Traceback" not in tested.stderr
        assert " ERROR " not in tested.stderr
    [listed] = json.loads(manage("connections", "list", "--json").stdout)
    assert listed["last_check_ok"] is True


def test_a_crashed_sync_prints_the_sentence_and_the_traceback_only_when_asked(tmp_path):
    manage = embedded_manage(tmp_path)
    assert manage("connections", "add", "--kind", "sample", "--name", "Demo", "--set", "size=10").returncode == 0
    # The database refuses every new person: an IntegrityError hrsync does not expect.
    with sqlite3.connect(tmp_path / "hrsync.sqlite3") as db:
        db.execute(
            "CREATE TRIGGER refuse_people BEFORE INSERT ON people_person "
            "BEGIN SELECT RAISE(ABORT, 'people are refused'); END"
        )
    log_file = tmp_path / "hrsync.log"

    plain = manage("sync", "Demo")
    verbose = manage("sync", "Demo", "--verbosity", "2")
    logged = manage("sync", "Demo", HRSYNC_LOG_FILE=str(log_file))

    for finished in (plain, verbose, logged):
        assert finished.returncode == 1, finished.stderr
        assert "The sync stopped on an unexpected error and nothing was changed." in finished.stderr
    assert "Traceback" not in plain.stderr
    assert "Traceback" not in logged.stderr
    assert "Traceback" in verbose.stderr and "IntegrityError" in verbose.stderr
    log = log_file.read_text()
    assert "Traceback" in log and "people are refused" in log
    runs = json.loads(manage("runs", "list", "--json").stdout)
    assert [run_["status"] for run_ in runs] == ["failed", "failed", "failed"]
    assert json.loads(manage("connections", "list", "--json").stdout)[0]["name"] == "Demo"


def test_a_server_that_does_not_speak_ssh_is_a_sentence_on_the_console_and_a_traceback_in_the_log(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_with_junk() -> None:
        with listener:
            while True:
                try:
                    conn, _address = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=answer_with_junk, daemon=True).start()
    manage = embedded_manage(tmp_path)
    log_file = tmp_path / "hrsync.log"
    try:
        added = manage(
            "connections", "add", "--kind", "csv_file", "--name", "Junk",
            "--set", f"uri=sftp://127.0.0.1:{port}/staff.csv", "--set", "username=u", "--set", "password=p",
            "--set", "host_key=SHA256:" + "Q" * 43,
        )
        assert added.returncode == 0, added.stderr
        tested = manage("connections", "test", "Junk", HRSYNC_LOG_FILE=str(log_file))
    finally:
        listener.close()

    assert tested.returncode == 1
    assert "did not answer as an SSH server" in tested.stderr
    assert "Traceback" not in tested.stderr
    assert "Traceback" in log_file.read_text()
    [listed] = json.loads(manage("connections", "list", "--json").stdout)
    assert listed["last_check_ok"] is False
