from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import need_service
from tests.connectors.csv_file import servers


@pytest.fixture(autouse=True)
def _local_files_allowed(settings):
    # Deployed-mode test runs (DATABASE_URL set) default it to off.
    settings.HRSYNC_ALLOW_LOCAL_FILES = True


@pytest.fixture(scope="session")
def _sshd(tmp_path_factory):
    state = tmp_path_factory.mktemp("sshd")
    server, missing = servers.start_sshd(state)
    yield server, missing
    if server is not None:
        servers.stop_sshd(server)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def sshd(_sshd) -> servers.SshServer:
    """A real OpenSSH server on a loopback port (one per test session)."""
    server, missing = _sshd
    need_service(server is not None, missing)
    return server


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
