"""Webhooks: ``/hooks/<kind>/<connection uuid>/<secret>/``, the connection's
secret, and the runs that re-read what a delivery names. Through Django's
test client, the way a source calls it, with a stub source
(``webhook_source``) whose re-reads the tests set."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from django.urls import reverse

from connections.api.webhooks import (
    WEBHOOK_MAX_BYTES,
    WEBHOOK_SECRET,
    connection_for_webhook,
    connection_webhook_secret_regenerate,
    connection_webhook_url,
)
from connections.models import Connection, InboundFile, SyncRun
from connections.services import connection_create, connection_update
from connections.summaries import sync_run_read_words
from connections.sync.inbound import inbound_file_process
from connectors.base import ConnectorError, WebhookTarget
from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from tests.connections.api.webhook_source import KIND, OTHER_KIND, webhook_source  # noqa: F401 - fixture
from tests.connections.helpers import run_sync
from tests.connections.static_connector import employee

pytestmark = pytest.mark.django_db

ALLOWED = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def hooked(webhook_source):
    """A connection of the stub kind (it has a webhook secret)."""
    return connection_create(kind=KIND, name="Acme training")


def hook_path(connection: Connection, *, secret: str | None = None, kind: str | None = None) -> str:
    return reverse(
        "hooks:receive",
        kwargs={
            "kind": kind or connection.kind,
            "connection_uuid": connection.uuid,
            "secret": connection.secrets[WEBHOOK_SECRET] if secret is None else secret,
        },
    )


def deliver(client, connection: Connection, body: object = None, *, method: str = "POST", raw: bytes | None = None,
            **path_args):
    data = raw if raw is not None else json.dumps(body if body is not None else {"module": "User", "id": "jasmit"})
    return client.generic(method, hook_path(connection, **path_args), data, content_type="application/json")


def process_waiting(connection: Connection) -> list[InboundFile]:
    """Process the connection's waiting deliveries in turn, as the worker does."""
    processed = []
    for pk in InboundFile.objects.filter(connection=connection, status="scheduled").order_by("pk").values_list(
        "pk", flat=True
    ):
        processed.append(inbound_file_process(inbound_file_id=pk))
    return processed


def synced_people(webhook_source, connection: Connection, *remote_ids: str) -> dict[str, Person]:
    """People of ``connection`` from a full sync of ``remote_ids``."""
    webhook_source.employees = [employee(remote_id) for remote_id in remote_ids]
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return {
        m.remote_id: m.person for m in EmployeeMapping.objects.filter(connection=connection).select_related("person")
    }


# -- the secret --------------------------------------------------------------------------


def test_a_new_connection_that_receives_webhooks_gets_a_secret_and_its_url(hooked, settings):
    stored = Connection.objects.get(pk=hooked.pk)
    secret = stored.secrets[WEBHOOK_SECRET]
    assert len(secret) >= 43
    assert hooked.issued_webhook_url == f"{settings.HRSYNC_BASE_URL}/hooks/{KIND}/{stored.uuid}/{secret}/"
    assert connection_webhook_url(connection=stored) == hooked.issued_webhook_url


def test_two_connections_get_different_secrets(webhook_source):
    first = connection_create(kind=KIND, name="One")
    second = connection_create(kind=KIND, name="Two")
    assert first.secrets[WEBHOOK_SECRET] != second.secrets[WEBHOOK_SECRET]


def test_a_connection_without_webhooks_gets_no_secret(source):
    connection = connection_create(kind="static", name="Plain")
    assert WEBHOOK_SECRET not in Connection.objects.get(pk=connection.pk).secrets
    assert not hasattr(connection, "issued_webhook_url")
    assert connection_webhook_url(connection=connection) == ""


def test_saving_the_settings_keeps_the_webhook_secret(hooked):
    secret = hooked.secrets[WEBHOOK_SECRET]
    connection_update(connection=hooked, options={"background_sync": False})
    assert Connection.objects.get(pk=hooked.pk).secrets[WEBHOOK_SECRET] == secret


def test_the_connection_is_found_only_by_its_kind_uuid_and_secret(hooked, webhook_source):
    secret = hooked.secrets[WEBHOOK_SECRET]
    assert connection_for_webhook(kind=KIND, uuid=hooked.uuid, secret=secret) == hooked
    assert connection_for_webhook(kind=KIND, uuid=hooked.uuid, secret=secret[:-1] + "x") is None
    assert connection_for_webhook(kind=KIND, uuid=uuid.uuid4(), secret=secret) is None
    assert connection_for_webhook(kind=OTHER_KIND, uuid=hooked.uuid, secret=secret) is None
    assert connection_for_webhook(kind=KIND, uuid=hooked.uuid, secret="") is None


def test_regenerating_the_secret_refuses_the_old_url_at_once(client, hooked):
    old = hooked.secrets[WEBHOOK_SECRET]
    new = connection_webhook_secret_regenerate(connection=hooked)
    assert new != old
    assert Connection.objects.get(pk=hooked.pk).secrets[WEBHOOK_SECRET] == new
    assert deliver(client, hooked, secret=old).status_code == 401
    assert deliver(client, hooked, secret=new).status_code == 202


