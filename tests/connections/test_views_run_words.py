"""What the run pages call a run and how it ended, in an HR admin's words:
statuses that say what happened, one title per run on every page, times
that read naturally, and the Runs tab's trigger filter offering only what
the connection can produce."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from connections.models import SyncRun
from connections.runs import sync_run_reject
from tests.connections.helpers import run_sync
from tests.connections.static_connector import employee
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory, SyncRunFactory

pytestmark = pytest.mark.django_db
Status = SyncRun.Status


def page(staff, name: str, *args) -> str:
    response = staff.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def _text(html: str) -> str:
    """The page's words, tags and runs of white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _without_filters(html: str) -> str:
    """The page less its filter menus, which list every status there is."""
    return re.sub(r"<select.*?</select>", "", html, flags=re.S)


def _pages_of(staff, run: SyncRun) -> dict[str, str]:
    connection = run.connection
    return {
        "overview": page(staff, "connections:overview", connection.pk),
        "runs": page(staff, "connections:runs", connection.pk),
        "list": page(staff, "connections:list"),
        "run": page(staff, "connections:run", connection.pk, run.pk),
    }


# -- statuses that say what happened --------------------------------------------------------


def test_a_run_whose_only_problems_are_conflicts_reads_completed_with_conflicts(staff, connection, source):
    source.employees = [employee("1", email="dup@example.com"), employee("2", email="dup@example.com"), employee("3")]

    run = run_sync(connection, scope="employees")

    assert (run.status, run.counts["errors"], run.counts["conflicts"]) == (Status.COMPLETED_WITH_CONFLICTS, 0, 2)
    for name, html in _pages_of(staff, run).items():
        assert "Completed with conflicts" in html, name
        assert "Completed with errors" not in _without_filters(html), name
    assert '<span class="badge badge-completed_with_conflicts">Completed with conflicts</span>' in page(
        staff, "connections:runs", connection.pk
    )


def test_a_run_with_an_error_row_still_reads_completed_with_errors(staff, connection, source):
    source.employees = [employee("1", email="dup@example.com"), employee("2", email="dup@example.com"), employee("")]

    run = run_sync(connection, scope="employees")

    assert run.status == Status.COMPLETED_WITH_ERRORS
    assert "Completed with errors" in page(staff, "connections:runs", connection.pk)


def test_a_blocked_run_an_admin_rejected_reads_rejected_not_cancelled(staff, connection, source):
    connection.safeguard_min = 0
    connection.save()
    for n in range(3):
        EmployeeMappingFactory(connection=connection, remote_id=str(n), person=PersonFactory(email=f"{n}@example.com"))
    source.employees = []
    blocked = run_sync(connection, scope="employees")
    assert blocked.status == Status.BLOCKED

    sync_run_reject(run=blocked)

    pages = _pages_of(staff, blocked)
    for name in ("overview", "runs", "list", "run"):
        assert '<span class="badge badge-rejected">Rejected</span>' in pages[name] or (
            f'class="badge badge-rejected" href="{reverse("connections:run", args=[connection.pk, blocked.pk])}">Rejected</a>'
            in pages[name]
        ), name
        assert "Cancelled" not in _without_filters(pages[name]), name
    options = re.search(r'<select id="runs-status".*?</select>', pages["runs"], re.S).group(0)
    assert '<option value="rejected">Rejected</option>' in options
    assert '<option value="completed_with_conflicts">Completed with conflicts</option>' in options


def test_a_leaver_never_created_is_counted_as_skipped_and_says_so(staff, connection, source):
    source.employees = [employee("1", status="Terminated"), employee("2")]

    run = run_sync(connection, scope="employees")

    assert (run.counts["skipped"], run.counts["unchanged"]) == (1, 0)
    overview = page(staff, "connections:overview", connection.pk)
    skip_url = reverse("connections:run", args=[connection.pk, run.pk]) + "?action=skip"
    assert (
        f'<a class="stat-link" href="{skip_url}"><span class="stat-value">1</span>'
        '<span class="stat-label">skipped</span></a>'
    ) in overview
    assert "1 skipped" in _text(page(staff, "connections:runs", connection.pk))
    report = _text(staff.get(skip_url).content.decode())
    assert "Skipped — left before their first sync (the source says Terminated)." in report


# -- one title per run ------------------------------------------------------------------------


