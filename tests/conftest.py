"""Shared fixtures.

Tests that need a real service (PostgreSQL, Redis, sshd, a browser) call
``need_service``: on a developer's machine without it they skip; with
``HRSYNC_REQUIRE_SERVICES=1`` (set by CI) the skip becomes a failure, so CI
can never go green by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest


def need_service(available: bool, what: str) -> None:
    if available:
        return
    if os.environ.get("HRSYNC_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{what} is required (HRSYNC_REQUIRE_SERVICES is set) but not available")
    pytest.skip(f"{what} is not available on this machine")


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    # Unit tests run tasks in-process; the worker tests start a real worker.
    from hrsync.celery import app

    app.conf.task_always_eager = True
    yield


@pytest.fixture(autouse=True)
def _no_backoff_sleep(monkeypatch):
    """Retries back off instantly in tests; the HTTP tests assert the delays."""
    monkeypatch.setattr("connectors.http.backoff_sleep", lambda seconds: None)


@pytest.fixture(autouse=True)
def _media_in_a_temporary_folder(settings, tmp_path_factory):
    """Files received in a test (uploads) are stored in a folder of the test
    run's own, never in the project's var/."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    """Every test starts with an empty cache (vendor tokens live there), in
    this process's memory: never the file cache that a running hrsync, or
    another test run, shares."""
    from django.core.cache import cache

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hrsync-tests"}
    }
    cache.clear()


@pytest.fixture(scope="session")
def _sshd(tmp_path_factory):
    from tests.connectors.csv_file import servers

    state = tmp_path_factory.mktemp("sshd")
    server, missing = servers.start_sshd(state)
    yield server, missing
    if server is not None:
        servers.stop_sshd(server)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def sshd(_sshd):
    """A real OpenSSH server on a loopback port, started once per test session."""
    server, missing = _sshd
    need_service(server is not None, missing)
    return server


@pytest.fixture
def staff(client, django_user_model):
    """The test client, signed in as a staff member (``staff.user``)."""
    user = django_user_model.objects.create_user("staff", is_staff=True)
    client.force_login(user)
    client.user = user
    return client
