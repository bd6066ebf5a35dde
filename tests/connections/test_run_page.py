"""A run's page: 50 changes a page, searchable and filterable together;
each change in words (labels, names, links), the decisions at the top,
counters for the streams the run read; and a page of a large report that
reads only its own part of it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections import fields as report_fields
from connections.models import SyncRun
from hrsync.people.models import Person
from tests.connections.helpers import run_sync
from tests.connections.static_connector import StaticConnector, employee
from tests.factories import DepotFactory, EmployeeMappingFactory, PersonFactory, SyncRunFactory

pytestmark = pytest.mark.django_db
Status = SyncRun.Status


def _change(action: str, remote_id: str, **extra) -> dict:
    return {
        "action": action, "remote_id": remote_id, "person_id": None, "email": f"{remote_id.lower()}@example.com",
        "name": f"Name {remote_id}", "fields": {}, "values": {}, "mapping": None, "mapping_id": None,
        "message": "", "warnings": [], "position": "", **extra,
    }


def _run(connection, changes, **fields) -> SyncRun:
    now = timezone.now()
    defaults = {"status": Status.SUCCEEDED, "started_at": now - dt.timedelta(seconds=5), "finished_at": now,
                "counts": {"created": 1}}
    report = {"streams": {"employees": {"records": len(changes), "full_snapshot": True}}, "changes": changes}
    return SyncRunFactory(connection=connection, report=report, **{**defaults, **fields})


def _report(connection, **fields) -> SyncRun:
    """130 creates, 60 updates, an error and an unchanged record with a warning."""
    changes = (
        [_change("create", f"C{i:03}", name=f"Cara {i:03}", fields={"first_name": [None, f"Cara{i}"]})
         for i in range(130)]
        + [_change("update", f"U{i:03}", name=f"Umar {i:03}", fields={"job_title": ["Driver", f"Manager {i}"]})
           for i in range(60)]
        + [_change("error", "E1", message="Status 'Gone' is not in the status map.")]
        + [_change("unchanged", "W1", warnings=["Location 'L9' is not mapped to a depot."])]
    )
    return _run(connection, changes, **fields)


def _page(staff, run, **params):
    return staff.get(reverse("connections:run", args=[run.connection_id, run.pk]), params)


def _shown(response) -> list[str]:
    return [row.remote_id for row in response.context["changes"]]


# -- pages, search, filter ------------------------------------------------------------


def test_the_run_page_shows_50_changes_a_page_with_the_action_counts(staff, connection):
    run = _report(connection)

    first = _page(staff, run)
    last = _page(staff, run, page=4)

    assert _shown(first) == [f"C{i:03}" for i in range(50)]
    assert first.context["page"].paginator.count == 192
    assert _shown(last) == [f"U{i:03}" for i in range(20, 60)] + ["E1", "W1"]
    filters = {label: count for _slug, label, count, _selected in first.context["action_filters"]}
    assert filters["All"] == 192 and filters["Create"] == 130 and filters["Update"] == 60
    assert filters["Error"] == 1 and filters["With warnings"] == 1


@pytest.mark.parametrize("query", ["cara 007", "C007@EXAMPLE.com", "c007"])
def test_the_run_page_searches_by_name_email_or_record_id(staff, connection, query):
    run = _report(connection)

    response = _page(staff, run, q=query)

    assert _shown(response) == ["C007"]
    assert 'value="%s"' % query in response.content.decode()


def test_the_search_the_filter_and_the_page_combine_and_are_kept_across_pages(staff, connection):
    run = _report(connection)

    # "0" is in every record id and email: 60 updates match, on two pages.
    first = _page(staff, run, q="0", action="update")
    second = _page(staff, run, q="0", action="update", page=2)

    assert first.context["page"].paginator.count == 60
    assert _shown(first) == [f"U{i:03}" for i in range(50)]
    assert _shown(second) == [f"U{i:03}" for i in range(50, 60)]
    html = first.content.decode()
    assert "?q=0&amp;action=update&amp;page=2#changes" in html
    # The chips count what the search matches and keep it; the search keeps the filter.
    assert "?q=0&amp;action=create#changes" in html
    assert '<input type="hidden" name="action" value="update">' in html


def test_a_search_that_matches_nothing_says_so(staff, connection):
    run = _report(connection)

    response = _page(staff, run, q="nobody-like-this", action="create")

    assert _shown(response) == []
    assert "No change matches “nobody-like-this” among create." in response.content.decode()


# -- each change in words ----------------------------------------------------------------


def test_a_create_is_a_card_and_an_update_its_changed_fields_all_in_labels(staff, connection, monkeypatch):
    monkeypatch.setattr(StaticConnector, "custom_field_labels", lambda self: {"shirt_size": "T-shirt size"}, raising=False)
    depot = DepotFactory(name="Leeds")
    person = PersonFactory(first_name="Ada")
    run = _run(connection, [
        _change("create", "N1", name="Nia Obi", fields={
            "first_name": [None, "Nia"], "last_name": [None, "Obi"], "hire_date": [None, "2024-03-01"],
            "status": [None, "active"], "custom.shirt_size": [None, "L"], "depot": [None, "Leeds"],
        }),
        _change("update", "A1", person_id=person.pk, name="Ada Lovelace", fields={
            "employee_reference": ["E1", "E2"], "custom.shoe": ["41", "42"], "status": ["active", "on_leave"],
        }),
    ])

    html = _page(staff, run).content.decode()

    card = re.search(r'<dl class="value-card">.*?</dl>', html, re.S).group(0)
    # The name is the person's, beside the card.
    assert "Nia Obi" in html and "First name" not in card
    assert "<dt>Hire date</dt><dd>1 Mar 2024</dd>" in card
    assert "<dt>Status</dt><dd>Active</dd>" in card
    assert "<dt>T-shirt size</dt><dd>L</dd>" in card
    assert f'<dt>Depot</dt><dd><a href="{reverse("people:list")}?depot={depot.pk}">Leeds</a></dd>' in card
    assert '<span class="field-name">Employee reference:</span><span class="old">E1</span>' in html
    assert '<span class="field-name">Shoe:</span>' in html
    assert '<span class="new">On leave</span>' in html
    for key in ("first_name", "employee_reference", "custom.", "hire_date", "on_leave"):
        assert key not in html


def test_a_connector_that_cannot_be_built_does_not_break_the_page(staff, connection, monkeypatch):
    def broken(self):
        raise RuntimeError("no settings")

    monkeypatch.setattr(StaticConnector, "custom_field_labels", broken, raising=False)
    run = _run(connection, [_change("update", "A1", fields={"custom.shirt_size": ["M", "L"]})])

    response = _page(staff, run)

    assert response.status_code == 200
    assert '<span class="field-name">Shirt size:</span>' in response.content.decode()


def test_a_manager_created_in_the_same_run_is_shown_by_name_with_a_link(staff, connection, source):
    source.employees = [
        employee("10", first_name="Rhea", last_name="Marsh", manager_remote_id="20"),
        employee("20", first_name="Grace", last_name="Hopper"),
    ]

    run = run_sync(connection, scope="employees")

    html = _page(staff, run).content.decode()
    grace = Person.objects.get(first_name="Grace")
    assert f'<dt>Manager</dt><dd><a href="{reverse("people:detail", args=[grace.pk])}">Grace Hopper</a></dd>' in html
    assert "record 20" not in html
    # A real run's created people link to their pages.
    rhea = Person.objects.get(first_name="Rhea")
    assert f'<a href="{reverse("people:detail", args=[rhea.pk])}">Rhea Marsh</a>' in html


# -- the page around the changes -----------------------------------------------------------


def test_a_locations_only_run_shows_location_counts_and_no_person_counters(staff, connection, source):
    run = run_sync(connection, scope="locations")

    html = _page(staff, run).content.decode()

    assert run.status == Status.SUCCEEDED
    assert '<dt class="stat-label">New locations</dt>' in html
    for counter in ("Created", "Updated", "Deactivated", "Conflicts"):
        assert f'<dt class="stat-label">{counter}</dt>' not in html


def test_an_employees_run_shows_the_person_counters_and_no_location_counts(staff, connection, source):
    source.employees = [employee("1")]

    html = _page(staff, run_sync(connection, scope="employees")).content.decode()

    assert '<dt class="stat-label">Created</dt><dd class="stat-value">1</dd>' in html
    assert "New locations" not in html


def test_approve_and_reject_come_before_the_counts_and_the_change_list(staff, connection, source):
    connection.safeguard_min = 0
    connection.save()
    for n in range(60):
        EmployeeMappingFactory(connection=connection, remote_id=str(n), person=PersonFactory())
    source.employees = []
    run = run_sync(connection, scope="employees")

    html = _page(staff, run).content.decode()

    assert run.status == Status.BLOCKED
    approve = html.index(reverse("connections:run_approve", args=[connection.pk, run.pk]))
    reject = html.index(reverse("connections:run_reject", args=[connection.pk, run.pk]))
    assert max(approve, reject) < html.index('id="run-counts"') < html.index('id="changes"')
    assert html.count("<li><a href=\"/people/") == 20  # the first 20 named beside the decision
    assert "60 people would be deactivated" in html


def test_apply_this_dry_run_comes_before_the_counts_and_the_change_list(staff, connection, source):
    source.employees = [employee(str(n)) for n in range(120)]
    dry = run_sync(connection, scope="employees", dry_run=True)

    html = _page(staff, dry).content.decode()

    assert html.index(reverse("connections:run_apply", args=[connection.pk, dry.pk])) < html.index('id="run-counts"')


def test_the_run_is_called_by_its_one_title(staff, connection):
    run = _report(connection, dry_run=True)

    html = _page(staff, run).content.decode()

    assert f"<title>Dry run #{run.pk} · Static HR · hrsync</title>" in html
    assert f'<h2 class="run-title">Dry run #{run.pk}' in html
    assert f"Run #{run.pk}" not in html


# -- a large report ------------------------------------------------------------------------------


def test_a_page_of_a_large_report_reads_a_constant_number_of_queries_and_chunks(staff, connection, monkeypatch):
    changes = [_change("update" if n % 2 else "create", f"R{n:05}", fields={"job_title": ["A", f"B{n}"]})
               for n in range(2000)]
    run = _run(connection, changes)
    decompressed = []
    original = report_fields.CompressedJSONField.from_db_value

    def counting(self, value, expression, connection_):
        decompressed.append(len(bytes(value or b"")))
        return original(self, value, expression, connection_)

    monkeypatch.setattr(report_fields.CompressedJSONField, "from_db_value", counting)

    queries = []
    for params in ({}, {"page": 20}, {"action": "update", "page": 15}, {"q": "r01999"}):
        decompressed.clear()
        with CaptureQueriesContext(db) as captured:
            response = _page(staff, run, **params)
        assert response.status_code == 200 and response.context["changes"]
        queries.append(len(captured))
        # The head, and the one chunk of 100 changes (two for a page of 50
        # updates spread over 100 changes each) that the page lies in.
        assert len(decompressed) <= 3, params
    # The same queries for any page of any filter; a search counts its matches once more.
    assert queries[0] == queries[1] == queries[2] == queries[3] - 1, queries
    assert _shown(response) == ["R01999"]
