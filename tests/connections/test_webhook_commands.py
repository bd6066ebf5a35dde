"""``manage.py connections add`` prints a webhook connection's URL once;
``connections set --regenerate-webhook-secret`` gives it a new one."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from connections.api.webhooks import WEBHOOK_SECRET, connection_webhook_url
from connections.models import Connection
from tests.connections.api.webhook_source import KIND, webhook_source  # noqa: F401 - fixture
from tests.connections.test_commands import fails, run

pytestmark = pytest.mark.django_db

PROMPT = "Webhook URL (paste it into Hook source's webhook settings): "


def test_add_prints_the_webhook_url_once(webhook_source):
    out, _err = run("connections", "add", "--kind", KIND, "--name", "Acme training")
    pk_line, url_line = out.strip().splitlines()
    connection = Connection.objects.get(pk=int(pk_line))
    assert url_line == PROMPT + connection_webhook_url(connection=connection)
    assert connection.secrets[WEBHOOK_SECRET] in url_line
    # Listing the connections never shows it again.
    listed, _ = run("connections", "list", "--json")
    assert connection.secrets[WEBHOOK_SECRET] not in listed


def test_add_prints_no_webhook_url_for_a_kind_without_webhooks(source):
    out, _err = run("connections", "add", "--kind", "static", "--name", "Plain")
    assert "Webhook URL" not in out


def test_regenerate_webhook_secret_prints_the_new_url_and_the_old_one_stops_working(webhook_source, client):
    out, _ = run("connections", "add", "--kind", KIND, "--name", "Acme training")
    connection = Connection.objects.get(pk=int(out.splitlines()[0]))
    old = connection.secrets[WEBHOOK_SECRET]

    out, err = run("connections", "set", "Acme training", "--regenerate-webhook-secret")
    stored = Connection.objects.get(pk=connection.pk)
    new = stored.secrets[WEBHOOK_SECRET]
    assert new != old
    assert out.strip() == PROMPT + connection_webhook_url(connection=stored)
    assert "no longer works" in err

    body = json.dumps({"module": "User", "id": "jasmit"})
    kwargs = {"kind": KIND, "connection_uuid": stored.uuid}
    old_path = reverse("hooks:receive", kwargs={**kwargs, "secret": old})
    assert client.post(old_path, body, content_type="application/json").status_code == 401


def test_regenerate_webhook_secret_is_refused_for_a_kind_without_webhooks(source):
    run("connections", "add", "--kind", "static", "--name", "Plain")
    error, out = fails("connections", "set", "Plain", "--regenerate-webhook-secret", code=2)
    assert "does not receive webhooks" in str(error)
    assert WEBHOOK_SECRET not in Connection.objects.get(name="Plain").secrets
