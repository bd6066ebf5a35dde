"""Every URL pattern, opened by an anonymous visitor, a non-staff user and staff.

A pattern the walk has no expectation for fails the suite: a new page cannot
ship without its access being stated (and checked) in ``tests/urlwalk.py``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from types import SimpleNamespace

from django.urls import get_resolver, include, path, reverse

from tests.urlwalk import EXPECTED, ROLES, admin_urls, build_world, urls_for, walk

ROUTES = {route.key: route for route in walk()}

#: The Content-Security-Policy of every response: scripts and styles only from
#: this site's own files, nothing inline, no plugins, no framing.
CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    return {name: sources for name, *sources in (part.split() for part in header.split(";") if part.strip())}


def unstated(routes) -> list[str]:
    return sorted({route.key for route in routes} - set(EXPECTED))


def test_every_url_pattern_has_a_stated_access():
    unknown = unstated(ROUTES.values())
    assert not unknown, (
        f"URL pattern(s) {unknown} have no expected access: add them to EXPECTED "
        "(and URL_KWARGS if they take arguments) in tests/urlwalk.py"
    )


def test_a_new_url_pattern_nobody_stated_is_caught():
    extra = include(([path("reports/<int:pk>/", lambda request, pk: None, name="report")], "extra"))
    routes = walk([*get_resolver().url_patterns, path("", extra)])
    assert unstated(routes) == ["extra:report"]
    (report,) = [r for r in routes if r.key == "extra:report"]
    with pytest.raises(LookupError, match="URL_KWARGS"):
        urls_for(report, SimpleNamespace(connection=None))


def test_every_stated_access_is_still_a_url_pattern():
    assert sorted(set(EXPECTED) - set(ROUTES)) == []


def test_the_walk_reaches_namespaced_includes_and_skips_the_admins_own_pages():
    assert {"people:detail", "connections:run_csv", "login", "admin:index", "/"} <= set(ROUTES)
    assert "admin:connections_connection_change" not in ROUTES
    assert not [key for key in ROUTES if key.startswith("admin:") and key != "admin:index"]


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def no_network():
    # No page may call the HR system while rendering; any attempt fails loudly.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", sorted(ROUTES))
def test_page_access(key, role, client, world, no_network):
    route = ROUTES[key]
    expected = EXPECTED[key].for_role(role)
    if role != "anonymous":
        client.force_login(world.member if role == "member" else world.staff)

    for url in urls_for(route, world):
        response = client.get(url)

        assert response.status_code == expected.status, f"GET {url} as {role}"
        if expected.redirect in ("login", "admin:login"):
            location = urlsplit(response["Location"])
            assert location.path == reverse(expected.redirect), f"GET {url} as {role}"
            assert parse_qs(location.query)["next"] == [url]
        elif expected.redirect:
            assert response["Location"] == reverse(expected.redirect), f"GET {url} as {role}"
        elif expected.status == 200:
            assert response["Content-Type"].startswith(expected.content_type), f"GET {url} as {role}"
            # A streamed body (the CSV) must render to the end, too.
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert body


@pytest.mark.parametrize("key", sorted(ROUTES))
def test_every_page_sends_the_content_security_policy(key, client, world, no_network):
    client.force_login(world.staff)
    for url in urls_for(ROUTES[key], world):
        assert csp_directives(client.get(url)) == CSP, f"GET {url}"


def test_the_admin_pages_send_the_same_content_security_policy(client, world, no_network):
    client.force_login(world.superuser)
    for url in admin_urls(world):
        assert csp_directives(client.get(url)) == CSP, f"GET {url}"


def test_a_missing_object_is_a_404_for_staff_and_a_login_redirect_for_anonymous(client, world):
    url = reverse("people:detail", args=[999_999])
    assert client.get(url).status_code == 302
    client.force_login(world.staff)
    assert client.get(url).status_code == 404
    assert client.get(reverse("connections:run", args=[world.connection.pk, 999_999])).status_code == 404
