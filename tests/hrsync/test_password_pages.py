"""The password pages (change, forgotten, reset) are hrsync's own pages, not the Django admin's."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db

OLD = "old-Horse-battery-7"
NEW = "new-Staple-battery-9"

PAGES = [
    reverse("password_change"),
    reverse("password_change_done"),
    reverse("password_reset"),
    reverse("password_reset_done"),
    reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "not-a-real-token"}),
    reverse("password_reset_complete"),
]


@pytest.fixture
def ada(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return get_user_model().objects.create_user("ada", password=OLD, is_staff=True)


@pytest.mark.parametrize("url", PAGES)
def test_each_password_page_has_hrsyncs_own_layout_and_no_admin_chrome(client, ada, url):
    client.force_login(ada)

    page = client.get(url).content.decode()

    assert 'class="topbar"' in page and 'id="main"' in page
    assert "Django administration" not in page and "breadcrumbs" not in page


def test_changing_the_password_through_the_form_saves_the_new_one(client, ada):
    client.force_login(ada)

    response = client.post(
        reverse("password_change"), {"old_password": OLD, "new_password1": NEW, "new_password2": NEW}
    )

    assert response.status_code == 302 and response.url == reverse("password_change_done")
    ada.refresh_from_db()
    assert ada.check_password(NEW)
    assert "Password changed" in client.get(response.url).content.decode()


def test_the_password_rules_are_shown_as_a_list_inside_the_help_of_the_new_password(client, ada):
    client.force_login(ada)

    page = client.get(reverse("password_change")).content.decode()

    # A list cannot sit in a <p>: the browser would push it out of the help, unstyled.
    assert '<div class="help" id="id_new_password1_helptext"><ul>' in page


def test_a_reset_link_that_no_longer_works_says_so_and_offers_a_new_one(client):
    page = client.get(PAGES[4], follow=True).content.decode()

    assert "This link does not work any more" in page
    assert f'href="{reverse("password_reset")}"' in page
