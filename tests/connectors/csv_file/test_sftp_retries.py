"""SFTP retries: an unreachable server is tried again, waiting longer each
time, whether hrsync logs in or only asks for the server's key."""

from __future__ import annotations

import pytest

from connectors import outbound
from connectors.base import ConnectorError
from connectors.csv_file.connector import CsvFileConnector
from connectors.csv_file.ssh import CONNECT_ATTEMPTS
from connectors.csv_file.transport import sftp_fetch_host_key
from tests.connectors.csv_file.servers import free_port


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr("connectors.http.backoff_sleep", waited.append)
    return waited


def unreachable_uri() -> str:
    return f"sftp://127.0.0.1:{free_port()}/staff.csv"


def test_logging_in_to_an_unreachable_server_is_tried_again_after_2_then_4_seconds(waits):
    connector = CsvFileConnector(
        config={"uri": unreachable_uri(), "username": "u", "host_key": "SHA256:" + "Q" * 43},
        secrets={"password": "p"},
    )
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch_employees())
    assert "the connection was refused" in caught.value.message
    assert caught.value.permanent is False
    assert CONNECT_ATTEMPTS == 3 and waits == [2.0, 4.0]


def test_asking_an_unreachable_server_for_its_key_waits_the_same_way(waits):
    with pytest.raises(ConnectorError) as caught:
        sftp_fetch_host_key(unreachable_uri())
    assert "the connection was refused" in caught.value.message
    assert waits == [2.0, 4.0]


def test_inside_a_deadline_no_wait_runs_past_it(waits):
    with outbound.deadline(seconds=3, then=""), pytest.raises(ConnectorError):
        sftp_fetch_host_key(unreachable_uri())
    assert waits == [2.0]  # 4 more seconds would not fit
