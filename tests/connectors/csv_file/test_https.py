"""HTTPS against a local TLS server with a certificate from a throwaway CA."""

from __future__ import annotations

import base64
import http.server
import logging
import threading

import pytest

from connections import services
from connections.models import Connection
from connectors.base import ConnectorError
from connectors.csv_file.connector import CsvFileConnector
from hrsync.people.models import Person
from tests.connections.helpers import run_sync

ROSTER = "Email,First Name,Status\nann@example.com,Ann,Active\nbo@example.com,Bo,Active\n"


def https_connector(https, path: str = "/exports/staff.csv", *, password: str | None = None,
                    ca_bundle: str | None = None, **config) -> CsvFileConnector:
    return CsvFileConnector(
        config={"uri": https.url(path), "username": https.username,
                "ca_bundle": https.ca_pem if ca_bundle is None else ca_bundle, **config},
        secrets={"password": https.password if password is None else password},
    )


def read(connector) -> list[str]:
    return [r.remote_id for r in connector.fetch_employees()]


def failure(connector) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        read(connector)
    return caught.value


def test_basic_auth_and_the_ca_bundle_read_the_file(https):
    https.put("/exports/staff.csv", ROSTER)
    assert read(https_connector(https)) == ["ann@example.com", "bo@example.com"]
    expected = base64.b64encode(f"{https.username}:{https.password}".encode()).decode()
    assert https.requests[-1]["authorization"] == f"Basic {expected}"


def test_a_wrong_password_is_a_clear_error(https):
    https.put("/exports/staff.csv", ROSTER)
    error = failure(https_connector(https, password="wrong"))
    assert error.message.startswith("The web server rejected the username or password (401).")
    assert error.permanent
    assert len(https.requests) == 1  # not retried


def test_an_untrusted_certificate_without_the_ca_bundle_is_refused(https):
    https.put("/exports/staff.csv", ROSTER)
    error = failure(https_connector(https, ca_bundle=""))
    assert error.message.startswith("The server's certificate is not trusted")
    assert "add its CA certificate under CA bundle" in error.message
    assert error.permanent
    assert https.requests == []  # nothing, not even the password, was sent


def test_a_missing_file_is_named(https):
    error = failure(https_connector(https, "/exports/nobody.csv"))
    assert error.message.startswith(f"No file at 127.0.0.1:{https.port}/exports/nobody.csv (404).")


def test_a_web_page_instead_of_a_file_is_refused(https):
    https.put("/exports/staff.csv", "<html><title>Sign in</title></html>", "text/html")
    assert "sent a web page, not a CSV file" in failure(https_connector(https)).message


def test_check_previews_the_file(https):
    https.put("/exports/staff.csv", ROSTER)
    check = https_connector(https).check()
    assert check.ok, check.message
    assert check.message == f"Read 127.0.0.1:{https.port}/exports/staff.csv: 3 columns; the first rows map as shown."
    assert [row["email"] for row in check.sample] == ["ann@example.com", "bo@example.com"]


def test_nothing_logs_the_password(https, caplog):
    caplog.set_level(logging.DEBUG)
    https.put("/exports/staff.csv", ROSTER)
    read(https_connector(https))
    failure(https_connector(https, password="Wrong-Https-unmistakable"))
    assert https.password not in caplog.text and "Wrong-Https-unmistakable" not in caplog.text


@pytest.mark.django_db
def test_a_whole_sync_over_https(https):
    https.put("/exports/staff.csv", ROSTER.encode("utf-8"))
    connection = services.connection_create(
        kind="csv_file",
        name="HTTPS roster",
        config={"uri": https.url("/exports/staff.csv"), "username": https.username, "ca_bundle": https.ca_pem},
        secrets={"password": https.password},
    )
    run = run_sync(connection, scope="employees")
    assert run.status == "succeeded", run.error
    assert sorted(Person.objects.values_list("first_name", flat=True)) == ["Ann", "Bo"]


@pytest.mark.django_db
def test_no_piece_of_a_password_the_server_echoes_in_its_reason_reaches_the_health_bar(settings):
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True  # plain http to a stand-in on 127.0.0.1
    password = "Zq9-Echoed-in-the-reason-phrase-unmistakable-and-long"

    class Echoing(http.server.BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - quiet
            pass

        def do_GET(self):  # noqa: N802
            # The message keeps 60 characters of the reason: "Refused for password Zq9-Echoed-…".
            self.send_response(400, f"Refused for password {password}")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echoing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = services.connection_create(kind="csv_file", name="Echoing",
            config={"uri": f"http://127.0.0.1:{server.server_address[1]}/staff.csv", "username": "csvuser"},
            secrets={"password": password},
        )
        services.connection_check(connection=connection)
    finally:
        server.shutdown()
        server.server_close()

    message = Connection.objects.get(pk=connection.pk).last_check_message
    assert "(HTTP 400 Refused for password ********)" in message
    assert not any(password[:n] in message for n in range(3, len(password) + 1))
