"""accessplanit's webhooks end to end: a delivery posted to the connection's
address, stored, processed by its run, which re-reads the record through
accessplanit's API (mocked with ``responses``, payloads as VENDORS.md says)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.urls import reverse

from connections.api.webhooks import WEBHOOK_SECRET
from connections.models import InboundFile, SyncRun
from connections.services import connection_create
from connections.sync.inbound import inbound_file_process
from hrsync.people.models import Person
from mappings.models import EmployeeMapping

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "accessplanit"
BASE = "https://acme.accessplanit.com/accessplan/api/v2"
USER = f"{BASE}/User"

pytestmark = pytest.mark.django_db


def jane(**changes: Any) -> dict[str, Any]:
    users = json.loads((FIXTURES / "users_page.json").read_text())["results"]
    return {**next(user for user in users if user["ID"] == "jasmit"), **changes}


@pytest.fixture
def connection():
    return connection_create(
        kind="accessplanit", name="Acme accessplanit",
        config={"base_url": BASE, "auth_mode": "api_key"}, secrets={"api_key": "apit-key-for-webhook-tests"},
    )


def deliver_and_process(client, connection, *, method: str, body: dict[str, Any]) -> InboundFile:
    path = reverse("hooks:receive", kwargs={
        "kind": "accessplanit", "connection_uuid": connection.uuid, "secret": connection.secrets[WEBHOOK_SECRET],
    })
    response = client.generic(method, path, json.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content
    return inbound_file_process(inbound_file_id=response.json()["id"])


def filter_asked(call) -> str:
    return parse_qs(urlsplit(call.request.url).query)["$filter"][0]


def test_a_user_delivery_re_reads_the_user_and_a_delete_not_found_deactivates_the_person(client, connection):
    with responses.RequestsMock() as api:
        api.get(USER, json={"results": [jane()]})
        created = deliver_and_process(client, connection, method="POST", body={"module": "User", "id": "jasmit"})
        assert created.status == InboundFile.Status.COMPLETE, created.error
        assert filter_asked(api.calls[0]) == "ID eq 'jasmit'"
        person = EmployeeMapping.objects.get(connection=connection, remote_id="jasmit").person
        assert (person.first_name, person.email) == ("Jane", "jane.smith@example.com")

        # The delivery's own data is never used: the re-read says Janet.
        api.replace(responses.GET, USER, json={"results": [jane(Forenames="Janet", JobTitle="Lead trainer")]})
        updated = deliver_and_process(
            client, connection, method="PUT", body={"module": "User", "id": "jasmit", "Forenames": "Wrong"}
        )
        assert updated.status == InboundFile.Status.COMPLETE, updated.error
        person.refresh_from_db()
        assert (person.first_name, person.job_title) == ("Janet", "Lead trainer")

        api.replace(responses.GET, USER, json={"results": []})
        deleted = deliver_and_process(client, connection, method="DELETE", body={"module": "User", "id": "jasmit"})
        assert deleted.status == InboundFile.Status.COMPLETE, deleted.error
        assert filter_asked(api.calls[-1]) == "ID eq 'jasmit'"

    person.refresh_from_db()
    assert person.status == Person.Status.INACTIVE
    runs = SyncRun.objects.filter(connection=connection).order_by("pk")
    assert [run.trigger for run in runs] == [SyncRun.Trigger.WEBHOOK] * 3
    assert all(run.status == SyncRun.Status.SUCCEEDED for run in runs)
