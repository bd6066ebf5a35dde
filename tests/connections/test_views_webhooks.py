"""The Settings tab's Webhook section (the address, the methods, the latest
deliveries) and Regenerate webhook secret."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from connections.api.webhooks import WEBHOOK_SECRET, connection_webhook_url
from connections.models import Connection, InboundFile, SyncRun
from connections.services import connection_create
from tests.connections.api.webhook_source import KIND, webhook_source  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooked(webhook_source):
    return connection_create(kind=KIND, name="Acme training")


def settings_page(client, connection) -> str:
    response = client.get(reverse("connections:settings", args=[connection.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_settings_tab_shows_the_whole_webhook_url_with_a_copy_button(staff, hooked):
    page = settings_page(staff, hooked)
    url = connection_webhook_url(connection=hooked)
    assert f'value="{url}"' in page
    assert 'data-copy="webhook-url"' in page
    assert "js/copy.js" in page
    assert "Methods accepted: POST, PUT, PATCH, DELETE." in page
    assert "Regenerate webhook secret" in page
    assert "no-store" in staff.get(reverse("connections:settings", args=[hooked.pk]))["Cache-Control"]


def test_a_connection_without_webhooks_has_no_webhook_section(staff, source):
    connection = connection_create(kind="static", name="Plain")
    page = settings_page(staff, connection)
    assert 'id="s-webhook"' not in page
    assert "Regenerate webhook secret" not in page


def test_the_settings_tab_lists_the_latest_deliveries_escaped_with_their_runs(staff, hooked, client):
    client.logout()
    path = reverse("hooks:receive", kwargs={
        "kind": KIND, "connection_uuid": hooked.uuid, "secret": hooked.secrets[WEBHOOK_SECRET],
    })
    response = client.generic(
        "DELETE", path, json.dumps({"module": "User", "id": "<b>jasmit</b>"}), content_type="application/json"
    )
    assert response.status_code == 202
    delivery = InboundFile.objects.get(pk=response.json()["id"])
    run = SyncRun.objects.create(connection=hooked, trigger=SyncRun.Trigger.WEBHOOK, status=SyncRun.Status.SUCCEEDED)
    InboundFile.objects.filter(pk=delivery.pk).update(run=run, status=InboundFile.Status.COMPLETE)
    staff.force_login(staff.user)

    page = settings_page(staff, hooked)
    assert "Person &lt;b&gt;jasmit&lt;/b&gt;" in page
    assert "<b>jasmit</b>" not in page
    assert ">DELETE<" in page
    assert ">Complete<" in page
    assert reverse("connections:run", args=[hooked.pk, run.pk]) in page


def test_regenerating_asks_first_and_the_confirmation_page_does_not_show_the_secret(staff, hooked):
    secret = hooked.secrets[WEBHOOK_SECRET]
    response = staff.post(reverse("connections:webhook_regenerate", args=[hooked.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The old webhook address stops working at once" in page
    assert secret not in page
    assert Connection.objects.get(pk=hooked.pk).secrets[WEBHOOK_SECRET] == secret


def test_regenerating_gives_a_new_url_shown_on_the_settings_tab_and_refuses_the_old(staff, hooked, client, settings):
    old_url = connection_webhook_url(connection=hooked)
    response = staff.post(reverse("connections:webhook_regenerate", args=[hooked.pk]), {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == reverse("connections:settings", args=[hooked.pk]) + "#s-webhook"
    stored = Connection.objects.get(pk=hooked.pk)
    new_url = connection_webhook_url(connection=stored)
    assert new_url != old_url
    page = settings_page(staff, stored)
    assert new_url in page
    assert old_url not in page
    assert "has a new webhook address" in page

    body = json.dumps({"module": "User", "id": "jasmit"})
    old_path, new_path = (url.removeprefix(settings.HRSYNC_BASE_URL) for url in (old_url, new_url))
    assert client.post(old_path, body, content_type="application/json").status_code == 401
    assert client.post(new_path, body, content_type="application/json").status_code == 202


def test_a_connection_without_webhooks_cannot_regenerate_a_webhook_secret(staff, source):
    connection = connection_create(kind="static", name="Plain")
    response = staff.post(reverse("connections:webhook_regenerate", args=[connection.pk]), {"confirm": "yes"})
    assert response.status_code == 404
    assert WEBHOOK_SECRET not in Connection.objects.get(pk=connection.pk).secrets


def test_runs_started_by_a_webhook_say_so_on_the_runs_tab(staff, hooked):
    SyncRun.objects.create(connection=hooked, trigger=SyncRun.Trigger.WEBHOOK, status=SyncRun.Status.SUCCEEDED)
    page = staff.get(reverse("connections:runs", args=[hooked.pk])).content.decode()
    assert '<td data-label="Started by">Webhook' in page
