from __future__ import annotations

import base64

import pytest

from connections.services import connection_create
from connectors import registry

XML_UPLOAD = ("XML upload (REST API)", "connectors.xml_upload.connector.XmlUploadConnector")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded bytes go to this test's own folder, never the project's var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def xml_upload_kind(monkeypatch):
    monkeypatch.setitem(registry.CONNECTORS, "xml_upload", XML_UPLOAD)


@pytest.fixture
def dispatched(monkeypatch):
    """The connection ids whose waiting files were dispatched (the processing is not under test here)."""
    calls: list[int] = []
    monkeypatch.setattr(
        "connections.sync.inbound.inbound_files_dispatch", lambda *, connection_id: calls.append(connection_id)
    )
    return calls


@pytest.fixture
def uploads(db, xml_upload_kind, dispatched):
    """An XML upload connection (``uploads.connection``) and its key (``uploads.key``)."""
    connection = connection_create(kind="xml_upload", name="Acme uploads", config={"max_upload_mb": 1})

    class Uploads:
        pass

    Uploads.connection = connection
    Uploads.key = connection.issued_api_key
    Uploads.auth = basic(connection.issued_api_key)
    return Uploads


def basic(password: str, username: str = "api-key") -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
