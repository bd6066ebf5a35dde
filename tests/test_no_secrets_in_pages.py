"""No page shows a connection's credentials, not even to a superuser.

Every page a GET reaches (the URL walk of tests/test_urls.py) and the Django
admin's connection and run pages are rendered for a connection whose API
password is distinctive, with runs, mappings and people around it.
"""

from __future__ import annotations

import base64

import pytest
import responses

from connections.models import Connection
from tests.urlwalk import EXPECTED, admin_urls, build_world, urls_for, walk

SECRET = "Zq8-unmistakable-Pa55word-7Kx"
USERNAME = "api"


def needles() -> dict[str, str]:
    pair = f"{USERNAME}:{SECRET}"
    return {
        "the password": SECRET,
        "username:password": pair,
        # What an Authorization header would carry.
        "base64 of username:password": base64.b64encode(pair.encode()).decode(),
    }


def readable_pages(world) -> list[str]:
    urls: list[str] = []
    for route in walk():
        if EXPECTED[route.key].staff_reads_it:
            urls += urls_for(route, world)
    return [*urls, *admin_urls(world)]


@pytest.fixture
def world(db):
    return build_world(password=SECRET)


def test_the_connection_really_holds_the_secret(world):
    # Otherwise the test below would pass for the wrong reason.
    stored = Connection.objects.get(pk=world.connection.pk)
    assert stored.secrets["password"] == SECRET
    assert stored.config["username"] == USERNAME


def test_no_page_shows_the_connection_secret(client, world):
    client.force_login(world.superuser)
    pages = readable_pages(world)
    assert len(pages) > 20
    leaks = []
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode()
            leaks += [f"{url} shows {what}" for what, needle in needles().items() if needle in text]
    assert leaks == []


#: The pages only a connection that receives files has (404 on build_world's).
UPLOAD_PAGES = ("connections:uploads", "connections:api_key")


def test_no_page_shows_an_xml_upload_connections_api_key(client, world, monkeypatch, settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.urls import reverse

    from connections.models import InboundFile
    from connections.services import connection_create
    from connectors import registry

    monkeypatch.setitem(
        registry.CONNECTORS, "xml_upload",
        ("XML upload (REST API)", "connectors.xml_upload.connector.XmlUploadConnector"),
    )
    settings.MEDIA_ROOT = tmp_path / "media"
    connection = connection_create(kind="xml_upload", name="Acme uploads")
    key = connection.issued_api_key
    assert key
    uploads = []
    problems = [{"line": 3, "employee_id": "7", "message": "No email."}]
    for status, results in (("complete_with_errors", problems), ("scheduled", [])):
        upload = InboundFile(connection=connection, kind="employee", status=status, sha256="0" * 64,
                             original_name="employees.xml", received_from="web upload", results=results)
        upload.content.save("employees.xml", ContentFile(b"<employees/>"), save=False)
        upload.save()
        uploads.append(upload)
    per_connection = [
        route.key for route in walk()
        if route.key.startswith("connections:") and route.params == ("pk",) and EXPECTED[route.key].staff_reads_it
        # Absences and training only for a connector that reads them.
        and route.key not in ("connections:absences", "connections:training")
    ]
    pages = [reverse(name, args=[connection.pk]) for name in (*per_connection, *UPLOAD_PAGES)]
    pages += [
        reverse(name, args=[connection.pk, uploads[0].pk])
        for name in ("connections:upload_file", "connections:upload_errors")
    ]
    secret_part = key.rsplit("_", 1)[1]
    client.force_login(world.superuser)
    leaks = []
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode()
        needles_here = (("the key", key), ("its secret part", secret_part))
        leaks += [f"{url} shows {what}" for what, needle in needles_here if needle in text]
    assert len(pages) > 8
    assert leaks == []


#: The pages that show a connection's webhook address (its secret inside):
#: the Settings tab, where the admin copies it, and so the page a
#: regeneration ends on.
WEBHOOK_SECRET_PAGES = ("connections:settings",)


def test_a_webhook_connections_secret_is_shown_on_its_settings_tab_only(client, world, monkeypatch):
    import json

    from django.urls import reverse

    from connections.api.webhooks import WEBHOOK_SECRET
    from connections.services import connection_create
    from connections.sync.inbound import inbound_file_process
    from connectors import registry
    from tests.connections.api.webhook_source import KIND, PATH, WebhookConnector
    from tests.connections.static_connector import employee

    monkeypatch.setitem(registry.CONNECTORS, KIND, ("Hook source", PATH))
    registry._import_connector.cache_clear()
    monkeypatch.setattr(WebhookConnector, "current", {"jasmit": employee("jasmit")})
    monkeypatch.setattr(WebhookConnector, "reread", [])
    connection = connection_create(kind=KIND, name="Acme training")
    secret = connection.secrets[WEBHOOK_SECRET]
    hook = reverse("hooks:receive", kwargs={"kind": KIND, "connection_uuid": connection.uuid, "secret": secret})
    for method, record in (("POST", "jasmit"), ("DELETE", "gone1")):
        answer = client.generic(method, hook, json.dumps({"module": "User", "id": record}),
                                content_type="application/json")
        assert answer.status_code == 202
        inbound_file_process(inbound_file_id=answer.json()["id"])
    runs = list(connection.runs.all())
    assert len(runs) == 2

    per_connection = [
        route.key for route in walk()
        if route.key.startswith("connections:") and route.params == ("pk",)
        # Unlisted pages are test_urls.py's to catch.
        and route.key in EXPECTED and EXPECTED[route.key].staff_reads_it
        and route.key.count(":") == 1  # a connector's own pages are its kind's only
    ]
    pages = {name: reverse(name, args=[connection.pk]) for name in per_connection}
    for run in runs:
        pages[f"run {run.pk}"] = reverse("connections:run", args=[connection.pk, run.pk])
        pages[f"run {run.pk} csv"] = reverse("connections:run_csv", args=[connection.pk, run.pk])
    from hrsync.people.models import Person

    pages["people"] = reverse("people:list")
    pages["person"] = reverse("people:detail", args=[Person.objects.get(email="jasmit@example.com").pk])
    pages["admin connection"] = reverse("admin:connections_connection_change", args=[connection.pk])
    client.force_login(world.superuser)
    shown_on, refused = [], []
    for name, url in pages.items():
        response = client.get(url)
        if response.status_code == 404:
            continue  # a tab of a stream this connector does not offer
        if response.status_code != 200:
            refused.append(f"{name} {response.status_code}")
            continue
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if secret in body.decode():
            shown_on.append(name)
    confirm = client.post(reverse("connections:webhook_regenerate", args=[connection.pk]))
    assert confirm.status_code == 200
    assert secret not in confirm.content.decode()
    assert refused == []
    assert len(pages) > 10
    assert shown_on == list(WEBHOOK_SECRET_PAGES)