# -- the endpoint ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ALLOWED)
def test_each_accepted_method_stores_the_delivery_and_answers_202(client, hooked, method):
    body = json.dumps({"module": "User", "id": "jasmit"}).encode()
    response = deliver(client, hooked, method=method, raw=body)
    assert response.status_code == 202
    stored = InboundFile.objects.get(connection=hooked)
    assert response.json() == {"status": "scheduled", "id": stored.pk}
    assert stored.kind == InboundFile.Kind.WEBHOOK
    assert stored.method == method
    assert stored.status == InboundFile.Status.SCHEDULED
    assert stored.received_from == "webhook (127.0.0.1)"
    assert stored.original_name == "Person jasmit"
    with stored.content.open("rb") as handle:
        assert handle.read() == body


def test_a_get_is_refused_with_the_methods_allowed(client, hooked):
    response = client.get(hook_path(hooked))
    assert response.status_code == 405
    assert response["Allow"] == "POST, PUT, PATCH, DELETE"
    assert not InboundFile.objects.exists()


def test_a_wrong_secret_and_an_unknown_connection_get_the_same_401(client, hooked):
    wrong = deliver(client, hooked, secret="x" * 43)
    unknown = client.post(
        reverse("hooks:receive", kwargs={"kind": KIND, "connection_uuid": uuid.uuid4(),
                                         "secret": hooked.secrets[WEBHOOK_SECRET]}),
        json.dumps({"module": "User", "id": "jasmit"}), content_type="application/json",
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "error" in wrong.json()
    assert not InboundFile.objects.exists()


def test_the_right_secret_under_another_kind_is_refused(client, hooked):
    assert deliver(client, hooked, kind=OTHER_KIND).status_code == 401
    assert deliver(client, hooked, kind="static").status_code == 404
    assert not InboundFile.objects.exists()


def test_a_disabled_connection_refuses_deliveries(client, hooked):
    Connection.objects.filter(pk=hooked.pk).update(enabled=False)
    response = deliver(client, hooked)
    assert response.status_code == 403
    assert "disabled" in response.json()["error"]
    assert not InboundFile.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b'["User", "jasmit"]', "\u00e9".encode("latin-1")],
    ids=["malformed", "empty", "not an object", "not utf-8"],
)
def test_a_body_that_is_not_a_json_object_is_refused_and_not_stored(client, hooked, raw):
    response = deliver(client, hooked, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not InboundFile.objects.exists()


def test_an_unknown_module_is_refused_with_the_connectors_words(client, hooked):
    response = deliver(client, hooked, {"module": "Invoice", "id": "7"})
    assert response.status_code == 400
    assert response.json() == {"error": "Unknown module 'Invoice': send User or Course."}
    assert not InboundFile.objects.exists()


def test_an_oversized_delivery_is_refused_with_413(client, hooked):
    raw = json.dumps({"module": "User", "id": "jasmit", "padding": "x" * WEBHOOK_MAX_BYTES}).encode()
    response = deliver(client, hooked, raw=raw)
    assert response.status_code == 413
    assert not InboundFile.objects.exists()


def test_no_answer_leaves_the_secret_in_the_request_log(client, hooked, caplog):
    secret = hooked.secrets[WEBHOOK_SECRET]
    with caplog.at_level(logging.DEBUG):
        deliver(client, hooked, raw=b"{not json")
        deliver(client, hooked, {"module": "Invoice", "id": "7"})
        client.get(hook_path(hooked))
        deliver(client, hooked)
    assert caplog.records  # the request log did run
    assert secret not in caplog.text


def test_the_same_delivery_twice_while_it_waits_is_stored_once_and_run_once(client, hooked, webhook_source):
    webhook_source.current = {"jasmit": employee("jasmit")}
    first = deliver(client, hooked).json()
    second = deliver(client, hooked).json()
    assert first == second
    assert InboundFile.objects.filter(connection=hooked).count() == 1
    # The same record by another method is another event, stored on its own.
    assert deliver(client, hooked, method="PUT").json()["id"] != first["id"]
    assert InboundFile.objects.filter(connection=hooked).count() == 2

    process_waiting(hooked)
    # Both waiting events are processed by one run, which re-reads the record once.
    assert SyncRun.objects.filter(connection=hooked, trigger=SyncRun.Trigger.WEBHOOK).count() == 1
    assert len(webhook_source.reread) == 1


def test_the_same_delivery_after_the_first_was_processed_is_a_new_event(client, hooked, webhook_source):
    webhook_source.current = {"jasmit": employee("jasmit", first_name="Jane")}
    deliver(client, hooked)
    process_waiting(hooked)
    webhook_source.current = {"jasmit": employee("jasmit", first_name="Janet")}
    again = deliver(client, hooked).json()
    assert InboundFile.objects.filter(connection=hooked).count() == 2
    # Not skipped for having the bytes of the last one: a webhook is an event.
    [processed] = process_waiting(hooked)
    assert processed.pk == again["id"]
    assert processed.status == InboundFile.Status.COMPLETE
    assert Person.objects.get(email="jasmit@example.com").first_name == "Janet"


# -- processing --------------------------------------------------------------------------


def test_processing_re_reads_the_record_and_never_uses_the_deliverys_data(client, hooked, webhook_source):
    webhook_source.current = {"jasmit": employee("jasmit", first_name="Jasmine", last_name="Smith")}
    deliver(client, hooked, {"module": "User", "id": "jasmit", "Forenames": "FromTheBody", "Surname": "Wrong"})
    [processed] = process_waiting(hooked)

    assert processed.status == InboundFile.Status.COMPLETE, processed.error
    assert webhook_source.reread == [WebhookTarget(stream="employees", remote_id="jasmit", deleted=False)]
    person = Person.objects.get(email="jasmit@example.com")
    assert (person.first_name, person.last_name) == ("Jasmine", "Smith")
    run = SyncRun.objects.get(pk=processed.run_id)
    assert run.trigger == SyncRun.Trigger.WEBHOOK
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.inbound_file_id == processed.pk
    assert sync_run_read_words(run=run) == "Webhook: only the records it named, read again"


def test_a_partial_run_never_deactivates_the_people_it_does_not_name(client, hooked, webhook_source):
    people = synced_people(webhook_source, hooked, "A1", "B2", "C3")
    webhook_source.current = {"A1": employee("A1", job_title="Trainer")}
    deliver(client, hooked, {"module": "User", "id": "A1"}, method="PUT")
    [processed] = process_waiting(hooked)

    assert processed.status == InboundFile.Status.COMPLETE, processed.error
    assert Person.objects.get(pk=people["A1"].pk).job_title == "Trainer"
    for remote_id in ("B2", "C3"):
        assert Person.objects.get(pk=people[remote_id].pk).status == Person.Status.ACTIVE


def test_a_delete_whose_record_is_not_there_any_more_deactivates_that_person_only(client, hooked, webhook_source):
    people = synced_people(webhook_source, hooked, "A1", "B2", "C3")
    webhook_source.current = {}
    deliver(client, hooked, {"module": "User", "id": "B2"}, method="DELETE")
    [processed] = process_waiting(hooked)

    assert processed.status == InboundFile.Status.COMPLETE, processed.error
    assert webhook_source.reread == [WebhookTarget(stream="employees", remote_id="B2", deleted=True)]
    assert Person.objects.get(pk=people["B2"].pk).status == Person.Status.INACTIVE
    assert Person.objects.get(pk=people["A1"].pk).status == Person.Status.ACTIVE
    assert Person.objects.get(pk=people["C3"].pk).status == Person.Status.ACTIVE
    assert Person.objects.filter(pk=people["B2"].pk).exists()  # never deleted


def test_a_delete_whose_record_is_still_there_takes_the_record_as_it_is(client, hooked, webhook_source):
    people = synced_people(webhook_source, hooked, "A1")
    webhook_source.current = {"A1": employee("A1", first_name="Still")}
    deliver(client, hooked, {"module": "User", "id": "A1"}, method="DELETE")
    process_waiting(hooked)
    person = Person.objects.get(pk=people["A1"].pk)
    assert (person.status, person.first_name) == (Person.Status.ACTIVE, "Still")


def test_a_source_that_cannot_answer_the_re_read_fails_the_run_and_changes_nothing(client, hooked, webhook_source):
    people = synced_people(webhook_source, hooked, "A1")
    webhook_source.reread_error = ConnectorError("Hook source did not answer (timeout).")
    deliver(client, hooked, {"module": "User", "id": "A1"})
    [processed] = process_waiting(hooked)

    assert processed.status == InboundFile.Status.ERROR
    assert "Hook source did not answer (timeout)." in processed.error
    assert SyncRun.objects.get(pk=processed.run_id).status == SyncRun.Status.FAILED
    assert Person.objects.get(pk=people["A1"].pk).first_name == "FirstA1"


def test_a_training_record_for_a_connection_without_training_fails_in_words(client, hooked, webhook_source):
    deliver(client, hooked, {"module": "Course", "id": "jasmit~12"})
    [processed] = process_waiting(hooked)
    assert processed.status == InboundFile.Status.ERROR
    assert "does not sync training records" in processed.error
    assert webhook_source.reread == []


def test_a_delivery_whose_body_was_purged_fails_in_words(client, hooked, webhook_source):
    deliver(client, hooked)
    stored = InboundFile.objects.get(connection=hooked)
    stored.content.delete(save=True)
    [processed] = process_waiting(hooked)
    assert processed.status == InboundFile.Status.ERROR
    assert "were removed" in processed.error
    assert webhook_source.reread == []
