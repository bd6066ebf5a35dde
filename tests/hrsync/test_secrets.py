"""Credentials are encrypted at rest and never rendered, logged or reported."""

from __future__ import annotations

import logging

import pytest
import responses
from django.contrib.auth.models import User
from django.db import connection as db
from django.urls import reverse

from connections import services
from connections.models import Connection
from tests.connections.helpers import run_sync
from tests.factories import SyncRunFactory

pytestmark = pytest.mark.django_db

SECRET = "Sup3r-S3cret-Pa55word!"
BASE = "https://acme.actionhrm.com"


@pytest.fixture
def actionhrm():
    return services.connection_create(
        kind="actionhrm",
        name="Acme ActionHRM",
        config={"subdomain": "acme", "username": "api-user"}, secrets={"password": SECRET},
    )


def test_secrets_are_encrypted_in_the_database(actionhrm):
    with db.cursor() as cursor:
        cursor.execute("SELECT secrets, config FROM connections_connection WHERE id = %s", [actionhrm.pk])
        stored_secrets, stored_config = cursor.fetchone()
    assert SECRET not in stored_secrets
    assert "password" not in stored_secrets  # even the key names are inside the ciphertext
    assert SECRET not in str(stored_config)
    assert Connection.objects.get(pk=actionhrm.pk).secrets["password"] == SECRET


def test_secrets_never_show_in_a_repr(actionhrm):
    connection = Connection.objects.get(pk=actionhrm.pk)
    assert SECRET not in repr(connection.secrets)
    assert SECRET not in str(connection.secrets)
    assert SECRET not in repr(services.connection_connector(connection=connection))
    assert SECRET not in repr(connection.__dict__)


def test_a_wrong_key_gives_a_clear_error_without_the_ciphertext(actionhrm, settings):
    from cryptography.fernet import Fernet
    from django.core.exceptions import ImproperlyConfigured

    settings.HRSYNC_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted") as excinfo:
        Connection.objects.get(pk=actionhrm.pk).secrets
    assert "gAAAA" not in str(excinfo.value)


def test_rotating_the_key_keeps_old_secrets_readable(actionhrm, settings):
    from cryptography.fernet import Fernet

    settings.HRSYNC_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.HRSYNC_ENCRYPTION_KEYS]
    assert Connection.objects.get(pk=actionhrm.pk).secrets["password"] == SECRET


def test_no_admin_page_renders_a_secret(actionhrm, client):
    admin = User.objects.create_superuser("root", password="x")
    client.force_login(admin)
    run = SyncRunFactory(connection=actionhrm, report={"changes": []})
    pages = [
        reverse("admin:connections_connection_changelist"),
        reverse("admin:connections_connection_change", args=[actionhrm.pk]),
        reverse("admin:connections_connection_add"),
        reverse("admin:connections_connection_history", args=[actionhrm.pk]),
        reverse("admin:connections_connection_delete", args=[actionhrm.pk]),
        reverse("admin:connections_syncrun_changelist"),
        reverse("admin:connections_syncrun_change", args=[run.pk]),
        reverse("admin:index"),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert SECRET not in response.content.decode(), page


@responses.activate
def test_secrets_stay_out_of_logs_reports_and_errors_when_a_sync_fails(actionhrm, caplog):
    caplog.set_level(logging.DEBUG)
    responses.get(f"{BASE}/api/v1/locations", status=401, json={"error": "bad credentials"})
    responses.get(f"{BASE}/api/v1/employees", status=401, json={"error": "bad credentials"})

    run = run_sync(actionhrm)
    check = services.connection_check(connection=actionhrm)

    assert run.status == "failed"
    assert "rejected the username or password" in run.error
    assert not check.ok
    for text in (caplog.text, run.error, str(run.report), str(run.changes), check.message):
        assert SECRET not in text


@responses.activate
def test_secrets_stay_out_of_logs_and_reports_when_a_sync_succeeds(actionhrm, caplog):
    caplog.set_level(logging.DEBUG)
    responses.get(f"{BASE}/api/v1/locations", json={"locations": [{"id": "L1", "name": "Sydney Depot"}]})
    responses.get(
        f"{BASE}/api/v1/employees",
        json={
            "employees": [
                {"id": "1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "Active"}
            ],
            "page": 1,
            "per_page": 100,
            "total": 1,
        },
    )

    run = run_sync(actionhrm)

    assert run.status == "succeeded", run.error
    assert run.counts["created"] == 1
    assert SECRET not in caplog.text
    assert SECRET not in str(run.report) + str(run.changes)
