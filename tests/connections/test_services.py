"""Connection settings: validated, secrets kept, ids preferred to names."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from connections import services

pytestmark = pytest.mark.django_db


def actionhrm(name: str = "Acme"):
    return services.connection_create(
        kind="actionhrm", name=name, values={"subdomain": "acme", "username": "api", "password": "pw"}
    )


def test_an_unknown_kind_lists_the_known_integrations():
    with pytest.raises(ValidationError, match="Known integrations: actionhrm"):
        services.connection_create(kind="nope", name="X")


def test_a_new_connection_starts_with_its_connectors_status_map():
    connection = actionhrm()
    connection.refresh_from_db()
    assert connection.status_map["On Leave"] == "on_leave"


@pytest.mark.parametrize("hours", ["abc", "0", "-1", "1000"])
def test_a_bad_sync_interval_is_refused(hours):
    connection = actionhrm()
    with pytest.raises(ValidationError, match="sync_interval_hours"):
        services.connection_update(connection=connection, values={"sync_interval_hours": hours})


def test_a_sync_interval_in_hours_is_stored():
    connection = services.connection_update(connection=actionhrm(), values={"sync_interval_hours": "1.5"})
    connection.refresh_from_db()
    assert connection.sync_interval == dt.timedelta(hours=1.5)


def test_a_blank_secret_keeps_the_stored_one():
    connection = services.connection_update(connection=actionhrm(), values={"password": "", "username": "new"})
    connection.refresh_from_db()
    assert connection.secrets["password"] == "pw" and connection.config["username"] == "new"


def test_an_id_wins_over_a_name_made_of_digits():
    first = actionhrm("First")
    actionhrm(str(first.pk))
    assert services.connection_find(id_or_name=str(first.pk)) == first


def test_turning_background_sync_on_makes_the_connection_due():
    connection = services.connection_update(connection=actionhrm(), values={"background_sync": "true"})
    connection.refresh_from_db()
    assert connection.background_sync and connection.next_sync_at is not None
