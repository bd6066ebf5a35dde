"""Plain http for a stand-in ActionHRM on this machine only, and only when allowed.

The browser tests point a connection at a fake ActionHRM on 127.0.0.1 over
http; ``HRSYNC_ALLOW_INSECURE_LOOPBACK`` (or DEBUG) allows exactly that, and
nothing else.
"""

from __future__ import annotations

import pytest

from connectors.actionhrm.settings import normalise_base_url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123", "http://localhost:8123/", "http://[::1]:8123"])
def test_http_on_loopback_needs_the_setting(settings, url):
    settings.DEBUG = False
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = False
    with pytest.raises(ValueError, match="must start with https://"):
        normalise_base_url(url)

    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True
    assert normalise_base_url(url) == url.rstrip("/")


def test_debug_allows_http_on_loopback(settings):
    settings.DEBUG = True
    assert normalise_base_url("http://127.0.0.1:8123/api") == "http://127.0.0.1:8123/api"


@pytest.mark.parametrize(
    "url", ["http://hr.example.org", "http://127.0.0.2:8123", "http://10.0.0.1", "ftp://127.0.0.1"]
)
def test_http_elsewhere_is_refused_even_with_the_setting(settings, url):
    settings.DEBUG = True
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True
    with pytest.raises(ValueError, match="must start with https://"):
        normalise_base_url(url)


def test_https_is_unchanged(settings):
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True
    assert normalise_base_url("HTTPS://hr.example.org/x/") == "https://hr.example.org/x"
