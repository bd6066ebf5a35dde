"""The Overview tab: the last run's counters (linked to the records they
count, only for what the run read), the picture of the last 30 runs, the
banner of a disabled connection, and the health bar said once."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.history import HISTORY_RUNS
from connections.models import SyncRun
from tests.connections.helpers import run_sync
from tests.connections.static_connector import employee
from tests.factories import ConnectionFactory, SyncRunFactory

pytestmark = pytest.mark.django_db
Status = SyncRun.Status


def overview(staff, connection) -> str:
    response = staff.get(reverse("connections:overview", args=[connection.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _finished(connection, minutes_ago: int = 1, **fields) -> SyncRun:
    finished = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return SyncRunFactory(
        connection=connection, started_at=finished - dt.timedelta(seconds=30), finished_at=finished,
        **{"status": Status.SUCCEEDED, "scope": "employees", **fields},
    )


def _chart(html: str) -> str:
    return re.search(r'<svg class="run-chart".*?</svg>', html, re.S).group(0)


# -- the last run's counters ----------------------------------------------------------------


def test_the_conflict_and_error_counts_link_to_where_they_are_listed(staff, connection, source):
    source.employees = [employee("1", email="dup@example.com"), employee("2", email="dup@example.com"), employee("")]
    run = run_sync(connection, scope="employees")

    html = overview(staff, connection)

    employees = reverse("connections:employees", args=[connection.pk])
    run_url = reverse("connections:run", args=[connection.pk, run.pk])
    assert (
        f'<li class="stat is-warn"><a class="stat-link" href="{employees}?filter=conflicts">'
        '<span class="stat-value">2</span><span class="stat-label">conflicts</span></a></li>'
    ) in html
    assert (
        f'<li class="stat is-bad"><a class="stat-link" href="{run_url}?action=error">'
        '<span class="stat-value">1</span><span class="stat-label">errors</span></a></li>'
    ) in html
    # The lists they open hold what they count.
    conflicts = staff.get(f"{employees}?filter=conflicts").content.decode()
    assert "dup@example.com" in conflicts
    # A counter at zero opens nothing.
    assert '<li class="stat is-zero"><span class="stat-value">0</span><span class="stat-label">deactivated</span></li>' in html


def test_a_run_of_locations_only_shows_no_person_counters(staff, connection):
    _finished(connection, scope="locations", counts={"locations": {"create": 3, "update": 1, "unchanged": 0}})

    html = overview(staff, connection)

    assert 'aria-label="People in this run"' not in html
    assert '<span class="stat-label">created</span>' not in html
    assert '<span class="stat-value">3</span><span class="stat-label">new</span>' in html
    assert '<span class="stat-value">1</span><span class="stat-label">renamed</span>' in html


def test_a_failed_run_read_nothing_so_it_shows_no_counters(staff, connection):
    _finished(connection, status=Status.FAILED, error="The HR system did not answer. Nothing was changed.")

    html = overview(staff, connection)

    assert "The HR system did not answer." in html
    assert 'aria-label="People in this run"' not in html


# -- the picture of the last runs ---------------------------------------------------------------


def test_the_history_chart_has_one_bar_per_run_up_to_thirty_and_marks_blocked_runs(staff, connection):
    for n in range(HISTORY_RUNS + 4):
        _finished(connection, minutes_ago=100 - n, counts={"created": n, "updated": 2, "errors": n % 3})
    blocked = _finished(connection, minutes_ago=2, status=Status.BLOCKED, scope="all", counts={"deactivated": 40})
    failed = _finished(connection, minutes_ago=1, status=Status.FAILED, counts={})
    SyncRunFactory(connection=connection, status=Status.RUNNING)  # not finished: not drawn

    chart = _chart(overview(staff, connection))

    bars = re.findall(r'<a href="([^"]+)" class="chart-bar[^"]*" aria-label="([^"]+)">', chart)
    assert len(bars) == HISTORY_RUNS
    newest = [url for url, _label in bars[-2:]]
    assert newest == [
        reverse("connections:run", args=[connection.pk, blocked.pk]),
        reverse("connections:run", args=[connection.pk, failed.pk]),
    ]
    assert chart.count('class="chart-marker chart-blocked"') == 1
    assert chart.count('class="chart-marker chart-failed"') == 1
    assert f"Sync #{blocked.pk}" in bars[-2][1] and "blocked by safeguard: would have changed" in bars[-2][1]
    assert chart.count("<title>") == HISTORY_RUNS
    # Each bar stacks what its run counted: the tallest (40 deactivated) fills the plot.
    blocked_bar = re.search(rf'href="{bars[-2][0]}".*?</a>', chart, re.S).group(0)
    assert 'class="chart-deactivated"' in blocked_bar and 'height="106.0"' in blocked_bar
    assert "style=" not in chart


def test_the_history_chart_says_its_runs_in_words_too(staff, connection):
    run = _finished(connection, counts={"created": 4, "updated": 1, "deactivated": 2, "errors": 0})
    _finished(connection, dry_run=True, counts={"created": 9})

    html = overview(staff, connection)

    assert 'aria-describedby="history-about"' in _chart(html)
    assert '<ul class="chart-legend small">' in html
    table = re.search(r'<details class="chart-table">.*?</details>', html, re.S).group(0)
    row = re.search(rf"<tr>\s*<th scope=\"row\"><a href=\"[^\"]+\">Sync #{run.pk}</a></th>.*?</tr>", table, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["4", "1", "2", "0"]
    assert 'class="chart-bar is-dry"' in _chart(html)


def test_a_connection_without_a_finished_run_shows_no_chart(staff, connection):
    SyncRunFactory(connection=connection, status=Status.QUEUED)

    assert "run-chart" not in overview(staff, connection)


# -- a disabled connection ---------------------------------------------------------------------


def test_a_disabled_connection_says_so_and_can_be_enabled_from_the_banner(staff, connection):
    connection.enabled = False
    connection.save()

    html = overview(staff, connection)

    banner = re.search(r'<div class="alert alert-warning alert-with-action".*?</div>', html, re.S).group(0)
    assert "This connection is disabled" in banner
    assert "admin" not in banner.lower()
    assert f'action="{reverse("connections:options", args=[connection.pk])}"' in banner
    assert '<input type="hidden" name="option" value="enabled">' in banner
    assert '<button type="submit" class="button" name="value" value="true">Enable the connection</button>' in banner

    response = staff.post(
        reverse("connections:options", args=[connection.pk]), {"option": "enabled", "value": "true"}, follow=True
    )

    connection.refresh_from_db()
    assert connection.enabled is True
    html = response.content.decode()
    assert "The connection is enabled: it can sync again." in html
    assert "This connection is disabled" not in html


# -- the health bar, said once ---------------------------------------------------------------


def test_after_a_test_the_health_sentence_is_said_once(staff):
    connection = ConnectionFactory(kind="sample", name="Sample HR")

    response = staff.post(reverse("connections:test", args=[connection.pk]), follow=True)

    connection.refresh_from_db()
    assert connection.last_check_ok is True and connection.last_check_message
    assert response.content.decode().count(connection.last_check_message) == 1
