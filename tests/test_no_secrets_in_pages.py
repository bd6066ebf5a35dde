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
        # Absences only for a connector that exchanges them.
        and route.key != "connections:absences"
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
