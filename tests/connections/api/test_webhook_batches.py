"""Webhook deliveries that wait together are processed by one run: it
re-reads what they all name, each record once, and every delivery is
settled from it. Through Django's test client with the stub source
(``webhook_source``)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from connections.models import InboundFile, SyncRun
from connections.services import connection_create
from connections.sync import inbound
from connections.sync.inbound import inbound_file_process
from connectors.base import ConnectorError, WebhookTarget
from hrsync.people.models import Person
from tests.connections.api.test_webhooks import deliver, process_waiting, synced_people
from tests.connections.api.webhook_source import KIND, webhook_source  # noqa: F401 - fixture
from tests.connections.static_connector import employee
from tests.factories import SyncRunFactory

pytestmark = pytest.mark.django_db

Status = InboundFile.Status


@pytest.fixture
def hooked(webhook_source):
    return connection_create(kind=KIND, name="Acme training")


def deliveries_behind_a_running_sync(client, connection, *bodies: tuple[str, str]) -> SyncRun:
    """``bodies`` ((method, remote id) each) delivered while a sync runs:
    each waits. Returns that sync, which the test ends."""
    running = SyncRunFactory(connection=connection, status=SyncRun.Status.RUNNING)
    for method, remote_id in bodies:
        assert deliver(client, connection, {"module": "User", "id": remote_id}, method=method).status_code == 202
    first = InboundFile.objects.filter(connection=connection).order_by("pk").first()
    assert inbound_file_process(inbound_file_id=first.pk).status == Status.SCHEDULED
    return running


def end(run: SyncRun) -> None:
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED)


def test_deliveries_waiting_behind_a_sync_are_processed_by_one_run_each_record_read_once(
    client, hooked, webhook_source
):
    people = synced_people(webhook_source, hooked, "A1", "B2", "C3")
    webhook_source.current = {
        "A1": employee("A1", job_title="Trainer"),
        "C3": employee("C3", first_name="Cleo"),
    }
    running = deliveries_behind_a_running_sync(
        client, hooked, ("PUT", "A1"), ("PUT", "C3"), ("PATCH", "A1"), ("DELETE", "B2"), ("POST", "B2")
    )
    end(running)
    webhook_source.current["B2"] = employee("B2", first_name="Back")
    process_waiting(hooked)

    files = list(InboundFile.objects.filter(connection=hooked).order_by("pk"))
    assert len(files) == 5
    run = SyncRun.objects.get(connection=hooked, trigger=SyncRun.Trigger.WEBHOOK)
    assert {file.run_id for file in files} == {run.pk}
    assert all(file.status == Status.COMPLETE for file in files), [file.error for file in files]
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.inbound_file_id == files[0].pk
    # Each record once, with the latest delivery's event.
    assert webhook_source.reread == [
        WebhookTarget(stream="employees", remote_id="A1", deleted=False),
        WebhookTarget(stream="employees", remote_id="C3", deleted=False),
        WebhookTarget(stream="employees", remote_id="B2", deleted=False),
    ]
    assert Person.objects.get(pk=people["A1"].pk).job_title == "Trainer"
    assert Person.objects.get(pk=people["C3"].pk).first_name == "Cleo"
    # The DELETE and the later POST: the re-read says the record is there.
    back = Person.objects.get(pk=people["B2"].pk)
    assert (back.status, back.first_name) == (Person.Status.ACTIVE, "Back")
    assert "Processed 5 webhook deliveries naming 3 records." in run.report["notes"]


def test_a_failing_re_read_fails_the_run_and_every_delivery_of_the_batch(client, hooked, webhook_source):
    people = synced_people(webhook_source, hooked, "A1", "B2")
    running = deliveries_behind_a_running_sync(client, hooked, ("PUT", "A1"), ("PUT", "B2"), ("PATCH", "A1"))
    end(running)
    webhook_source.reread_error = ConnectorError("Hook source did not answer (timeout).")
    process_waiting(hooked)

    files = list(InboundFile.objects.filter(connection=hooked))
    run = SyncRun.objects.get(connection=hooked, trigger=SyncRun.Trigger.WEBHOOK)
    assert run.status == SyncRun.Status.FAILED
    assert {file.run_id for file in files} == {run.pk}
    assert [file.status for file in files] == [Status.ERROR] * 3
    assert all("Hook source did not answer (timeout)." in file.error for file in files)
    assert all(file.finished_at is not None for file in files)
    assert Person.objects.get(pk=people["A1"].pk).first_name == "FirstA1"


def test_the_cap_leaves_the_rest_waiting_for_the_next_run(client, hooked, webhook_source, monkeypatch):
    monkeypatch.setattr(inbound, "WEBHOOK_BATCH", 2)
    webhook_source.current = {remote_id: employee(remote_id) for remote_id in ("A1", "B2", "C3")}
    running = deliveries_behind_a_running_sync(client, hooked, ("POST", "A1"), ("POST", "B2"), ("POST", "C3"))
    end(running)
    first, second, third = InboundFile.objects.filter(connection=hooked).order_by("pk")

    inbound_file_process(inbound_file_id=first.pk)
    first.refresh_from_db(), second.refresh_from_db(), third.refresh_from_db()
    assert first.run_id == second.run_id is not None
    assert (first.status, second.status, third.status) == (Status.COMPLETE, Status.COMPLETE, Status.SCHEDULED)
    assert third.run_id is None

    inbound_file_process(inbound_file_id=third.pk)
    third.refresh_from_db()
    assert third.status == Status.COMPLETE
    assert third.run_id not in (None, first.run_id)
    assert SyncRun.objects.filter(connection=hooked, trigger=SyncRun.Trigger.WEBHOOK).count() == 2


def test_an_upload_waiting_among_deliveries_is_never_batched_with_them(client, hooked, webhook_source):
    webhook_source.current = {remote_id: employee(remote_id) for remote_id in ("A1", "B2", "C3")}
    running = SyncRunFactory(connection=hooked, status=SyncRun.Status.RUNNING)
    deliver(client, hooked, {"module": "User", "id": "A1"})
    upload = InboundFile.objects.create(
        connection=hooked, kind=InboundFile.Kind.EMPLOYEE, sha256="0" * 64, original_name="people.xml",
        content=ContentFile(b"<employees/>", name="people.xml"),
    )
    deliver(client, hooked, {"module": "User", "id": "B2"})
    before, after = InboundFile.objects.filter(connection=hooked, kind=InboundFile.Kind.WEBHOOK).order_by("pk")
    end(running)

    inbound_file_process(inbound_file_id=before.pk)
    before.refresh_from_db(), upload.refresh_from_db(), after.refresh_from_db()
    assert before.status == Status.COMPLETE
    # The delivery after the upload waits for its own turn, behind the upload.
    assert (upload.status, upload.run_id) == (Status.SCHEDULED, None)
    assert (after.status, after.run_id) == (Status.SCHEDULED, None)

    inbound_file_process(inbound_file_id=upload.pk)
    upload.refresh_from_db(), after.refresh_from_db()
    assert upload.run_id not in (None, before.run_id)
    assert (after.status, after.run_id) == (Status.SCHEDULED, None)
    assert SyncRun.objects.get(pk=upload.run_id).trigger == SyncRun.Trigger.UPLOAD

    inbound_file_process(inbound_file_id=after.pk)
    after.refresh_from_db()
    assert after.status == Status.COMPLETE
    assert after.run_id not in (before.run_id, upload.run_id)
    assert webhook_source.reread == [
        WebhookTarget(stream="employees", remote_id="A1", deleted=False),
        WebhookTarget(stream="employees", remote_id="B2", deleted=False),
    ]


def test_a_record_with_problems_is_a_result_of_the_deliveries_that_named_it_only(client, hooked, webhook_source):
    synced_people(webhook_source, hooked, "A1", "B2")
    webhook_source.current = {
        "A1": employee("A1", job_title="Trainer"),
        "B2": employee("B2", problems=["Email is missing."]),
    }
    running = deliveries_behind_a_running_sync(client, hooked, ("PUT", "A1"), ("PUT", "B2"), ("PATCH", "B2"))
    end(running)
    process_waiting(hooked)

    named_a1, named_b2, again_b2 = InboundFile.objects.filter(connection=hooked).order_by("pk")
    assert named_a1.run_id == named_b2.run_id == again_b2.run_id
    assert SyncRun.objects.get(pk=named_a1.run_id).status == SyncRun.Status.COMPLETED_WITH_ERRORS
    assert (named_a1.status, named_a1.results) == (Status.COMPLETE, [])
    for delivery in (named_b2, again_b2):
        assert delivery.status == Status.COMPLETE_WITH_ERRORS
        assert [row["employee_id"] for row in delivery.results] == ["B2"]
        assert "Email is missing." in delivery.results[0]["message"]
