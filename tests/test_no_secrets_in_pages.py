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
