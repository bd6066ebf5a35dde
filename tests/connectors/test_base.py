"""connectors.base: the contract's shared helpers."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from connectors.base import (
    ColumnMapped,
    Connector,
    ConnectorError,
    ConnectorSettings,
    HostKeyPinning,
    date_or_problem,
    int_or_none,
    scalar_text,
    stored_flag_normalise,
    stored_setting_normalise,
)
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


def test_a_whole_number_is_read_from_a_number_or_digits_but_never_from_a_yes_or_no():
    assert [int_or_none(v) for v in (3600, 3600.0, " 42 ", True, 1.5, "ten", None)] == [
        3600, 3600, 42, None, None, None, None
    ]


def test_a_single_value_is_read_as_stripped_text_and_anything_else_as_nothing():
    assert [scalar_text(v) for v in (" 7 ", 7, None, False, [1], {"a": 1})] == ["7", "7", "", "", "", ""]


def test_a_date_that_is_not_one_is_left_empty_and_said_as_a_problem():
    problems: list[str] = []
    assert date_or_problem("1990-02-01T00:00:00", label="DOB", problems=problems) == dt.date(1990, 2, 1)
    assert date_or_problem("01/02/1990", label="DOB", problems=problems) is None
    assert len(problems) == 1 and "DOB" in problems[0] and "01/02/1990" in problems[0]


def test_a_stored_setting_its_normaliser_refuses_is_a_permanent_error_naming_vendor_and_setting():
    def refuse(value):
        raise ValueError("Enter a number.")

    with pytest.raises(ConnectorError) as caught:
        stored_setting_normalise(config={"days": "x"}, name="days", normalise=refuse, vendor="Acme HR")
    assert caught.value.permanent
    assert caught.value.message == (
        "The Acme HR setting days in the connection settings is not valid: Enter a number."
    )
    assert stored_flag_normalise(config={}, name="on", default=True, vendor="Acme HR") is True
    assert stored_flag_normalise(config={"on": False}, name="on", default=True, vendor="Acme HR") is False
    with pytest.raises(ConnectorError, match="The Acme HR setting on in the connection settings is not yes or no"):
        stored_flag_normalise(config={"on": "yes"}, name="on", default=False, vendor="Acme HR")
