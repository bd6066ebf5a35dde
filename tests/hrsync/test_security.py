"""Signing in: repeated wrong passwords lock that account out from that
address for a while, with a sentence saying so, and an admin can unlock it."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
PASSWORD = "correct-Horse-7"
HOME = "203.0.113.5"
CAFE = "198.51.100.20"
LOCKED_OUT = (
    "Too many failed sign-ins for this account from your address. "
    "Try again in 15 minutes, or ask an administrator to unlock it."
)


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Every wrong password is checked for real: keep each check cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ada(_fast_hashing):
    return get_user_model().objects.create_user("ada", password=PASSWORD, is_staff=True)


@pytest.fixture
def grace(_fast_hashing):
    return get_user_model().objects.create_user("grace", password=PASSWORD, is_staff=True)


def sign_in(client, username: str, password: str, *, address: str = HOME, **headers):
    client.logout()
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def signed_in_as(client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id).username if user_id else None


def fail(client, username: str, times: int, **kwargs) -> None:
    for _ in range(times):
        response = sign_in(client, username, "wrong-password", **kwargs)
        assert signed_in_as(client) is None and response.status_code in (200, 429)


def test_the_right_password_after_too_many_wrong_ones_is_refused_with_a_sentence(client, ada, settings):
    fail(client, "ada", 30)

    response = sign_in(client, "ada", PASSWORD)

    assert response.status_code == 429
    html = response.content.decode()
    assert LOCKED_OUT in html
    assert 'name="password"' in html and 'value="ada"' in html  # the sign-in form, not a bare error
    assert signed_in_as(client) is None
    attempt = AccessAttempt.objects.get(username="ada", ip_address=HOME)
    assert attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT


def test_the_lockout_starts_at_the_failure_limit(client, ada, settings):
    fail(client, "ada", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, "ada", "wrong-password").status_code == 429

    assert LOCKED_OUT in sign_in(client, "ada", PASSWORD).content.decode()
    assert signed_in_as(client) is None


def test_the_lockout_is_for_that_account_from_that_address_only(client, ada, grace, settings):
    fail(client, "ada", settings.AXES_FAILURE_LIMIT)

    sign_in(client, "grace", PASSWORD, address=HOME)
    assert signed_in_as(client) == "grace"
    sign_in(client, "ada", PASSWORD, address=CAFE)
    assert signed_in_as(client) == "ada"
    sign_in(client, "ada", PASSWORD, address=HOME)
    assert signed_in_as(client) is None


def test_signing_in_before_the_limit_starts_the_count_again(client, ada, settings):
    fail(client, "ada", settings.AXES_FAILURE_LIMIT - 1)
    sign_in(client, "ada", PASSWORD)
    assert signed_in_as(client) == "ada"
    assert not AccessAttempt.objects.filter(username="ada").exists()

    fail(client, "ada", settings.AXES_FAILURE_LIMIT - 1)
    sign_in(client, "ada", PASSWORD)
    assert signed_in_as(client) == "ada"


def test_the_lockout_ends_after_the_cool_off(client, ada, settings):
    fail(client, "ada", settings.AXES_FAILURE_LIMIT)
    assert settings.AXES_COOLOFF_TIME == dt.timedelta(minutes=15)

    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    sign_in(client, "ada", PASSWORD)

    assert signed_in_as(client) == "ada"


@pytest.mark.parametrize(
    "command", [["axes_reset_username", "ada"], ["axes_reset_ip", HOME], ["axes_reset"]]
)
def test_an_administrator_unlocks_an_account_from_the_command_line(client, ada, settings, command):
    fail(client, "ada", settings.AXES_FAILURE_LIMIT)
    sign_in(client, "ada", PASSWORD)
    assert signed_in_as(client) is None

    call_command(*command, stdout=StringIO())
    sign_in(client, "ada", PASSWORD)

    assert signed_in_as(client) == "ada"


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(client, ada, settings):
    # What settings.py sets for HRSYNC_PROXY_COUNT=1 (one proxy, e.g. nginx).
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_COUNT = 0
    proxy = "10.0.0.2"
    # A client may send its own X-Forwarded-For; the proxy appends what it saw.
    fail(client, "ada", settings.AXES_FAILURE_LIMIT, address=proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.99, {HOME}")

    assert AccessAttempt.objects.get(username="ada").ip_address == HOME
    sign_in(client, "ada", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR=CAFE)
    assert signed_in_as(client) == "ada"
    sign_in(client, "ada", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR=f"{CAFE}, {HOME}")
    assert signed_in_as(client) is None


def test_the_admin_sign_in_is_locked_out_too(client, ada, settings):
    fail(client, "ada", settings.AXES_FAILURE_LIMIT)

    client.logout()
    response = client.post(
        reverse("admin:login"), {"username": "ada", "password": PASSWORD}, REMOTE_ADDR=HOME
    )

    assert response.status_code == 429 and LOCKED_OUT in response.content.decode()
    assert signed_in_as(client) is None


def test_a_form_posted_without_its_csrf_token_gets_hrsyncs_own_page_that_the_policy_allows():
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN, {"username": "someone", "password": "whatever"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "This page has expired" in page and "nothing was saved or started" in page
    # Django's own page styles itself inline, which the policy blocks.
    assert "<style" not in page and " style=" not in page
    assert "style-src 'self'" in response["Content-Security-Policy"]
