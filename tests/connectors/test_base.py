"""connectors.base: the contract's shared helpers."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import quote

from connectors.base import ColumnMapped, Connector, ConnectorSettings, HostKeyPinning
from connectors.csv_file.connector import CsvFileConnector


@dataclass(frozen=True)
class _VendorSettings(ConnectorSettings):
    username: str

    @classmethod
    def from_stored(cls, *, config, secrets) -> _VendorSettings:
        return cls(username=config.get("username", ""))


class _Vendor(Connector):
    kind = "vendor"
    label = "Vendor"
    settings_class = _VendorSettings
    secret_fields = ("password", "token")


def test_scrub_replaces_every_secret_in_every_form_a_server_may_echo():
    password = "p&ss w/rd+Zq9"
    vendor = _Vendor(config={"username": "api-user"}, secrets={"password": password, "token": "tok-123456"})
    basic = base64.b64encode(f"api-user:{password}".encode()).decode()
    text = (
        f"raw {password}; url {quote(password, safe='')}; form p%26ss+w%2Frd%2BZq9; "
        f"html p&amp;ss w/rd+Zq9; basic {basic}; alone {base64.b64encode(password.encode()).decode()}; "
        "token tok-123456"
    )

    scrubbed = vendor.scrub(text)

    assert scrubbed == (
        "raw ********; url ********; form ********; html ********; basic ********; alone ********; "
        "token ********"
    )


def test_scrub_leaves_text_alone_when_the_connection_has_no_secrets():
    assert _Vendor(config={}, secrets={}).scrub("Login failed") == "Login failed"


def test_the_base_contract_has_none_of_the_optional_abilities():
    for hook in ("host_key_fetch", "column_headers", "column_targets"):
        assert not hasattr(Connector, hook), hook


def test_the_csv_file_connector_pins_host_keys_and_maps_columns():
    assert issubclass(CsvFileConnector, HostKeyPinning)
    assert issubclass(CsvFileConnector, ColumnMapped)
    assert "employee_reference" in CsvFileConnector.column_targets
