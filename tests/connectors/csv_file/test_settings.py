"""The CSV file connection's settings: the form, the CLI, suggestions,
pinned host keys and private keys (no server needed)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.core.exceptions import ValidationError
from django.core.management import call_command

from connections import services
from connections.models import Connection
from connectors.csv_file.columns import suggest_columns
from connectors.csv_file.forms import CsvFileConfigForm
from connectors.csv_file.settings import parse_uri
from connectors.csv_file.ssh import (
    KeyProblem,
    load_private_key,
    normalise_host_pin,
    normalise_private_key_text,
    parse_host_pin,
)
from connectors.registry import CONNECTORS, connector_class

ED25519_PUB = (
    ed25519.Ed25519PrivateKey.generate().public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode().split()[1]
)


def make_key(kind: str = "ed25519", *, fmt=serialization.PrivateFormat.OpenSSH, passphrase: str = "") -> str:
    key = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else rsa.generate_private_key(65537, 2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def form(**data) -> CsvFileConfigForm:
    return CsvFileConfigForm(data={"uri": "https://files.example.com/staff.csv", "has_header": True, **data})


def test_the_registry_offers_the_csv_file_connector():
    assert CONNECTORS["csv_file"][0] == "CSV file (SFTP/HTTPS)"


# -- addresses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "scheme", "host", "port", "path"),
    [
        ("sftp://files.example.com/exports/staff.csv", "sftp", "files.example.com", 22, "/exports/staff.csv"),
        ("sftp://files.example.com:2222/~/staff%20list.csv", "sftp", "files.example.com", 2222, "staff list.csv"),
        ("https://hr.example.com:8443/x/staff.csv", "https", "hr.example.com", 8443, "/x/staff.csv"),
        ("file:///srv/staff.csv", "file", "", None, "/srv/staff.csv"),
    ],
)
def test_addresses_are_parsed(uri, scheme, host, port, path):
    address = parse_uri(uri)
    assert (address.scheme, address.host, address.port, address.path) == (scheme, host, port, path)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://files.example.com/staff.csv", "must start with sftp:// or https://"),
        ("http://files.example.com/staff.csv", "must start with sftp:// or https://"),
        ("sftp://bob:hunter2@files.example.com/staff.csv", "Do not put a user name or password"),
        ("sftp://files.example.com/exports/", "must end with the file's name"),
        ("https://", "no host name"),
    ],
)
def test_bad_addresses_are_refused_without_repeating_them(uri, message):
    with pytest.raises(ValueError) as caught:
        parse_uri(uri)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_local_files_need_the_setting(settings):
    settings.HRSYNC_ALLOW_LOCAL_FILES = False
    with pytest.raises(ValueError, match="HRSYNC_ALLOW_LOCAL_FILES"):
        parse_uri("file:///srv/staff.csv")


def test_plain_http_only_on_loopback_when_allowed(settings):
    settings.DEBUG = False
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = False
    with pytest.raises(ValueError):
        parse_uri("http://127.0.0.1:8123/staff.csv")
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True
    assert parse_uri("http://127.0.0.1:8123/staff.csv").url == "http://127.0.0.1:8123/staff.csv"
    with pytest.raises(ValueError):
        parse_uri("http://files.example.com/staff.csv")


def test_a_run_refuses_a_local_file_once_the_setting_is_off(settings, write_csv):
    from connectors.base import ConnectorError
    from connectors.csv_file.connector import CsvFileConnector

    uri = write_csv("Email,Status\na@example.com,Active\n")
    settings.HRSYNC_ALLOW_LOCAL_FILES = False
    with pytest.raises(ConnectorError, match="not allowed on this server"):
        list(CsvFileConnector(config={"uri": uri}, secrets={}).fetch_employees())


# -- the form ------------------------------------------------------------------------


def test_the_form_normalises_what_an_admin_types():
    f = form(delimiter="semicolon", encoding="Windows-1252", quotechar="", date_format="DD/MM/YYYY",
             columns='{"Forename": "First Name", "Depot": "depot", "Staff No": "employee_reference"}',
             status_column=" Status ")
    assert f.is_valid(), f.errors
    data = f.cleaned_data
    assert (data["delimiter"], data["encoding"], data["quotechar"], data["date_format"]) == (";", "cp1252", '"', "%d/%m/%Y")
    assert data["columns"] == {"Forename": "first_name", "Depot": "location", "Staff No": "employee_reference"}
    assert data["status_column"] == "Status"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"delimiter": "#"}, "delimiter", "field separator"),
        ({"encoding": "ebcdic"}, "encoding", "utf-8, latin-1 or cp1252"),
        ({"quotechar": "ab"}, "quotechar", "one character"),
        ({"date_format": "%Y"}, "date_format", "day, a month and a year"),
        ({"columns": "[1, 2]"}, "columns", "JSON object"),
        ({"columns": '{"A": "shoe_size"}'}, "columns", "not a person field"),
        ({"columns": '{"A": "email", "B": "email"}'}, "columns", "map each field from one column"),
        ({"columns": '{"A": "first_name"}', "all_active": True}, "key_column", "unique key"),
        ({"columns": '{"A": "email"}'}, "status_column", "status column"),
        ({"status_column": "S", "all_active": True}, "all_active", "not both"),
        ({"has_header": False, "columns": '{"Email": "email"}', "all_active": True}, "columns", "column number"),
        ({"host_key": "not a key"}, "host_key", "known_hosts line"),
        ({"host_key": "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"}, "host_key", "SHA256"),
        ({"ca_bundle": "hello"}, "ca_bundle", "BEGIN CERTIFICATE"),
        ({"private_key": "ssh-ed25519 AAAA hello"}, "private_key", "public key"),
        ({"private_key": "PuTTY-User-Key-File-3: ssh-ed25519"}, "private_key", "PuTTYgen"),
    ],
)
def test_the_form_explains_bad_settings(data, field, message):
    f = form(**data)
    assert not f.is_valid()
    assert message in " ".join(f.errors.get(field, [])), f.errors


def test_a_file_without_a_header_row_is_accepted_before_its_columns_are_mapped():
    # The Column mapping page maps them by position, from the file: the settings form has no columns box.
    f = form(has_header=False)
    assert f.is_valid(), f.errors


def test_sftp_needs_a_username():
    f = CsvFileConfigForm(data={"uri": "sftp://files.example.com/staff.csv", "has_header": True})
    assert not f.is_valid() and "needs a username" in f.errors["username"][0]


def test_a_wrong_passphrase_is_blamed_on_the_passphrase():
    f = form(private_key=make_key(passphrase="right one"), passphrase="wrong one")
    assert not f.is_valid()
    assert f.errors["passphrase"] == ["The passphrase does not unlock the private key."]


def test_an_encrypted_key_without_a_passphrase_is_accepted_by_the_form():
    # The passphrase may be stored already; the run says so if it is not.
    assert form(private_key=make_key(passphrase="pp")).is_valid()


# -- the CLI / services ---------------------------------------------------------------


@pytest.mark.django_db
def test_connections_add_takes_every_setting_under_the_form_names(capsys):
    key = make_key()
    call_command(
        "connections", "add", "--kind", "csv_file", "--name", "Payroll export",
        "--set", "uri=sftp://files.example.com:2222/exports/staff.csv",
        "--set", "username=hrsync",
        "--set", "password=Pw-cli-unmistakable",
        "--set", f"private_key={key}",
        "--set", "passphrase=",
        "--set", f"host_key=[files.example.com]:2222 ssh-ed25519 {ED25519_PUB} comment",
        "--set", "delimiter=;",
        "--set", "encoding=latin-1",
        "--set", "quotechar=\"",
        "--set", "has_header=true",
        "--set", "date_format=%d/%m/%Y",
        "--set", 'columns={"Staff No": "employee_reference", "Forename": "first_name", "Manager": "manager"}',
        "--set", "key_column=Staff No",
        "--set", "status_column=Status",
        "--set", "status_map.Leaver=terminated",
    )
    connection = Connection.objects.get(name="Payroll export")
    assert connection.kind == "csv_file"
    assert connection.config["host_key"] == f"ssh-ed25519 {ED25519_PUB}"
    assert connection.config["delimiter"] == ";" and connection.config["has_header"] is True
    assert connection.config["columns"]["Manager"] == "manager"
    assert set(connection.secrets) == {"password", "private_key"}
    assert "password" not in connection.config and "private_key" not in connection.config
    assert connection.status_map["Left"] == "terminated"

    call_command("connections", "set", "Payroll export", "--set", "has_header=false",
                 "--set", 'columns={"1": "employee_reference", "2": "first_name"}',
                 "--set", "key_column=", "--set", "status_column=", "--set", "all_active=true")
    connection.refresh_from_db()
    assert connection.config["has_header"] is False and connection.config["all_active"] is True
    assert connection.secrets["password"] == "Pw-cli-unmistakable"  # kept
    call_command("connections", "list", "--json")
    assert "Pw-cli-unmistakable" not in capsys.readouterr().out


@pytest.mark.django_db
def test_services_refuse_a_bad_setting_by_name():
    with pytest.raises(ValidationError, match="columns: "):
        services.connection_create(kind="csv_file", name="x", config={"uri": "https://files.example.com/staff.csv", "columns": '{"A": "nonsense"}'})


# -- suggestions --------------------------------------------------------------------------


def test_suggestions_come_from_common_header_names():
    headers = ["Forename", "Surname", "E-mail", "Staff No", "DOB", "Mobile", "Job Title", "Depot",
               "Reports To", "Status", "Hire Date", "Leaving Date", "Gender", "Shoe size"]
    assert suggest_columns(headers) == {
        "Forename": "first_name", "Surname": "last_name", "E-mail": "email", "Staff No": "employee_reference",
        "DOB": "date_of_birth", "Mobile": "mobile_phone", "Job Title": "job_title", "Depot": "location",
        "Reports To": "manager", "Status": "status", "Hire Date": "hire_date",
        "Leaving Date": "termination_date", "Gender": "gender",
    }


@pytest.mark.parametrize("header", ["First Name", "firstname", "Forename", "given_name", "FIRST_NAME"])
def test_first_name_has_many_spellings(header):
    assert suggest_columns([header]) == {header: "first_name"}


@pytest.mark.parametrize(
    ("header", "target"),
    [("Last Name", "last_name"), ("Email Address", "email"), ("Employee ID", "employee_reference"),
     ("Payroll Number", "employee_reference"), ("Date of Birth", "date_of_birth"), ("Position", "job_title"),
     ("Location", "location"), ("Site", "location"), ("Manager ID", "manager"), ("Start Date", "hire_date"),
     ("End Date", "termination_date")],
)
def test_other_suggestions(header, target):
    assert suggest_columns([header]) == {header: target}


def test_each_field_is_suggested_once():
    assert suggest_columns(["Email", "Work Email", "Mobile"]) == {"Email": "email", "Mobile": "mobile_phone"}


# -- host keys ------------------------------------------------------------------------------


def test_a_fingerprint_pin_is_kept_as_sha256():
    pin = "SHA256:" + "A" * 43
    assert normalise_host_pin(pin.lower().replace("a" * 43, "A" * 43)) == pin
    assert normalise_host_pin(pin + "=") == pin


def test_known_hosts_lines_are_kept_without_their_host_names():
    text = f"# 127.0.0.1:22 SSH-2.0-OpenSSH\n[h]:2222 ssh-ed25519 {ED25519_PUB}\n|1|hashed= ssh-ed25519 {ED25519_PUB}"
    assert normalise_host_pin(text) == f"ssh-ed25519 {ED25519_PUB}\nssh-ed25519 {ED25519_PUB}"
    assert len(parse_host_pin(text).keys) == 2


def test_a_damaged_known_hosts_key_is_refused():
    with pytest.raises(ValueError, match="damaged"):
        parse_host_pin(f"host ssh-ed25519 {ED25519_PUB[:-8]}")


# -- private keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [("ed25519", serialization.PrivateFormat.OpenSSH), ("rsa", serialization.PrivateFormat.OpenSSH),
     ("rsa", serialization.PrivateFormat.TraditionalOpenSSL), ("rsa", serialization.PrivateFormat.PKCS8),
     ("ed25519", serialization.PrivateFormat.PKCS8)],
)
def test_private_keys_load_in_openssh_and_pem_formats(kind, fmt):
    assert load_private_key(make_key(kind, fmt=fmt)) is not None


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.OpenSSH, serialization.PrivateFormat.PKCS8])
def test_encrypted_keys_need_their_passphrase(fmt):
    text = make_key(fmt=fmt, passphrase="Passphrase-1")
    with pytest.raises(KeyProblem, match="enter its passphrase"):
        load_private_key(text)
    with pytest.raises(KeyProblem, match="does not unlock"):
        load_private_key(text, "wrong")
    assert load_private_key(text, "Passphrase-1") is not None


def test_a_key_pasted_into_a_one_line_field_gets_its_line_breaks_back():
    text = make_key("rsa", fmt=serialization.PrivateFormat.TraditionalOpenSSL)
    flattened = text.replace("\n", "")
    assert normalise_private_key_text(flattened).count("\n") > 10
    assert load_private_key(flattened) is not None


def test_key_problems_never_quote_the_key():
    text = make_key()
    broken = text.replace("b3BlbnNzaC1rZXktdjE", "XXXXXXXXXXXXXXXXXXX")
    with pytest.raises(KeyProblem) as caught:
        load_private_key(broken)
    body = "".join(text.splitlines()[1:-1])
    assert body[:20] not in str(caught.value)


# -- typed settings ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tab_delimiter_arrives_as_a_tab_in_the_connectors_settings(write_csv, monkeypatch):
    uri = write_csv("Email\tStatus\nann@example.com\tActive\n")
    created = services.connection_create(kind="csv_file", name="Tabbed", config={"uri": uri, "delimiter": "tab"})
    normalised = []
    monkeypatch.setattr(
        "connectors.csv_file.settings.normalise_delimiter", lambda value: normalised.append(value) or "tab"
    )
    connector = services.connection_connector(connection=Connection.objects.get(pk=created.pk))

    assert Connection.objects.get(pk=created.pk).config["delimiter"] == "tab"
    assert connector.settings.delimiter == "\t"
    assert [e.email for e in connector.fetch_employees()] == ["ann@example.com"]
    assert [e.email for e in connector.fetch_employees()] == ["ann@example.com"]
    assert normalised == ["tab"]  # once, when the settings were built; never again per read


def test_custom_fields_are_named_after_the_columns_that_feed_them():
    connector = connector_class("csv_file")(
        config={
            "uri": "https://hr.example.com/people.csv",
            "columns": {"Staff No": "employee_reference", "Shirt Size": "custom.shirt_size", "7": "custom.locker"},
        },
        secrets={},
    )
    # A column known only by its position has no name to give.
    assert connector.custom_field_labels() == {"shirt_size": "Shirt Size"}
