from __future__ import annotations

import pytest

from connectors import registry
from tests.connections.static_connector import StaticConnector
from tests.factories import ConnectionFactory


@pytest.fixture
def source(monkeypatch):
    """The static source's records; assign ``source.employees = [...]``."""
    monkeypatch.setitem(
        registry.CONNECTORS, "static", ("Static", "tests.connections.static_connector.StaticConnector")
    )
    monkeypatch.setattr(StaticConnector, "employees", [])
    monkeypatch.setattr(StaticConnector, "locations", [])
    monkeypatch.setattr(StaticConnector, "error", None)
    return StaticConnector


@pytest.fixture
def connection(source, db):
    return ConnectionFactory(name="Static HR")
