"""The Runs tab: history, a run's report and CSV, approving/rejecting a
blocked run and applying a dry run, through the Django test client."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from connections.models import SyncRun
from connectors.base import RemoteLocation
from hrsync.people.models import Person
from tests.connections.helpers import run_sync, table_snapshot
from tests.connections.static_connector import employee
from tests.factories import EmployeeMappingFactory, PersonFactory, SyncRunFactory
from tests.csv_formulas import FORMULAS

pytestmark = pytest.mark.django_db
Status = SyncRun.Status


def _flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _change(action: str, remote_id: str, **extra) -> dict:
    return {
        "action": action,
        "remote_id": remote_id,
        "person_id": None,
        "email": f"{remote_id.lower()}@example.com",
        "name": f"Name {remote_id}",
        "fields": {},
        "values": {},
        "mapping": None,
        "mapping_id": None,
        "message": "",
        "warnings": [],
        "position": "",
        **extra,
    }


def _finished_run(connection, **fields) -> SyncRun:
    now = timezone.now()
    defaults = {
        "status": Status.SUCCEEDED,
        "started_at": now - dt.timedelta(seconds=75),
        "finished_at": now,
    }
    return SyncRunFactory(connection=connection, **{**defaults, **fields})


def _seed_mapped_people(connection, count: int) -> list[Person]:
    people = []
    for i in range(count):
        person = PersonFactory(email=f"{i}@example.com", first_name=f"First{i}", last_name=f"Last{i}")
        EmployeeMappingFactory(connection=connection, remote_id=str(i), person=person)
        people.append(person)
    return people


@pytest.fixture
def blocked_run(connection, source):
    """A real sync that tripped the safeguard: 4 mapped people, none left in the source."""
    connection.safeguard_min = 0
    connection.save()
    _seed_mapped_people(connection, 4)
    source.employees = []
    run = run_sync(connection, scope="employees")
    assert run.status == Status.BLOCKED
    return run


# -- the history ---------------------------------------------------------------------


def test_the_runs_tab_lists_the_connections_runs_newest_first(staff, connection):
    old = _finished_run(connection, counts={"created": 3, "updated": 1})
    new = _finished_run(connection, dry_run=True, trigger=SyncRun.Trigger.SCHEDULE)
    other = _finished_run(SyncRunFactory().connection)

    response = staff.get(reverse("connections:runs", args=[connection.pk]))

    assert response.status_code == 200
    assert response.context["active_tab"] == "runs"
    assert [r.pk for r in response.context["runs"]] == [new.pk, old.pk]
    assert other.pk not in [r.pk for r in response.context["runs"]]
    html = response.content.decode()
    assert "3 created · 1 updated" in html
    assert "1 min 15 s" in html
    assert "Dry run" in html and "Schedule" in html


def test_the_runs_tab_never_loads_the_reports(staff, connection):
    _finished_run(connection, report={"changes": [_change("create", "A")]})

    response = staff.get(reverse("connections:runs", args=[connection.pk]))

    run = response.context["runs"][0]
    assert "report" in run.get_deferred_fields()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "failed"}, {"failed-sync"}),
        ({"type": "dry"}, {"dry"}),
        ({"type": "sync"}, {"failed-sync", "cli-sync"}),
        ({"trigger": "cli"}, {"cli-sync"}),
        ({"type": "sync", "status": "succeeded"}, {"cli-sync"}),
        ({"status": "nonsense"}, {"failed-sync", "cli-sync", "dry"}),
    ],
)
def test_the_runs_tab_filters_by_status_type_and_trigger(staff, connection, params, expected):
    runs = {
        "failed-sync": _finished_run(connection, status=Status.FAILED, error="boom"),
        "cli-sync": _finished_run(connection, trigger=SyncRun.Trigger.CLI),
        "dry": _finished_run(connection, dry_run=True),
    }

    response = staff.get(reverse("connections:runs", args=[connection.pk]), params)

    shown = {r.pk for r in response.context["runs"]}
    assert shown == {runs[name].pk for name in expected}


def test_the_runs_tab_paginates_25_runs_a_page_keeping_the_filters(staff, connection):
    for _ in range(30):
        _finished_run(connection, dry_run=True)
    _finished_run(connection)  # a real sync, filtered out
    url = reverse("connections:runs", args=[connection.pk])

    first = staff.get(url, {"type": "dry"})
    second = staff.get(url, {"type": "dry", "page": 2})

    assert len(first.context["runs"]) == 25
    assert len(second.context["runs"]) == 5
    assert first.context["page"].paginator.count == 30
    assert "?type=dry&amp;page=2" in first.content.decode()


def test_the_runs_tab_explains_what_to_do_when_there_are_no_runs(staff, connection):
    response = staff.get(reverse("connections:runs", args=[connection.pk]))

    assert response.status_code == 200
    assert b"No runs yet" in response.content


def test_a_filter_that_matches_nothing_says_so(staff, connection):
    _finished_run(connection)

    response = staff.get(reverse("connections:runs", args=[connection.pk]), {"status": "blocked"})

    assert b"No runs match these filters" in response.content


# -- a run's page ---------------------------------------------------------------------


def _report_run(connection, **fields) -> SyncRun:
    changes = (
        [_change("create", f"C{i:03}", fields={"first_name": [None, f"New{i}"]}) for i in range(150)]
        + [_change("update", f"U{i:03}", person_id=None, fields={"job_title": ["Driver", "Manager"]}) for i in range(60)]
        + [_change("error", "E1", message="Status 'Gone' is not in the status map.")]
        + [_change("unchanged", "W1", warnings=["Location 'L9' is not mapped to a depot."])]
    )
    report = {
        "changes": changes,
        "locations": [
            {"action": "create", "remote_location_id": "L1", "remote_name": "Leeds", "old_name": "",
             "mapping_id": None, "depot_id": None, "depot_name": "", "message": "New location: map it to a depot."}
        ],
        "notes": ["Applied dry run #1 exactly as previewed."],
    }
    counts = {"created": 150, "updated": 60, "errors": 1, "unchanged": 1, "warnings": 1, "locations": {"create": 1}}
    return _finished_run(connection, status=Status.COMPLETED_WITH_ERRORS, report=report, counts=counts, **fields)


def test_the_run_page_shows_the_facts_counts_notes_and_the_first_50_changes(staff, connection):
    run = _report_run(connection, requested_by=staff.user)

    response = staff.get(reverse("connections:run", args=[connection.pk, run.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert len(response.context["changes"]) == 50
    assert response.context["page"].paginator.count == 212
    assert "Completed with errors" in html
    assert "staff" in html
    assert "Applied dry run #1 exactly as previewed." in html
    assert "Leeds" in html and "New location: map it to a depot." in html
    # A create: the new person, named; no field keys.
    assert "Name C000" in html and "first_name" not in html
    filters = {label: count for _slug, label, count, _selected in response.context["action_filters"]}
    assert filters == {
        "All": 212, "Create": 150, "Link": 0, "Update": 60, "Deactivate": 0, "Reactivate": 0,
        "Conflict": 0, "Error": 1, "Unchanged": 1, "Skipped": 0, "With warnings": 1,
    }
    assert reverse("connections:run_csv", args=[connection.pk, run.pk]) in html


def test_the_run_page_filters_by_action_and_paginates_the_filtered_changes(staff, connection):
    run = _report_run(connection)
    url = reverse("connections:run", args=[connection.pk, run.pk])

    updates = staff.get(url, {"action": "update"})
    creates_page_2 = staff.get(url, {"action": "create", "page": 2})
    warnings = staff.get(url, {"action": "warnings"})

    assert {c.action for c in updates.context["changes"]} == {"update"}
    assert len(updates.context["changes"]) == 50
    assert '<span class="old">Driver</span>' in updates.content.decode()
    assert [c.remote_id for c in creates_page_2.context["changes"]] == [f"C{i:03}" for i in range(50, 100)]
    assert [c.remote_id for c in warnings.context["changes"]] == ["W1"]
    assert "Location &#x27;L9&#x27; is not mapped to a depot." in warnings.content.decode()


def test_a_person_in_the_report_links_to_their_page(staff, connection):
    person = PersonFactory()
    run = _finished_run(connection, report={"changes": [_change("update", "A", person_id=person.pk)]})

    response = staff.get(reverse("connections:run", args=[connection.pk, run.pk]))

    assert reverse("people:detail", args=[person.pk]) in response.content.decode()


def test_a_failed_runs_error_is_shown_in_an_alert(staff, connection):
    run = _finished_run(connection, status=Status.FAILED, error="Personio rejected the client id (401).")

    response = staff.get(reverse("connections:run", args=[connection.pk, run.pk]))

    assert b'class="alert alert-error"' in response.content
    assert b"Personio rejected the client id (401)." in response.content


def test_a_run_of_another_connection_is_not_found(staff, connection):
    foreign = _finished_run(SyncRunFactory().connection)

    response = staff.get(reverse("connections:run", args=[connection.pk, foreign.pk]))

    assert response.status_code == 404


# -- the CSV ---------------------------------------------------------------------------


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_the_csv_has_one_row_per_changed_field_and_one_for_a_change_without_fields(staff, connection):
    person = PersonFactory()
    report = {
        "changes": [
            _change(
                "update", "A1", person_id=person.pk, name="Ada Lovelace", email="ada@example.com",
                fields={"job_title": ["Driver", "Manager"], "depot": [None, "Leeds"]},
                warnings=["first", "second"],
            ),
            _change("error", "B2", name="Bob", email="", message="The record has no status."),
        ]
    }
    run = _finished_run(connection, report=report)

    response = staff.get(reverse("connections:run_csv", args=[connection.pk, run.pk]))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="hrsync-run-{run.pk}.csv"'
    header, *rows = _csv_rows(response)
    assert header == ["action", "remote_id", "person_id", "email", "name", "field", "old", "new", "message", "warnings"]
    # PostgreSQL's jsonb does not keep the order of a change's fields.
    assert sorted(rows[:2]) == [
        ["update", "A1", str(person.pk), "ada@example.com", "Ada Lovelace", "depot", "", "Leeds", "", "first; second"],
        ["update", "A1", str(person.pk), "ada@example.com", "Ada Lovelace", "job_title", "Driver", "Manager", "", "first; second"],
    ]
    assert rows[2:] == [["error", "B2", "", "", "Bob", "", "", "", "The record has no status.", ""]]


def test_the_csv_defuses_cells_a_spreadsheet_would_run_as_formulas(staff, connection):
    report = {
        "changes": [
            _change(
                "create", "=HYPERLINK(\"http://evil\")", name="+SUM(A1)", email="@evil",
                fields={"job_title": [None, "-2+3"], "custom.x": ["=1", "safe"]},
                message="=cmd|' /C calc'!A0",
            )
        ]
    }
    run = _finished_run(connection, report=report)

    rows = _csv_rows(staff.get(reverse("connections:run_csv", args=[connection.pk, run.pk])))

    first, second = sorted(rows[1:], key=lambda row: row[5] != "job_title")
    assert first[1] == "'=HYPERLINK(\"http://evil\")"
    assert first[3] == "'@evil"
    assert first[4] == "'+SUM(A1)"
    assert first[5:8] == ["job_title", "", "'-2+3"]
    assert first[8] == "'=cmd|' /C calc'!A0"
    assert second[5:8] == ["custom.x", "'=1", "safe"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_the_csv_writes_every_formula_a_spreadsheet_would_run_as_text(staff, connection, formula):
    report = {"changes": [_change("update", "A1", name=formula, fields={"job_title": ["Driver", formula]})]}
    run = _finished_run(connection, report=report)

    (row,) = _csv_rows(staff.get(reverse("connections:run_csv", args=[connection.pk, run.pk])))[1:]

    assert row[4] == "'" + formula
    assert row[5:8] == ["job_title", "Driver", "'" + formula]
    assert SyncRun.objects.get(pk=run.pk).changes[0]["name"] == formula


# -- a blocked run: approve or reject -------------------------------------------------------


def test_a_blocked_run_lists_who_would_be_deactivated_with_approve_and_reject(staff, connection, blocked_run):
    response = staff.get(reverse("connections:run", args=[connection.pk, blocked_run.pk]))

    html = response.content.decode()
    assert "Blocked by the safeguard." in html
    assert "Static HR returned no records, so this sync would deactivate all 4 people" in html
    assert "4 people would be deactivated" in html
    for person in Person.objects.all():
        assert reverse("people:detail", args=[person.pk]) in html
        assert person.email in html
    assert reverse("connections:run_approve", args=[connection.pk, blocked_run.pk]) in html
    assert reverse("connections:run_reject", args=[connection.pk, blocked_run.pk]) in html


def test_approve_asks_for_confirmation_first_and_changes_nothing(staff, connection, blocked_run):
    before = table_snapshot()

    response = staff.post(reverse("connections:run_approve", args=[connection.pk, blocked_run.pk]))

    assert response.status_code == 200
    assert b"Deactivate 4 people?" in response.content
    assert b"Approve and apply" in response.content
    assert table_snapshot() == before


def test_approving_a_blocked_run_applies_it(staff, connection, blocked_run, django_capture_on_commit_callbacks):
    url = reverse("connections:run_approve", args=[connection.pk, blocked_run.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, {"confirm": "yes"})

    assert response.status_code == 302
    assert response["Location"] == reverse("connections:run", args=[connection.pk, blocked_run.pk])
    assert _flashes(response) == [f"Approved: Sync #{blocked_run.pk} is being applied."]
    blocked_run.refresh_from_db()
    assert blocked_run.status == Status.SUCCEEDED
    assert blocked_run.decided_by == staff.user
    assert Person.objects.filter(status=Person.Status.INACTIVE).count() == 4


def test_rejecting_a_blocked_run_marks_it_rejected_and_changes_nothing(staff, connection, blocked_run, django_capture_on_commit_callbacks):
    url = reverse("connections:run_reject", args=[connection.pk, blocked_run.pk])
    before = table_snapshot(exclude=("connections.SyncRun",))

    confirm_page = staff.post(url)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, {"confirm": "yes"})

    assert f"Reject Sync #{blocked_run.pk}?".encode() in confirm_page.content
    assert response.status_code == 302
    assert _flashes(response) == [f"Rejected: nothing from Sync #{blocked_run.pk} was applied."]
    blocked_run.refresh_from_db()
    assert blocked_run.status == Status.REJECTED
    assert blocked_run.decided_by == staff.user
    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert not Person.objects.filter(status=Person.Status.INACTIVE).exists()


def test_approving_a_run_that_is_not_blocked_warns_and_changes_nothing(staff, connection):
    run = _finished_run(connection)

    response = staff.post(reverse("connections:run_approve", args=[connection.pk, run.pk]), {"confirm": "yes"})

    assert response.status_code == 302
    assert "not blocked" in _flashes(response)[0]
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED and run.decided_at is None


def test_approving_while_another_sync_runs_warns_and_changes_nothing(staff, connection, blocked_run):
    SyncRun.objects.create(connection=connection, status=Status.RUNNING)

    response = staff.post(
        reverse("connections:run_approve", args=[connection.pk, blocked_run.pk]), {"confirm": "yes"}
    )

    assert response.status_code == 302
    assert _flashes(response) == ["A sync is already running for Static HR."]
    blocked_run.refresh_from_db()
    assert blocked_run.status == Status.BLOCKED and blocked_run.decided_at is None


# -- applying a dry run ---------------------------------------------------------------------


def test_a_fresh_dry_run_offers_to_apply_it(staff, connection, source):
    source.employees = [employee("1")]
    dry = run_sync(connection, scope="employees", dry_run=True)

    response = staff.get(reverse("connections:run", args=[connection.pk, dry.pk]))

    assert response.context["can_apply"] is True
    assert b"Apply this dry run" in response.content


def test_a_dry_run_that_would_change_nothing_says_so_instead_of_offering_apply(staff, connection, source):
    source.employees = [employee("1")]
    run_sync(connection, scope="employees")
    EmployeeMappingFactory(connection=connection, remote_id="2", person=None, state="excluded")
    source.employees = [employee("1"), employee("2")]
    dry = run_sync(connection, scope="employees", dry_run=True)
    assert (dry.counts["unchanged"], dry.counts["skipped"], dry.counts["created"]) == (1, 1, 0)

    response = staff.get(reverse("connections:run", args=[connection.pk, dry.pk]))

    html = response.content.decode()
    assert response.context["can_apply"] is False
    assert "Apply this dry run" not in html
    assert reverse("connections:run_apply", args=[connection.pk, dry.pk]) not in html
    assert "Nothing to apply: every record would stay as it is (1 skipped, 1 unchanged)." in html


def test_a_dry_run_that_only_adds_locations_offers_to_apply_it(staff, connection, source):
    source.locations = [RemoteLocation("L1", "Leeds")]
    dry = run_sync(connection, scope="locations", dry_run=True)

    response = staff.get(reverse("connections:run", args=[connection.pk, dry.pk]))

    assert response.context["can_apply"] is True
    assert b"Apply this dry run" in response.content and b"Nothing to apply" not in response.content


def test_applying_a_dry_run_starts_a_run_from_it_and_opens_its_page(staff, connection, source, django_capture_on_commit_callbacks):
    source.employees = [employee("1"), employee("2")]
    dry = run_sync(connection, scope="employees", dry_run=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(reverse("connections:run_apply", args=[connection.pk, dry.pk]))

    applied = SyncRun.objects.get(applied_from=dry)
    assert response.status_code == 302
    assert response["Location"] == reverse("connections:run", args=[connection.pk, applied.pk])
    assert _flashes(response) == [f"Applying Dry run #{dry.pk}: Sync #{applied.pk} is on its way."]
    assert applied.status == Status.SUCCEEDED
    assert applied.requested_by == staff.user
    assert sorted(Person.objects.values_list("email", flat=True)) == ["1@example.com", "2@example.com"]
    # Applied: the dry run no longer offers it, and a second click does not sync again.
    page = staff.get(reverse("connections:run", args=[connection.pk, dry.pk]))
    assert page.context["can_apply"] is False
    again = staff.post(reverse("connections:run_apply", args=[connection.pk, dry.pk]))
    assert "was applied already" in _flashes(again)[0]
    assert SyncRun.objects.filter(applied_from=dry).count() == 1


def test_applying_a_dry_run_that_deactivates_people_asks_for_confirmation_first(
    staff, connection, source, django_capture_on_commit_callbacks
):
    _seed_mapped_people(connection, 3)
    source.employees = [employee("0")]
    dry = run_sync(connection, scope="employees", dry_run=True)
    url = reverse("connections:run_apply", args=[connection.pk, dry.pk])

    confirm_page = staff.post(url)

    assert confirm_page.status_code == 200
    assert b"deactivate 2 people?" in confirm_page.content
    assert not SyncRun.objects.filter(applied_from=dry).exists()
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(url, {"confirm": "yes"})
    assert SyncRun.objects.get(applied_from=dry).status == Status.SUCCEEDED
    assert Person.objects.filter(status=Person.Status.INACTIVE).count() == 2


def test_applying_a_real_run_warns_and_starts_nothing(staff, connection):
    run = _finished_run(connection)

    response = staff.post(reverse("connections:run_apply", args=[connection.pk, run.pk]))

    assert response.status_code == 302
    assert "is not a finished dry run" in _flashes(response)[0]
    assert SyncRun.objects.count() == 1


def test_applying_while_a_sync_runs_warns_and_starts_nothing(staff, connection):
    dry = _finished_run(connection, dry_run=True)
    SyncRun.objects.create(connection=connection, status=Status.QUEUED)

    response = staff.post(reverse("connections:run_apply", args=[connection.pk, dry.pk]))

    assert _flashes(response) == ["A sync is already running for Static HR."]
    assert not SyncRun.objects.filter(applied_from=dry).exists()


# -- methods and access -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run_approve", "run_reject", "run_apply"])
def test_the_decision_endpoints_refuse_get(staff, connection, name):
    run = _finished_run(connection)

    response = staff.get(reverse(f"connections:{name}", args=[connection.pk, run.pk]))

    assert response.status_code == 405


@pytest.mark.parametrize("name", ["runs", "run", "run_csv", "run_approve", "run_reject", "run_apply"])
def test_the_runs_pages_are_for_staff_only(client, connection, name):
    run = _finished_run(connection)
    args = [connection.pk] if name == "runs" else [connection.pk, run.pk]
    url = reverse(f"connections:{name}", args=args)
    method = client.get if name in ("runs", "run", "run_csv") else client.post

    anonymous = method(url)
    client.force_login(get_user_model().objects.create_user("clerk"))
    non_staff = method(url)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert non_staff.status_code == 403
