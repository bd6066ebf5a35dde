from __future__ import annotations

from pathlib import Path

import pytest

from tests.connectors.csv_file import servers


@pytest.fixture(autouse=True)
def _local_files_allowed(settings):
    # Deployed-mode test runs (DATABASE_URL set) default it to off.
    settings.HRSYNC_ALLOW_LOCAL_FILES = True


@pytest.fixture(autouse=True)
def _loopback_servers_allowed(settings):
    # The test sshd and HTTPS server listen on 127.0.0.1, which deployed-mode
    # test runs (DATABASE_URL set) refuse to reach unless an operator allows it.
    settings.HRSYNC_OUTBOUND_ALLOW = ["127.0.0.1"]


@pytest.fixture(scope="session")
def _https(tmp_path_factory):
    state, server = servers.start_https(tmp_path_factory.mktemp("https"))
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def https(_https) -> servers.HttpsServer:
    _https.files.clear()
    _https.requests.clear()
    return _https


@pytest.fixture
def write_csv(tmp_path):
    """write_csv(text, name=..., encoding=...) → the file's file:// address."""

    def write(content: str | bytes, *, name: str = "staff.csv", encoding: str = "utf-8") -> str:
        path: Path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return f"file://{path}"

    return write
