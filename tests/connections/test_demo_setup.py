"""The quick start's first-run setup."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from connections.models import Connection
from hrsync.people.models import Person
from tests.connections.helpers import run_sync

pytestmark = pytest.mark.django_db


def test_demo_setup_creates_an_admin_and_a_sample_connection_whose_first_sync_fills_depots(monkeypatch, capsys):
    monkeypatch.setenv("HRSYNC_ADMIN_PASSWORD", "chosen-Passw0rd")

    call_command("demo_setup")
    call_command("demo_setup")  # idempotent

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("chosen-Passw0rd")
    assert "chosen-Passw0rd" not in capsys.readouterr().out
    connection = Connection.objects.get()
    assert connection.kind == "sample"

    run = run_sync(connection)

    assert run.counts["created"] > 200
    assert run.counts["warnings"] == 0
    assert not Person.objects.filter(depot__isnull=True, status="active").exists()


def test_demo_setup_prints_a_generated_password_once(monkeypatch, capsys):
    monkeypatch.delenv("HRSYNC_ADMIN_PASSWORD", raising=False)
    call_command("demo_setup")
    out = capsys.readouterr().out
    password = out.split("password '")[1].split("'")[0]
    assert User.objects.get(username="admin").check_password(password)
    call_command("demo_setup")
    assert "password" not in capsys.readouterr().out
