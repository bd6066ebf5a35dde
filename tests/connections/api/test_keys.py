"""API keys: issued once, stored only as a hash, found by their id,
replaced by a regenerated one, kept when the settings are saved."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.api.auth import connection_api_key_regenerate, connection_for_api_key
from connections.api.keys import API_KEY_HASH, API_KEY_ID, api_key_generate, api_key_id, api_key_matches
from connections.models import Connection
from connections.services import connection_create, connection_update


def test_a_generated_key_matches_its_hash_and_no_other_key_does():
    issued, other = api_key_generate(), api_key_generate()

    assert issued.key.startswith(f"hrs_{issued.key_id}_")
    assert api_key_matches(key=issued.key, stored_hash=issued.stored_hash)
    assert not api_key_matches(key=other.key, stored_hash=issued.stored_hash)
    assert not api_key_matches(key=issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B"), stored_hash=issued.stored_hash)
    assert issued.key not in issued.stored_hash
    assert issued.key not in repr(issued)


def test_two_keys_with_the_same_secret_would_still_hash_differently():
    # A salt per key: equal hashes never reveal equal keys.
    first, second = api_key_generate(), api_key_generate()
    assert first.stored_hash.split("$")[1] != second.stored_hash.split("$")[1]


@pytest.mark.parametrize("stored_hash", ["", "sha256$00$00", "hmac-sha256$zz$00", "hmac-sha256$$", "plain"])
def test_a_malformed_stored_hash_matches_nothing(stored_hash):
    assert not api_key_matches(key=api_key_generate().key, stored_hash=stored_hash)


@pytest.mark.parametrize("text", ["", "hrs_", "hrs_xyz_abc", "Bearer hrs_0123456789ab_" + "A" * 43, "hrs_0123456789ab_" + "A" * 42])
def test_something_that_is_not_a_key_has_no_id(text):
    assert api_key_id(text) == ""


def test_creating_an_upload_connection_issues_a_key_stored_only_as_a_hash(db, xml_upload_kind):
    connection = connection_create(kind="xml_upload", name="Acme uploads")
    key = connection.issued_api_key

    stored = Connection.objects.get(pk=connection.pk)
    assert not hasattr(stored, "issued_api_key")
    assert stored.config[API_KEY_ID] == api_key_id(key)
    assert api_key_matches(key=key, stored_hash=stored.secrets[API_KEY_HASH])
    assert key not in json.dumps(stored.config) + json.dumps(stored.secrets)
    assert connection_for_api_key(key=key) == stored


def test_a_connection_that_receives_no_files_gets_no_key(db):
    connection = connection_create(
        kind="actionhrm", name="Acme HR", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )

    assert not hasattr(connection, "issued_api_key")
    assert API_KEY_ID not in connection.config
    with pytest.raises(ValidationError, match="has no API key"):
        connection_api_key_regenerate(connection=connection)


def test_a_regenerated_key_replaces_the_old_one_at_once(db, xml_upload_kind):
    connection = connection_create(kind="xml_upload", name="Acme uploads")
    old_key = connection.issued_api_key

    new_key = connection_api_key_regenerate(connection=connection)

    assert new_key != old_key
    assert connection_for_api_key(key=old_key) is None
    assert connection_for_api_key(key=new_key) == connection


def test_saving_the_settings_keeps_the_key(db, xml_upload_kind):
    connection = connection_create(kind="xml_upload", name="Acme uploads")
    key = connection.issued_api_key

    connection_update(connection=connection, config={"contacts": "it@example.com", "max_upload_mb": 10})

    stored = Connection.objects.get(pk=connection.pk)
    assert stored.config["contacts"] == "it@example.com"
    assert connection_for_api_key(key=key) == stored


def test_a_key_of_a_deleted_connection_finds_nothing(db, xml_upload_kind):
    connection = connection_create(kind="xml_upload", name="Acme uploads")
    key = connection.issued_api_key
    connection.delete()

    assert connection_for_api_key(key=key) is None


# -- the command line -----------------------------------------------------------------


def test_connections_add_prints_the_id_and_the_key_once(db, xml_upload_kind, capsys):
    call_command("connections", "add", "--kind", "xml_upload", "--name", "Acme uploads")

    out = capsys.readouterr().out.splitlines()
    connection = Connection.objects.get()
    assert out[0] == str(connection.pk)
    assert out[1].startswith("API key: hrs_")
    assert connection_for_api_key(key=out[1].removeprefix("API key: ")) == connection


def test_connections_add_of_a_kind_without_a_key_prints_only_the_id(db, capsys):
    call_command(
        "connections", "add", "--kind", "actionhrm", "--name", "Acme HR",
        "--set", "subdomain=acme", "--set", "username=api", "--set", "password=pw",
    )

    assert capsys.readouterr().out.strip() == str(Connection.objects.get().pk)


def test_connections_set_regenerate_key_prints_the_new_key_and_the_old_one_stops_working(db, xml_upload_kind, capsys):
    connection = connection_create(kind="xml_upload", name="Acme uploads")
    old_key = connection.issued_api_key

    call_command("connections", "set", "Acme uploads", "--regenerate-key")

    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("API key: ")]
    new_key = line.removeprefix("API key: ")
    assert connection_for_api_key(key=new_key) == connection
    assert connection_for_api_key(key=old_key) is None


def test_connections_set_can_change_settings_and_regenerate_the_key_at_once(db, xml_upload_kind, capsys):
    connection_create(kind="xml_upload", name="Acme uploads")

    call_command("connections", "set", "Acme uploads", "--set", "max_upload_mb=20", "--regenerate-key")

    out = capsys.readouterr().out
    stored = Connection.objects.get()
    assert stored.config["max_upload_mb"] == 20
    assert connection_for_api_key(key=out.split("API key: ")[1].strip()) == stored


def test_connections_set_regenerate_key_of_a_kind_without_a_key_is_a_usage_error(db):
    connection_create(
        kind="actionhrm", name="Acme HR", config={"subdomain": "acme", "username": "api"}, secrets={"password": "pw"}
    )

    with pytest.raises(CommandError, match="has no API key") as caught:
        call_command("connections", "set", "Acme HR", "--regenerate-key")
    assert caught.value.returncode == 2


def test_connections_set_with_nothing_to_do_is_a_usage_error(db, xml_upload_kind):
    connection_create(kind="xml_upload", name="Acme uploads")

    with pytest.raises(CommandError, match="--regenerate-key"):
        call_command("connections", "set", "Acme uploads")
