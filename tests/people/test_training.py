"""Training records: deciding course requests (sent to the source, the
outcome kept on the record), the Training tab, the person page's section
and the ``training`` command."""

from __future__ import annotations

import datetime as dt
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from connectors.base import ConnectorError
from hrsync.people.models import TrainingRecord
from hrsync.people.training import TrainingRequestNotPending, training_record_list, training_request_decide
from tests.connections.training_source import training_source  # noqa: F401 - a fixture
from tests.factories import ConnectionFactory, PersonFactory, TrainingRecordFactory

pytestmark = pytest.mark.django_db

Decision = TrainingRecord.Decision


def page_text(response) -> str:
    html = response.content.decode()
    body = html[html.index("<main"):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.fixture
def academy(training_source):
    return ConnectionFactory(name="Academy")


@pytest.fixture
def jane(academy):
    return PersonFactory(first_name="Jane", last_name="Smith", email="jane@example.com")


@pytest.fixture
def request_(academy, jane):
    """Jane's provisional booking on First Aid: a course request."""
    return TrainingRecordFactory(
        connection=academy, person=jane, remote_id="D7", label="First Aid", status="Provisional",
        is_request=True, start_date=dt.date(2027, 1, 12), end_date=dt.date(2027, 1, 12),
    )


def _call(*args) -> str:
    out = StringIO()
    call_command("training", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# -- deciding ---------------------------------------------------------------------------


def test_approving_a_request_sends_it_and_keeps_who_decided_and_the_new_status(
    training_source, request_, django_user_model
):
    user = django_user_model.objects.create_user("hradmin", is_staff=True)

    training_request_decide(record=request_, approve=True, user=user)

    request_.refresh_from_db()
    assert training_source.decided == [("D7", True)]
    assert (request_.status, request_.is_request, request_.decision, request_.decided_by) == (
        "Booked", False, Decision.APPROVED, user,
    )
    assert request_.decided_at is not None and request_.decision_error == ""


def test_rejecting_a_request_cancels_it_at_the_source(training_source, request_):
    training_request_decide(record=request_, approve=False, user=None)

    request_.refresh_from_db()
    assert training_source.decided == [("D7", False)]
    assert (request_.status, request_.is_request, request_.decision) == ("Cancelled", False, Decision.REJECTED)


def test_a_decision_the_source_refuses_leaves_the_request_pending_with_the_reason(training_source, request_):
    training_source.decide_error = ConnectorError("The source refused the change (409).")

    training_request_decide(record=request_, approve=True, user=None)

    request_.refresh_from_db()
    assert (request_.status, request_.is_request, request_.decision, request_.decided_at) == (
        "Provisional", True, Decision.NONE, None,
    )
    assert request_.decision_error == (
        "The source refused the change (409). Nothing was changed in Static training source; try again."
    )


def test_a_record_that_is_not_a_pending_request_cannot_be_decided(training_source, request_):
    training_request_decide(record=request_, approve=True, user=None)

    with pytest.raises(TrainingRequestNotPending, match="is not waiting for a decision"):
        training_request_decide(record=request_, approve=False, user=None)

    request_.refresh_from_db()
    assert request_.decision == Decision.APPROVED
    assert training_source.decided == [("D7", True)]


def test_the_list_filters_pending_requests_and_searches_people_and_labels(academy, jane, request_):
    other = TrainingRecordFactory(connection=academy, label="Fire Safety", status="Completed")

    assert list(training_record_list(connection=academy, pending=True)) == [request_]
    assert list(training_record_list(connection=academy, query="smith")) == [request_]
    assert list(training_record_list(connection=academy, query="fire")) == [other]
    assert list(training_record_list(person=jane)) == [request_]


# -- the Training tab -------------------------------------------------------------------


def test_the_training_tab_lists_requests_with_approve_and_reject_and_every_record(staff, academy, request_):
    TrainingRecordFactory(connection=academy, label="Fire Safety", status="Completed", kind="booking")

    response = staff.get(reverse("connections:training", args=[academy.pk]))

    assert response.status_code == 200
    text = page_text(response)
    assert "Course requests waiting for a decision" in text
    assert "Jane Smith" in text and "12 Jan 2027" in text
    assert "Approve" in text and "Reject" in text
    assert "Fire Safety" in text
    assert ("training", "Training", "connections:training") in response.context["tabs"]


def test_the_approve_button_sends_the_decision_and_says_what_the_source_shows(
    staff, training_source, academy, request_
):
    response = staff.post(
        reverse("connections:training_decide", args=[academy.pk, request_.pk]), {"decision": "approve"}, follow=True
    )

    request_.refresh_from_db()
    assert (request_.decision, request_.decided_by, request_.status) == (Decision.APPROVED, staff.user, "Booked")
    assert "Approved: Jane Smith on First Aid, 12 Jan 2027. Static now shows Booked." in page_text(
        response
    )


def test_reject_asks_to_confirm_first_and_rejects_once_confirmed(staff, training_source, academy, request_):
    url = reverse("connections:training_decide", args=[academy.pk, request_.pk])

    unconfirmed = staff.post(url, {"decision": "reject"})
    request_.refresh_from_db()
    assert unconfirmed.status_code == 302 and request_.decision == Decision.NONE
    confirm = staff.get(url)
    assert "Reject this course request?" in page_text(confirm)

    staff.post(url, {"decision": "reject", "confirmed": "1"})

    request_.refresh_from_db()
    assert (request_.decision, request_.status) == (Decision.REJECTED, "Cancelled")


def test_a_failed_decision_is_shown_on_the_request_row(staff, training_source, academy, request_):
    training_source.decide_error = ConnectorError("The source could not be reached.")

    response = staff.post(
        reverse("connections:training_decide", args=[academy.pk, request_.pk]), {"decision": "approve"}, follow=True
    )

    text = page_text(response)
    assert "Could not approve Jane Smith on First Aid, 12 Jan 2027: The source could not be reached." in text
    assert "The last decision could not be sent: The source could not be reached." in text
    assert TrainingRecord.objects.get(pk=request_.pk).is_request is True


def test_the_training_tab_says_what_fills_it_when_empty(staff, academy):
    response = staff.get(reverse("connections:training", args=[academy.pk]))

    assert "Training records appear after the next sync of Academy" in page_text(response)


def test_a_connection_without_the_training_stream_has_no_training_tab(staff, monkeypatch, training_source, academy):
    monkeypatch.setattr(training_source, "streams", frozenset({"employees"}))

    assert staff.get(reverse("connections:training", args=[academy.pk])).status_code == 404
    tabs = staff.get(reverse("connections:overview", args=[academy.pk])).context["tabs"]
    assert "training" not in [slug for slug, _label, _url in tabs]


def test_the_overview_offers_sync_training(staff, academy):
    response = staff.get(reverse("connections:overview", args=[academy.pk]))

    assert 'value="training"' in response.content.decode()


# -- the person page --------------------------------------------------------------------


def test_the_person_page_lists_training_and_links_a_pending_request_to_the_tab(staff, academy, jane, request_):
    TrainingRecordFactory(connection=academy, person=jane, kind="award", label="Forklift licence", status="Achieved")

    response = staff.get(reverse("people:detail", args=[jane.pk]))

    text = page_text(response)
    assert "Training" in text and "Forklift licence" in text and "Award" in text
    assert "Waiting for a decision" in text
    assert reverse("connections:training", args=[academy.pk]) in response.content.decode()


def test_the_person_page_has_no_training_section_without_records(staff, jane):
    response = staff.get(reverse("people:detail", args=[jane.pk]))

    assert 'id="training-heading"' not in response.content.decode()


# -- the command ------------------------------------------------------------------------


def test_training_list_prints_the_records_and_pending_only_the_requests(academy, jane, request_):
    TrainingRecordFactory(connection=academy, remote_id="D8", label="Fire Safety", status="Completed")

    everything = _call("list", "Academy")
    pending = _call("list", str(academy.pk), "--pending")

    assert "D7" in everything and "D8" in everything and "Fire Safety" in everything
    assert "D7" in pending and "D8" not in pending


def test_training_list_json_is_filtered_by_person(academy, jane, request_):
    TrainingRecordFactory(connection=academy, remote_id="D8")

    data = json.loads(_call("list", "Academy", "--person", "JANE@example.com", "--json"))

    assert [(row["remote_id"], row["email"], row["pending"], row["status"]) for row in data] == [
        ("D7", "jane@example.com", True, "Provisional")
    ]


def test_training_approve_and_reject_decide_at_the_source(training_source, academy, jane, request_):
    TrainingRecordFactory(
        connection=academy, person=jane, remote_id="D9", status="Provisional", is_request=True
    )

    approved = _call("approve", "Academy", "D7")
    _call("reject", "Academy", "D9")

    assert approved.strip() == "Approved: Jane Smith on First Aid, 12 Jan 2027. Static now shows Booked."
    assert training_source.decided == [("D7", True), ("D9", False)]
    assert TrainingRecord.objects.get(remote_id="D9").decision == Decision.REJECTED


def test_training_approve_says_why_in_words_and_exits_as_other_commands(training_source, academy, request_):
    TrainingRecordFactory(connection=academy, remote_id="D8", status="Completed")
    with pytest.raises(CommandError) as unknown:
        _call("approve", "Academy", "NOPE")
    with pytest.raises(CommandError) as not_pending:
        _call("approve", "Academy", "D8")
    training_source.decide_error = ConnectorError("The source could not be reached.")
    with pytest.raises(CommandError) as failed:
        _call("approve", "Academy", "D7")

    assert (unknown.value.returncode, not_pending.value.returncode, failed.value.returncode) == (2, 2, 1)
    assert str(unknown.value) == "Academy has no training record with the id 'NOPE'."
    assert "is not waiting for a decision" in str(not_pending.value)
    assert "The source could not be reached. Nothing was changed in Static training source; try again." in str(
        failed.value
    )
    assert TrainingRecord.objects.get(remote_id="D7").is_request is True
