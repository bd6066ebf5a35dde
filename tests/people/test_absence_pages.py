"""The pages of absences: the person page's section, Add absence, Remove,
and a connection's Absences tab."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from hrsync.people.models import Absence
from tests.connections.absence_source import TODAY, absence_source  # noqa: F401 - a fixture
from tests.factories import ConnectionFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat


def page_text(response) -> str:
    html = response.content.decode()
    body = html[html.index("<main"):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.fixture
def ada(absence_source):
    return PersonFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")


@pytest.fixture
def hr(absence_source):
    return ConnectionFactory(name="Static HR")


def _pulled(person, connection, start, end=None, **fields):
    return Absence.objects.create(
        person=person, connection=connection, remote_id=fields.pop("remote_id", f"A{start}"),
        type_name=fields.pop("type_name", "Holiday"), start_date=D(start), end_date=D(end or start), **fields,
    )


# -- the person page -------------------------------------------------------------------


def test_the_person_page_lists_upcoming_and_recent_absences_with_where_each_came_from(staff, ada, hr):
    _pulled(ada, hr, "2026-03-10", "2026-03-12", half_day_end=True, type_name="Holiday")
    _pulled(ada, hr, "2026-02-01", status="pending", type_name="Sick leave")
    _pulled(ada, hr, "2025-06-01", type_name="Too old")
    mine = Absence.objects.create(person=ada, type_name="Training", start_date=TODAY, end_date=TODAY)

    response = staff.get(reverse("people:detail", args=[ada.pk]))

    text = page_text(response)
    assert response.status_code == 200
    upcoming, recent = text.split("Now and upcoming")[1].split(" Recent Recent absences ")
    assert "Training 2 Mar 2026 Approved Recorded in hrsync" in upcoming
    assert "Holiday 10 Mar – 12 Mar 2026 Half day at the end Approved From Static HR" in upcoming
    assert "Sick leave 1 Feb 2026 Pending From Static HR" in recent
    assert "Too old" not in text
    remove = reverse("people:absence_remove", args=[ada.pk, mine.pk])
    assert response.content.decode().count('">Remove</a>') == 1 and remove in response.content.decode()
    assert reverse("people:absence_new", args=[ada.pk]) in response.content.decode()


def test_the_person_page_says_so_when_there_are_no_absences(staff, ada):
    response = staff.get(reverse("people:detail", args=[ada.pk]))

    assert "No absences now, upcoming or in the last 90 days." in page_text(response)


def test_add_absence_records_one_and_goes_back_to_the_person(staff, ada):
    url = reverse("people:absence_new", args=[ada.pk])
    assert staff.get(url).status_code == 200

    response = staff.post(url, {
        "type_name": "Holiday", "start_date": "2026-03-10", "end_date": "2026-03-11",
        "half_day_start": "on", "status": "approved", "comment": "Family",
    })

    assert response.status_code == 302 and response.url == reverse("people:detail", args=[ada.pk])
    recorded = Absence.objects.get()
    assert (recorded.person, recorded.type_name, recorded.start_date, recorded.end_date) == (
        ada, "Holiday", D("2026-03-10"), D("2026-03-11"),
    )
    assert (recorded.half_day_start, recorded.half_day_end, recorded.comment, recorded.created_by) == (
        True, False, "Family", staff.user,
    )


def test_add_absence_shows_what_is_wrong_and_records_nothing(staff, ada):
    response = staff.post(reverse("people:absence_new", args=[ada.pk]), {
        "type_name": "Holiday", "start_date": "2026-03-10", "end_date": "2026-03-01", "status": "approved",
    })

    assert response.status_code == 200
    assert "The last day is before the first day." in page_text(response)
    assert not Absence.objects.exists()


def test_add_absence_says_where_it_is_sent(staff, absence_source, ada, hr):
    absence_source.direction = "to_source"
    EmployeeMappingFactory(connection=hr, remote_id="E1", person=ada)

    response = staff.get(reverse("people:absence_new", args=[ada.pk]))

    assert "Recorded here and sent to Static HR" in page_text(response)


def test_add_absence_says_one_added_here_stays_here_when_the_absences_come_from_the_hr_system(
    staff, absence_source, ada, hr
):
    EmployeeMappingFactory(connection=hr, remote_id="E1", person=ada)

    text = page_text(staff.get(reverse("people:absence_new", args=[ada.pk])))

    assert (
        "Absences of Ada Lovelace come from Static HR; one added here is kept in hrsync only and is not sent there."
        in text
    )
    assert "Recorded here in hrsync for Ada Lovelace." not in text


def test_add_absence_for_a_person_no_connection_exchanges_absences_for_says_it_is_recorded_here(staff, ada):
    text = page_text(staff.get(reverse("people:absence_new", args=[ada.pk])))

    assert "Recorded here in hrsync for Ada Lovelace." in text and "come from" not in text


def test_remove_asks_first_then_removes_an_absence_recorded_here(staff, ada):
    mine = Absence.objects.create(person=ada, type_name="Training", start_date=TODAY, end_date=TODAY)
    url = reverse("people:absence_remove", args=[ada.pk, mine.pk])

    confirm = staff.get(url)
    assert "Remove this absence?" in page_text(confirm)
    assert Absence.objects.filter(pk=mine.pk).exists()
    response = staff.post(url)

    assert response.status_code == 302
    assert not Absence.objects.filter(pk=mine.pk).exists()


def test_an_absence_from_a_connection_or_of_another_person_has_no_remove_page(staff, ada, hr):
    pulled = _pulled(ada, hr, "2026-03-10")
    other = Absence.objects.create(person=PersonFactory(), type_name="Training", start_date=TODAY, end_date=TODAY)

    assert staff.post(reverse("people:absence_remove", args=[ada.pk, pulled.pk])).status_code == 404
    assert staff.get(reverse("people:absence_remove", args=[ada.pk, other.pk])).status_code == 404
    assert Absence.objects.count() == 2


# -- the connection's Absences tab -----------------------------------------------------


def test_the_absences_tab_lists_a_pulling_connections_absences_and_says_where_they_come_from(staff, ada, hr):
    _pulled(ada, hr, "2026-03-10")
    Absence.objects.create(person=ada, type_name="Recorded here", start_date=TODAY, end_date=TODAY)

    response = staff.get(reverse("connections:absences", args=[hr.pk]))

    text = page_text(response)
    assert response.status_code == 200
    assert "Absences come from Static HR" in text
    # Said once above the table, not on every row.
    assert "Ada Lovelace ada@example.com Holiday 10 Mar 2026 Approved " in text
    assert "From Static HR" not in text and "Where from" not in text
    assert "Recorded here" not in text
    tabs = re.findall(r'<nav class="tabs".*?</nav>', response.content.decode(), re.S)[0]
    assert re.findall(r">(\w+)</a>", tabs) == ["Overview", "Employees", "Depots", "Absences", "Runs", "Settings"]


def test_the_absences_tab_of_a_sending_connection_lists_what_was_sent_there(staff, absence_source, ada, hr):
    absence_source.direction = "to_source"
    Absence.objects.create(
        person=ada, type_name="Holiday", start_date=TODAY, end_date=TODAY, push_connection=hr,
        push_state=Absence.PushState.REJECTED, push_error="Unknown absence type.",
    )

    text = page_text(staff.get(reverse("connections:absences", args=[hr.pk])))

    assert "Absences recorded in hrsync are sent to Static HR" in text
    assert "Sending to Static HR" in text and "Where from" not in text
    assert "Holiday 2 Mar 2026 Approved Refused Unknown absence type." in text
    assert "Refused by Static HR" not in text


def test_the_absences_tab_lists_current_and_upcoming_first_then_the_past_latest_first(staff, ada, hr):
    for start, end, name in (
        ("2026-01-05", "2026-01-06", "January"),
        ("2026-04-01", None, "April"),
        ("2026-02-20", "2026-02-25", "February"),
        ("2026-02-27", "2026-03-04", "Now"),
        ("2026-03-10", None, "March"),
        ("2025-12-01", None, "December"),
    ):
        _pulled(ada, hr, start, end, type_name=name)

    response = staff.get(reverse("connections:absences", args=[hr.pk]))

    assert [row.absence.type_name for row in response.context["rows"]] == [
        "Now", "March", "April", "February", "January", "December"
    ]


def test_the_absences_tab_says_where_each_came_from_when_the_rows_differ(staff, ada, hr):
    _pulled(ada, hr, "2026-03-10")
    Absence.objects.create(
        person=ada, type_name="Training", start_date=TODAY, end_date=TODAY, push_connection=hr,
        push_state=Absence.PushState.SENT,
    )

    text = page_text(staff.get(reverse("connections:absences", args=[hr.pk])))

    assert "Where from" in text and "From Static HR" in text and "Sent to Static HR" in text


def test_the_absences_tab_searches_and_pages(staff, ada, hr):
    grace = PersonFactory(first_name="Grace", last_name="Hopper")
    for day in range(60):
        _pulled(grace, hr, (TODAY + dt.timedelta(days=day)).isoformat())
    _pulled(ada, hr, "2026-03-10", type_name="Sick leave", remote_id="ADA")
    url = reverse("connections:absences", args=[hr.pk])

    first = page_text(staff.get(url))
    found = page_text(staff.get(url, {"q": "ada sick"}))

    assert "1–50 of 61 absences" in first
    assert "Grace Hopper" not in found and "Ada Lovelace" in found


def test_the_absences_tab_is_not_there_for_a_connection_with_absences_off(staff, absence_source, hr):
    absence_source.direction = ""

    response = staff.get(reverse("connections:absences", args=[hr.pk]))
    overview = staff.get(reverse("connections:overview", args=[hr.pk]))

    assert response.status_code == 404
    assert reverse("connections:absences", args=[hr.pk]) not in overview.content.decode()


def test_the_absences_pages_are_for_staff_only(client, django_user_model, ada, hr):
    client.force_login(django_user_model.objects.create_user("member"))

    assert client.get(reverse("connections:absences", args=[hr.pk])).status_code == 403
    assert client.get(reverse("people:absence_new", args=[ada.pk])).status_code == 403
    client.logout()
    assert client.get(reverse("connections:absences", args=[hr.pk])).status_code == 302


def test_the_run_page_shows_a_runs_absence_changes_and_pushes(staff, absence_source, ada, hr):
    from tests.connections.absence_source import absence
    from tests.connections.helpers import run_sync

    EmployeeMappingFactory(connection=hr, remote_id="E1", person=ada)
    absence_source.absences = [absence("A1", "E1", "2026-03-10"), absence("A2", "NOBODY", "2026-03-11")]
    pulled = run_sync(hr, scope="absences")
    absence_source.direction = "to_source"
    Absence.objects.create(
        person=ada, type_name="Training", start_date=TODAY, end_date=TODAY, push_connection=hr,
        push_state=Absence.PushState.PENDING,
    )
    sent = run_sync(hr, scope="absences")

    pulled_text = page_text(staff.get(reverse("connections:run", args=[hr.pk, pulled.pk])))
    sent_text = page_text(staff.get(reverse("connections:run", args=[hr.pk, sent.pk])))

    assert "New absences 1" in pulled_text and "Absence errors 1" in pulled_text
    assert "New Ada Lovelace Record id E1 Holiday 10 Mar 2026" in pulled_text
    assert "whom this connection does not know" in pulled_text
    assert "Absences sent to Static HR" in sent_text
    assert "Sent Ada Lovelace Training, 2 Mar 2026 Record id T1" in sent_text


def test_an_absences_only_run_says_nothing_of_how_employees_were_read(staff, absence_source, ada, hr, capsys):
    from django.core.management import call_command

    from tests.connections.absence_source import absence
    from tests.connections.helpers import run_sync
    from tests.connections.static_connector import employee

    EmployeeMappingFactory(connection=hr, remote_id="E1", person=ada)
    absence_source.absences = [absence("A1", "E1", "2026-03-10")]
    absences_only = run_sync(hr, scope="absences")
    absence_source.employees = [employee("E1", first_name="Ada", last_name="Lovelace", email="ada@example.com")]
    everything = run_sync(hr, scope="all")

    absences_page = staff.get(reverse("connections:run", args=[hr.pk, absences_only.pk])).content.decode()
    everything_page = staff.get(reverse("connections:run", args=[hr.pk, everything.pk])).content.decode()
    call_command("runs", "show", str(absences_only.pk))
    shown = capsys.readouterr().out

    assert "<dt>Read</dt>" not in absences_page and "Full read" not in absences_page
    assert "Full read" not in shown and "Delta:" not in shown
    assert '<dt>Read</dt><dd data-read="full">Full read</dd>' in everything_page