def test_a_run_has_the_same_title_on_every_page(staff, connection, source):
    source.employees = [employee("1")]
    dry = run_sync(connection, scope="employees", dry_run=True)

    pages = _pages_of(staff, dry)

    title = f"Dry run #{dry.pk}"
    assert dry.title == title
    run_url = reverse("connections:run", args=[connection.pk, dry.pk])
    assert f'<a href="{run_url}">{title}</a>' in pages["overview"]
    assert f'<a href="{run_url}">{title}</a>' in pages["runs"]
    assert f"{title} · " in pages["list"]
    assert f"<title>{title} · {connection.name} · hrsync</title>" in pages["run"]
    assert f'<h2 class="run-title">{title}' in pages["run"]
    for name, html in pages.items():
        # None of the names a run had before.
        assert "Sync Employees (Dry Run) #" not in html, name
        assert f"{connection.name} #{dry.pk}" not in html, name


def test_a_sync_is_titled_sync_and_the_title_is_used_in_the_decision_messages(staff, connection, source):
    source.employees = [employee("1"), employee("2")]
    dry = run_sync(connection, scope="employees", dry_run=True)

    response = staff.post(reverse("connections:run_apply", args=[connection.pk, dry.pk]), follow=True)

    applied = SyncRun.objects.get(applied_from=dry)
    assert applied.title == f"Sync #{applied.pk}"
    assert f"Applying Dry run #{dry.pk}: Sync #{applied.pk} is on its way." in response.content.decode()


# -- times -------------------------------------------------------------------------------------


def test_a_run_finished_seconds_ago_reads_just_now_and_never_zero_minutes_ago(staff, connection):
    now = timezone.now()
    run = SyncRunFactory(
        connection=connection, status=Status.SUCCEEDED, scope="employees", started_at=now - dt.timedelta(seconds=8),
        finished_at=now - dt.timedelta(seconds=3), counts={"created": 1},
    )
    SyncRunFactory(connection=connection, status=Status.QUEUED)

    pages = _pages_of(staff, run)

    for name in ("overview", "runs", "list"):
        assert "just now</time>" in pages[name], name
    for name, html in pages.items():
        assert "0\xa0minutes" not in html and "0 minutes" not in html, name
    assert "Queued <time" in pages["runs"]
    queued, finished = re.findall(r'<td data-label="Started" class="nowrap">(.*?)</td>', pages["runs"])
    assert queued.startswith('<span class="muted">Queued <time datetime="')
    assert finished.startswith(f'<time datetime="{run.started_at.isoformat()}" title="')


# -- the Runs tab's trigger filter ----------------------------------------------------------------


def _trigger_options(staff, connection) -> list[str]:
    SyncRunFactory(connection=connection, status=Status.SUCCEEDED)  # the filters show once there is a run
    html = page(staff, "connections:runs", connection.pk)
    select = re.search(r'<select id="runs-trigger".*?</select>', html, re.S).group(0)
    return re.findall(r"<option value=\"(\w*)\"", select)


@pytest.mark.parametrize("kind", ["sample", "csv_file", "actionhrm"])
def test_the_trigger_filter_offers_no_upload_or_webhook_to_a_connection_that_cannot_receive_them(staff, kind):
    connection = ConnectionFactory(kind=kind)

    assert _trigger_options(staff, connection) == ["", "manual", "schedule", "cli"]


def test_the_trigger_filter_offers_what_the_connector_declares_it_receives(staff, connection, source, monkeypatch):
    monkeypatch.setattr(source, "inbound", frozenset({"upload"}))

    assert _trigger_options(staff, connection) == ["", "manual", "schedule", "upload", "cli"]


def test_the_trigger_filter_keeps_a_trigger_the_connections_runs_already_have(staff):
    connection = ConnectionFactory(kind="sample")
    SyncRunFactory(connection=connection, status=Status.SUCCEEDED, trigger=SyncRun.Trigger.WEBHOOK)

    assert _trigger_options(staff, connection) == ["", "manual", "schedule", "webhook", "cli"]


def test_the_runs_list_counts_one_conflict_and_one_error_in_the_singular(staff, connection):
    SyncRunFactory(
        connection=connection, status=Status.COMPLETED_WITH_ERRORS,
        counts={"created": 2, "conflicts": 1, "errors": 1, "warnings": 3, "unchanged": 9},
    )

    html = page(staff, "connections:runs", connection.pk)

    assert '<td data-label="Changes" class="small">2 created · 1 conflict · 1 error · 3 warnings</td>' in html


def test_the_runs_list_says_who_started_each_run_in_one_column(staff, connection):
    user = get_user_model().objects.create_user("ada", is_staff=True)
    SyncRunFactory(connection=connection, status=Status.SUCCEEDED, requested_by=user)
    SyncRunFactory(connection=connection, status=Status.SUCCEEDED, trigger=SyncRun.Trigger.SCHEDULE)

    html = page(staff, "connections:runs", connection.pk)

    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', html)
    assert headers == ["Run", "Status", "Started", "Duration", "Changes", "Started by"]
    assert '<td data-label="Started by">Manual<span class="sub">ada</span></td>' in html
    assert '<td data-label="Started by">Schedule</td>' in html
