"""Connection settings: validated, secrets kept, ids preferred to names."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from connections import services
from connections.management.cli import settings_from_key_values
from connections.models import Connection
from connectors.actionhrm.connector import ActionHRMConnector
from connectors.base import Check

pytestmark = pytest.mark.django_db


def actionhrm(name: str = "Acme"):
    return services.connection_create(
        kind="actionhrm", name=name, config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )


def test_an_unknown_kind_lists_the_known_integrations():
    with pytest.raises(ValidationError, match="Known integrations: accessplanit, actionhrm"):
        services.connection_create(kind="nope", name="X")


def test_a_new_connection_starts_with_its_connectors_status_map():
    connection = actionhrm()
    connection.refresh_from_db()
    assert connection.status_map["On Leave"] == "on_leave"


@pytest.mark.parametrize("hours", ["abc", "0", "-1", "1000"])
def test_a_bad_sync_interval_is_refused(hours):
    connection = actionhrm()
    with pytest.raises(ValidationError, match="sync_interval_hours"):
        typed = settings_from_key_values(kind="actionhrm", values={"sync_interval_hours": hours})
        services.connection_update(connection=connection, **typed.as_kwargs())


def test_a_sync_interval_in_hours_is_stored():
    connection = services.connection_update(
        connection=actionhrm(), options={"sync_interval": dt.timedelta(hours=1.5)}
    )
    connection.refresh_from_db()
    assert connection.sync_interval == dt.timedelta(hours=1.5)


def test_a_blank_secret_keeps_the_stored_one():
    connection = services.connection_update(connection=actionhrm(), config={"username": "new"}, secrets={"password": ""})
    connection.refresh_from_db()
    assert connection.secrets["password"] == "pw" and connection.config["username"] == "new"


def test_an_id_wins_over_a_name_made_of_digits():
    first = actionhrm("First")
    actionhrm(str(first.pk))
    assert services.connection_find(id_or_name=str(first.pk)) == first


def test_turning_background_sync_on_makes_the_connection_due():
    connection = services.connection_update(connection=actionhrm(), options={"background_sync": True})
    connection.refresh_from_db()
    assert connection.background_sync and connection.next_sync_at is not None


def test_typed_options_are_stored():
    connection = actionhrm()

    services.connection_update(connection=connection, options={
        "background_sync": True, "credential_notifications": True, "enabled": False,
        "safeguard_percent": 35, "safeguard_min": 2, "sync_interval": dt.timedelta(hours=2),
    })

    saved = services.connection_find(id_or_name=str(connection.pk))
    assert (saved.background_sync, saved.credential_notifications, saved.enabled) == (True, True, False)
    assert (saved.safeguard_percent, saved.safeguard_min) == (35, 2)
    assert saved.sync_interval == dt.timedelta(hours=2)
    assert saved.next_sync_at is not None


def test_an_option_out_of_range_is_refused_and_nothing_is_saved():
    connection = actionhrm()

    with pytest.raises(ValidationError, match="safeguard_percent"):
        services.connection_update(connection=connection, options={"safeguard_percent": 150})

    assert services.connection_find(id_or_name="Acme").safeguard_percent == 20


def test_status_and_field_maps_are_merged_entry_by_entry():
    connection = actionhrm()

    services.connection_update(connection=connection, status_map={"Casual": "active"},
                               field_map={"email": "work_email", "job_title": "position"})
    services.connection_update(connection=connection, status_map={"On Leave": "inactive"},
                               field_map={"email": ""})

    saved = services.connection_find(id_or_name="Acme")
    assert saved.status_map["Casual"] == "active" and saved.status_map["On Leave"] == "inactive"
    assert saved.status_map["Active"] == "active"
    assert saved.field_map == {"job_title": "position"}


# -- Save and test: a test that fails saves nothing unless asked ---------------------------


@pytest.fixture
def failing_check(monkeypatch):
    """The ActionHRM check fails, as with a wrong password."""
    monkeypatch.setattr(ActionHRMConnector, "check", lambda self: Check(ok=False, message="Rejected (401)."))


def create_tested(*, save_failing: bool):
    return services.connection_create_tested(
        kind="actionhrm", name="Acme", config={"subdomain": "acme", "username": "api"},
        secrets={"password": "pw"}, save_failing=save_failing,
    )


def test_a_new_connection_whose_first_test_fails_is_not_saved(failing_check):
    connection, check = create_tested(save_failing=False)

    assert connection is None
    assert (check.ok, check.message) == (False, "Rejected (401).")
    assert not Connection.objects.exists()


def test_save_anyway_saves_a_new_connection_with_the_failed_test_as_its_health(failing_check):
    connection, _check = create_tested(save_failing=True)

    connection.refresh_from_db()
    assert (connection.name, connection.secrets) == ("Acme", {"password": "pw"})
    assert (connection.last_check_ok, connection.last_check_message) == (False, "Rejected (401).")


def test_changed_settings_that_fail_their_test_are_not_saved(failing_check):
    connection = actionhrm()
    before = Connection.objects.values().get(pk=connection.pk)

    saved, check = services.connection_update_tested(
        connection=connection, options={}, config={"username": "other"}, secrets={}, status_map={},
        save_failing=False,
    )

    assert (saved, check.ok) == (False, False)
    assert Connection.objects.values().get(pk=connection.pk) == before


def test_other_changes_are_saved_and_then_tested(failing_check):
    connection = actionhrm()

    saved, check = services.connection_update_tested(
        connection=connection, options={"safeguard_min": 7}, config={}, secrets={}, status_map={},
        save_failing=False,
    )

    connection.refresh_from_db()
    assert (saved, check.ok) == (True, False)
    assert (connection.safeguard_min, connection.last_check_ok) == (7, False)
