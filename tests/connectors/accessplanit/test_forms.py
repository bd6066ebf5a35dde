"""An accessplanit connection's settings: the form, the stored settings, the pages and ``manage.py connections``."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from connections.models import Connection
from connections.services import connection_create
from connectors.accessplanit.forms import AccessPlanItConfigForm
from connectors.accessplanit.settings import AccessPlanItSettings, normalise_ownership
from connectors.base import ConnectorError

BASE = "https://acme.accessplanit.com/accessplan/api/v2"
API_KEY = "apit-key-Xq9-unmistakable-api-key"
PASSWORD = "Tr0ub4dor&3-unmistakable-password"
DEFAULT_OWNERSHIP = {
    "first_name": "hrsync", "last_name": "hrsync", "email": "hrsync", "mobile_phone": "hrsync",
    "work_phone": "hrsync", "job_title": "accessplanit",
}


def bound(data: dict[str, Any], initial: dict[str, Any] | None = None) -> AccessPlanItConfigForm:
    return AccessPlanItConfigForm(data={"base_url": BASE + "/", "api_key": API_KEY} | data, initial=initial)


# -- the form on its own ----------------------------------------------------------------


def test_the_form_fills_its_defaults_and_stores_the_ownership_as_one_dict():
    form = bound({})
    assert form.is_valid(), form.errors
    cleaned = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
    assert cleaned == {
        "base_url": BASE, "auth_mode": "api_key", "api_key": API_KEY, "user_statuses": "Enabled,New",
        "push_users": False, "training": False, "ownership": DEFAULT_OWNERSHIP,
    }


def test_the_form_shows_its_fields_in_sections_with_one_owner_select_per_field():
    assert [section.legend for section in AccessPlanItConfigForm.sections] == [
        "Connection", "People", "Who owns each field", "Training",
    ]
    owners = AccessPlanItConfigForm.sections[2]
    assert owners.fields == tuple(f"ownership.{name}" for name in DEFAULT_OWNERSHIP)
    assert "Send user details to accessplanit" in owners.help
    form = AccessPlanItConfigForm()
    assert form.fields["ownership.first_name"].label == "First name"
    assert form["ownership.job_title"].initial == "accessplanit"


def test_the_owner_selects_start_from_the_stored_ownership():
    form = AccessPlanItConfigForm(initial={"ownership": DEFAULT_OWNERSHIP | {"job_title": "hrsync"}})
    assert form["ownership.job_title"].initial == "hrsync"
    assert form["ownership.email"].initial == "hrsync"


def test_an_owner_given_for_one_field_changes_only_that_field():
    form = bound({"ownership": DEFAULT_OWNERSHIP | {"email": "accessplanit"}, "ownership.job_title": "HRSYNC"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["ownership"] == DEFAULT_OWNERSHIP | {"email": "accessplanit", "job_title": "hrsync"}


def test_an_unknown_owner_or_field_is_a_clear_error():
    form = bound({"ownership.email": "both"})
    assert not form.is_valid()
    assert form.errors["ownership.email"] == [
        "Choose hrsync (hrsync's value is sent) or accessplanit (accessplanit's value is read)."
    ]
    with pytest.raises(ValueError, match="cannot send home_phone"):
        normalise_ownership({"home_phone": "hrsync"})


def test_the_sign_in_fields_are_required_by_the_auth_mode():
    form = bound({"api_key": ""})
    assert not form.is_valid()
    assert list(form.errors) == ["api_key"]
    form = bound({"auth_mode": "password", "api_key": ""})
    assert not form.is_valid()
    assert set(form.errors) == {"username", "password"}
    assert bound({"auth_mode": "password", "username": "hrsync-api", "password": PASSWORD}).is_valid()


def test_the_form_refuses_what_the_normalisers_refuse():
    form = bound({"base_url": "http://acme.accessplanit.com/api/v2", "auth_mode": "oauth",
                  "user_statuses": "Enabled;New"})
    assert not form.is_valid()
    assert set(form.errors) == {"base_url", "auth_mode", "user_statuses"}
    assert form.errors["base_url"] == ["The base URL must start with https://."]


def test_the_base_url_is_required():
    form = bound({"base_url": ""})
    assert not form.is_valid()
    assert "Enter the address of your accessplanit API" in form.errors["base_url"][0]


# -- the stored settings --------------------------------------------------------------


def test_stored_settings_become_typed_ones():
    settings = AccessPlanItSettings.from_stored(
        config={"base_url": BASE, "user_statuses": "Enabled", "companies": "12,A'B", "push_users": True,
                "ownership": {"job_title": "hrsync"}},
        secrets={"api_key": API_KEY},
    )
    assert settings.user_statuses == ("Enabled",)
    assert settings.companies == ("12", "A'B")
    assert settings.push_users and settings.training
    assert settings.ownership == DEFAULT_OWNERSHIP | {"job_title": "hrsync"}
    assert API_KEY not in repr(settings)


def test_a_stored_setting_written_by_hand_is_a_permanent_error_naming_it():
    with pytest.raises(ConnectorError, match="setting ownership") as caught:
        AccessPlanItSettings.from_stored(config={"base_url": BASE, "ownership": {"email": "x"}}, secrets={})
    assert caught.value.permanent


# -- the pages ----------------------------------------------------------------------------


def test_the_new_connection_page_shows_the_accessplanit_sections(staff):
    page = staff.get(reverse("connections:new"), {"kind": "accessplanit"}).content.decode()
    for legend in ("Connection", "People", "Who owns each field", "Training"):
        assert f"<legend>{legend}</legend>" in page
    assert 'name="config-ownership.job_title"' in page


def test_the_settings_page_never_shows_the_api_key_and_saves_an_owner(staff, db):
    connection = connection_create(
        kind="accessplanit", name="accessplanit", config={"base_url": BASE}, secrets={"api_key": API_KEY},
    )
    page = staff.get(reverse("connections:settings", args=[connection.pk])).content.decode()
    assert API_KEY not in page
    assert '<option value="accessplanit" selected>' in page


# -- the command line ---------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_connections_add_accessplanit_takes_every_setting_by_its_name(db):
    out = run(
        "connections", "add", "--kind", "accessplanit", "--name", "accessplanit",
        "--set", f"base_url={BASE}/", "--set", "auth_mode=password", "--set", "username=hrsync-api",
        "--set", f"password={PASSWORD}", "--set", "user_statuses=Enabled", "--set", "companies=12, 14",
        "--set", "push_users=yes", "--set", "training=no", "--set", "ownership.job_title=hrsync",
        "--set", "ownership.email=accessplanit",
    )
    saved = Connection.objects.get(pk=int(out.strip().splitlines()[0]))
    assert saved.config == {
        "base_url": BASE, "auth_mode": "password", "username": "hrsync-api", "user_statuses": "Enabled",
        "companies": "12,14", "push_users": True, "training": False,
        "ownership": DEFAULT_OWNERSHIP | {"job_title": "hrsync", "email": "accessplanit"},
    }
    assert saved.secrets["password"] == PASSWORD


def test_connections_set_changes_one_owner_and_keeps_the_others(db):
    connection = connection_create(
        kind="accessplanit", name="accessplanit",
        config={"base_url": BASE, "ownership": DEFAULT_OWNERSHIP | {"email": "accessplanit"}},
        secrets={"api_key": API_KEY},
    )
    run("connections", "set", str(connection.pk), "--set", "ownership.job_title=hrsync")
    connection.refresh_from_db()
    assert connection.config["ownership"] == DEFAULT_OWNERSHIP | {"email": "accessplanit", "job_title": "hrsync"}
    run("connections", "set", str(connection.pk), "--set", "companies=12")
    connection.refresh_from_db()
    assert connection.config["ownership"]["job_title"] == "hrsync"


def test_connections_set_with_a_bad_owner_names_it_and_changes_nothing(db):
    connection = connection_create(
        kind="accessplanit", name="accessplanit", config={"base_url": BASE}, secrets={"api_key": API_KEY},
    )
    with pytest.raises(CommandError) as caught:
        run("connections", "set", str(connection.pk), "--set", "ownership.email=nobody")
    assert "ownership.email" in str(caught.value) and "Choose hrsync" in str(caught.value)
    assert API_KEY not in str(caught.value)
    connection.refresh_from_db()
    assert connection.config["ownership"] == DEFAULT_OWNERSHIP
