"""POST /api/v2/hrdatasync/employee and /position, and GET uploads/<id>:
through Django's test client, the way a customer's script calls them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from connections.api.auth import connection_api_key_regenerate
from connections.inbound import CHUNK_SIZE
from connections.models import InboundFile
from connections.services import connection_create, connection_update
from tests.connections.api.conftest import basic

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "xml_upload"
EMPLOYEES = (FIXTURES / "employees_valid.xml").read_bytes()
POSITIONS = (FIXTURES / "positions_valid.xml").read_bytes()
EMPLOYEE_URL = "/api/v2/hrdatasync/employee"
POSITION_URL = "/api/v2/hrdatasync/position"
MB = 1024 * 1024

pytestmark = pytest.mark.django_db


def post_xml(client, body: bytes, *, auth: str | None, url: str = EMPLOYEE_URL, content_type="application/xml", **extra):
    if auth is not None:
        extra["HTTP_AUTHORIZATION"] = auth
    # The test client leaves both out for an empty body; a real client sends them.
    extra.setdefault("CONTENT_TYPE", content_type)
    extra.setdefault("CONTENT_LENGTH", str(len(body)))
    return client.generic("POST", url, body, content_type=content_type, **extra)


class LimitedInput:
    """A request body of ``total`` bytes, made as it is read, that fails the
    test if more than ``allowed`` bytes are read from it."""

    def __init__(self, *, total: int, allowed: int, start: bytes = b"<employees>") -> None:
        self.total, self.allowed, self.start = total, allowed, start
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.total - self.position
        size = min(size, self.total - self.position)
        if self.position + size > self.allowed:
            raise AssertionError(f"read {self.position + size} bytes of the body; at most {self.allowed} allowed")
        head = self.start[self.position:self.position + size]
        self.position += size
        return head + b" " * (size - len(head))

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


# -- accepted --------------------------------------------------------------------


def test_an_xml_body_is_stored_and_answered_202_with_where_to_read_its_status(client, uploads, dispatched, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_xml(client, EMPLOYEES, auth=uploads.auth)

    assert response.status_code == 202
    stored = InboundFile.objects.get()
    assert response.json() == {
        "upload_id": stored.pk, "status": "scheduled", "status_url": f"/api/v2/hrdatasync/uploads/{stored.pk}",
    }
    assert response["Location"] == f"/api/v2/hrdatasync/uploads/{stored.pk}"
    assert (stored.connection, stored.kind, stored.status) == (uploads.connection, "employee", "scheduled")
    assert stored.content.read() == EMPLOYEES
    assert stored.sha256 == hashlib.sha256(EMPLOYEES).hexdigest()
    assert (stored.size, stored.content_type, stored.received_from) == (len(EMPLOYEES), "application/xml", "API (127.0.0.1)")
    assert dispatched == [uploads.connection.pk]


def test_a_file_in_the_multipart_field_file_is_stored_with_its_name(client, uploads):
    upload = _named_file("staff export.xml", EMPLOYEES, content_type="application/xml")
    response = client.post(EMPLOYEE_URL, {"file": upload}, HTTP_AUTHORIZATION=uploads.auth)

    assert response.status_code == 202
    stored = InboundFile.objects.get()
    assert stored.content.read() == EMPLOYEES
    assert stored.sha256 == hashlib.sha256(EMPLOYEES).hexdigest()
    assert stored.original_name == "staff export.xml"


def test_an_unlabelled_multipart_file_is_taken_as_xml_and_a_text_xml_body_too(client, uploads):
    unlabelled = _named_file("staff.dat", EMPLOYEES, content_type="application/octet-stream")
    assert client.post(EMPLOYEE_URL, {"file": unlabelled}, HTTP_AUTHORIZATION=uploads.auth).status_code == 202
    assert post_xml(client, EMPLOYEES, auth=uploads.auth, content_type="text/xml; charset=utf-8").status_code == 202

    assert [f.content_type for f in InboundFile.objects.order_by("pk")] == ["application/xml", "text/xml"]


def test_a_position_file_is_stored_as_one(client, uploads):
    response = post_xml(client, POSITIONS, auth=uploads.auth, url=POSITION_URL)

    assert response.status_code == 202
    assert InboundFile.objects.get().kind == "position"


def test_the_file_is_not_dispatched_before_it_is_committed(client, uploads, dispatched, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_xml(client, EMPLOYEES, auth=uploads.auth)

    assert dispatched == []
    assert len(callbacks) == 1


# -- who may send ----------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Bearer something",
        "Basic not-base64!",
        basic("hrs_0123456789ab_" + "A" * 43),  # the shape of a key, not this one
        basic("not-a-key"),
    ],
    ids=["no header", "another scheme", "undecodable", "wrong key", "not a key"],
)
def test_a_missing_or_wrong_key_is_401_in_json_and_nothing_is_stored(client, uploads, auth):
    response = post_xml(client, EMPLOYEES, auth=auth)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert response["Content-Type"] == "application/json"
    assert "api-key" in response.json()["error"] or "not valid" in response.json()["error"]
    assert not InboundFile.objects.exists()


def test_the_right_key_under_another_username_is_refused(client, uploads):
    response = post_xml(client, EMPLOYEES, auth=basic(uploads.key, username="admin"))

    assert response.status_code == 401
    assert "username must be api-key" in response.json()["error"]
    assert uploads.key not in response.content.decode()


def test_after_a_regenerated_key_the_old_one_is_refused_and_the_new_one_works(client, uploads):
    new_key = connection_api_key_regenerate(connection=uploads.connection)

    assert post_xml(client, EMPLOYEES, auth=uploads.auth).status_code == 401
    assert post_xml(client, EMPLOYEES, auth=basic(new_key)).status_code == 202


def test_a_disabled_connection_refuses_files_with_403(client, uploads):
    connection_update(connection=uploads.connection, options={"enabled": False})

    response = post_xml(client, EMPLOYEES, auth=uploads.auth)

    assert response.status_code == 403
    assert "disabled" in response.json()["error"]
    assert not InboundFile.objects.exists()


# -- refused input ----------------------------------------------------------------


def test_a_get_is_405_in_json(client, uploads):
    response = client.get(EMPLOYEE_URL, HTTP_AUTHORIZATION=uploads.auth)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "POST" in response.json()["error"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_a_body_that_is_not_xml_by_its_type_is_415(client, uploads, content_type):
    response = post_xml(client, EMPLOYEES, auth=uploads.auth, content_type=content_type)

    assert response.status_code == 415
    assert "application/xml" in response.json()["error"]
    assert not InboundFile.objects.exists()


def test_a_multipart_file_of_another_type_is_415(client, uploads):
    picture = _named_file("staff.png", b"\x89PNG....", content_type="image/png")

    response = client.post(EMPLOYEE_URL, {"file": picture}, HTTP_AUTHORIZATION=uploads.auth)

    assert response.status_code == 415
    assert not InboundFile.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\t ", "blank space"),
        (b"forename,surname\nAda,Lovelace\n", "does not start with '<'"),
        (b"\xef\xbb\xbf{\"employees\": []}", "does not start with '<'"),
    ],
    ids=["empty", "blank", "csv", "json after a byte order mark"],
)
def test_a_body_that_is_not_xml_is_400_with_the_reason(client, uploads, body, reason):
    response = post_xml(client, body, auth=uploads.auth)

    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert not InboundFile.objects.exists()


def test_xml_after_a_byte_order_mark_and_blank_lines_is_accepted(client, uploads):
    response = post_xml(client, b"\xef\xbb\xbf\n\n  " + EMPLOYEES, auth=uploads.auth)

    assert response.status_code == 202


def test_a_multipart_body_without_the_file_field_is_400(client, uploads):
    response = client.post(EMPLOYEE_URL, {"other": "value"}, HTTP_AUTHORIZATION=uploads.auth)

    assert response.status_code == 400
    assert "'file'" in response.json()["error"]


def test_a_malformed_multipart_body_is_400_not_500(client, uploads):
    response = post_xml(client, b"--nothing\r\n", auth=uploads.auth, content_type="multipart/form-data")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_a_content_length_that_is_not_a_number_is_400(client, uploads):
    response = post_xml(client, EMPLOYEES, auth=uploads.auth, CONTENT_LENGTH="lots")

    assert response.status_code == 400
    assert "Content-Length" in response.json()["error"]


# -- too large ---------------------------------------------------------------------


def test_a_body_declared_over_the_limit_is_413_before_any_of_it_is_read(client, uploads):
    body = LimitedInput(total=5 * MB, allowed=0)

    response = post_xml(client, b"", auth=uploads.auth, CONTENT_LENGTH=str(5 * MB), **{"wsgi.input": body})

    assert response.status_code == 413
    assert "1 MB" in response.json()["error"]
    assert response["Connection"] == "close"
    assert body.position == 0
    assert not InboundFile.objects.exists()


def test_a_body_without_a_length_is_refused_413_once_it_passes_the_limit_while_streaming(client, uploads):
    # A chunked upload (no Content-Length) behind a server that ends the body itself.
    body = LimitedInput(total=5 * MB, allowed=MB + CHUNK_SIZE)

    response = post_xml(
        client, b"", auth=uploads.auth, CONTENT_LENGTH="", **{"wsgi.input": body, "wsgi.input_terminated": True}
    )

    assert response.status_code == 413
    assert MB < body.position <= MB + CHUNK_SIZE
    assert not InboundFile.objects.exists()


def test_a_body_without_a_length_under_the_limit_is_stored_to_its_end(client, uploads):
    body = LimitedInput(total=300_000, allowed=300_000)

    response = post_xml(
        client, b"", auth=uploads.auth, CONTENT_LENGTH="", **{"wsgi.input": body, "wsgi.input_terminated": True}
    )

    assert response.status_code == 202
    assert InboundFile.objects.get().size == 300_000


def test_a_body_without_a_length_on_a_server_that_cannot_end_it_is_411(client, uploads):
    response = post_xml(client, EMPLOYEES, auth=uploads.auth, CONTENT_LENGTH="")

    assert response.status_code == 411
    assert "Content-Length" in response.json()["error"]


def test_a_multipart_body_declared_over_the_limit_is_413_before_any_of_it_is_read(client, uploads):
    body = LimitedInput(total=3 * MB, allowed=0)

    response = post_xml(
        client, b"", auth=uploads.auth, content_type=MULTIPART_CONTENT, CONTENT_LENGTH=str(3 * MB),
        **{"wsgi.input": body},
    )

    assert response.status_code == 413
    assert body.position == 0


def test_a_multipart_file_over_the_limit_is_413_even_when_the_body_length_passes(client, uploads):
    # Over the file limit by less than the room left for the multipart framing.
    upload = _named_file("big.xml", b"<employees>" + b" " * (MB + 40_000), content_type="application/xml")
    body = encode_multipart(BOUNDARY, {"file": upload})

    response = post_xml(client, body, auth=uploads.auth, content_type=MULTIPART_CONTENT)

    assert response.status_code == 413
    assert not InboundFile.objects.exists()


def test_the_limit_is_the_connections_setting(client, uploads):
    connection_update(connection=uploads.connection, config={"max_upload_mb": 2})
    body = b"<employees>" + b" " * (MB + 1000)

    response = post_xml(client, body, auth=uploads.auth)

    assert response.status_code == 202


# -- the status of an upload -------------------------------------------------------------


def test_the_status_url_answers_the_uploads_status_counts_and_results(client, uploads):
    location = post_xml(client, EMPLOYEES, auth=uploads.auth)["Location"]
    stored = InboundFile.objects.get()
    InboundFile.objects.filter(pk=stored.pk).update(
        status="complete_with_errors",
        counts={"create": 3, "error": 1},
        results=[{"line": 12, "employee_id": "A-1", "message": "The email is not valid."}],
    )

    response = client.get(location, HTTP_AUTHORIZATION=uploads.auth)

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("upload_id", "status", "status_url", "kind", "counts", "results", "error")} == {
        "upload_id": stored.pk,
        "status": "complete_with_errors",
        "status_url": location,
        "kind": "employee",
        "counts": {"create": 3, "error": 1},
        "results": [{"line": 12, "employee_id": "A-1", "message": "The email is not valid."}],
        "error": "",
    }
    assert body["sha256"] == hashlib.sha256(EMPLOYEES).hexdigest()


def test_the_status_url_needs_the_key(client, uploads):
    location = post_xml(client, EMPLOYEES, auth=uploads.auth)["Location"]

    assert client.get(location).status_code == 401
    assert client.get(location, HTTP_AUTHORIZATION=basic("hrs_0123456789ab_" + "B" * 43)).status_code == 401


def test_another_connections_key_does_not_find_the_upload(client, uploads):
    location = post_xml(client, EMPLOYEES, auth=uploads.auth)["Location"]
    other = connection_create(kind="xml_upload", name="Other uploads")

    response = client.get(location, HTTP_AUTHORIZATION=basic(other.issued_api_key))

    assert response.status_code == 404
    assert response.json() == {"error": f"This connection has no upload {InboundFile.objects.get().pk}."}


def test_the_status_url_refuses_a_post_with_405(client, uploads):
    location = post_xml(client, EMPLOYEES, auth=uploads.auth)["Location"]

    response = client.post(location, HTTP_AUTHORIZATION=uploads.auth)

    assert response.status_code == 405
    assert response["Allow"] == "GET"


# -- the rest of the API ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "xsd"), [("api:employees_xsd", "employees.xsd"), ("api:positions_xsd", "positions.xsd")])
def test_the_schemas_are_served_without_a_key(client, db, name, xsd):
    response = client.get(reverse(name))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    body = b"".join(response.streaming_content)
    assert body == (Path(__file__).resolve().parents[3] / "connectors" / "xml_upload" / "xsd" / xsd).read_bytes()


def test_an_unknown_address_under_the_api_is_a_json_404(client, db):
    response = client.post("/api/v2/hrdatasync/employees")

    assert response.status_code == 404
    assert "employee, position" in response.json()["error"]


def _named_file(name: str, content: bytes, *, content_type: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def test_the_key_is_never_logged_nor_answered(client, uploads, caplog):
    caplog.set_level("DEBUG")
    answers = [
        post_xml(client, EMPLOYEES, auth=uploads.auth),
        post_xml(client, EMPLOYEES, auth=basic(uploads.key, username="someone")),
        post_xml(client, b"not xml", auth=uploads.auth),
        post_xml(client, EMPLOYEES, auth=uploads.auth, content_type="text/plain"),
    ]

    assert uploads.key not in caplog.text
    assert not [answer for answer in answers if uploads.key in answer.content.decode()]
