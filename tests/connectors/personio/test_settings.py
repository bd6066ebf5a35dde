"""A Personio connection's settings: the normalisers the form, the command line and the stored settings share."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import ConnectorError
from connectors.personio.settings import (
    PersonioSettings,
    credentials_parse,
    normalise_absences,
    normalise_attribute_key,
    normalise_base_url,
    normalise_days,
    normalise_full_sync_at,
    normalise_header_id,
)


def test_a_blank_base_url_is_personios_api():
    assert normalise_base_url("") == "https://api.personio.de"
    assert normalise_base_url("HTTPS://api.personio.de/") == "https://api.personio.de"


@pytest.mark.parametrize("url", ["http://api.personio.de", "ftp://api.personio.de", "https://user:pw@api.personio.de",
                                 "https://api.personio.de/?x=1", "https://api personio.de"])
def test_a_base_url_that_is_not_plain_https_is_refused(url, settings):
    settings.DEBUG = False
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True
    with pytest.raises(ValueError) as caught:
        normalise_base_url(url)
    assert "pw" not in str(caught.value)


def test_plain_http_is_only_for_a_loopback_stand_in_when_allowed(settings):
    settings.DEBUG = False
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = False
    with pytest.raises(ValueError, match="must start with https://"):
        normalise_base_url("http://127.0.0.1:8123")
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True
    assert normalise_base_url("http://127.0.0.1:8123/") == "http://127.0.0.1:8123"


def test_partner_and_app_ids_are_upper_snake_case_with_hrsync_by_default():
    assert normalise_header_id("") == "HRSYNC"
    assert normalise_header_id(" acme_hr ") == "ACME_HR"
    for bad in ("ACME-HR", "ACME__HR", "_ACME", "9ACME", "ACME HR"):
        with pytest.raises(ValueError, match="UPPER_SNAKE_CASE"):
            normalise_header_id(bad)


def test_an_attribute_key_is_a_key_not_a_label():
    assert normalise_attribute_key(" dynamic_21 ") == "dynamic_21"
    assert normalise_attribute_key("") == ""
    with pytest.raises(ValueError, match="such as dynamic_21"):
        normalise_attribute_key("Employee number")


def test_absences_are_off_from_personio_or_to_personio():
    assert normalise_absences("") == "off"
    assert normalise_absences("From-Personio") == "from_personio"
    assert normalise_absences("to_personio") == "to_personio"
    with pytest.raises(ValueError, match="off, from_personio or to_personio"):
        normalise_absences("both")


def test_the_absence_window_days_are_whole_numbers_within_two_years():
    assert normalise_days("", default=30) == 30
    assert normalise_days("0", default=30) == 0
    assert normalise_days(730, default=30) == 730
    for bad in ("-1", "731", "ten", True):
        with pytest.raises(ValueError, match="from 0 to 730"):
            normalise_days(bad, default=30)


def test_the_full_sync_time_is_hh_mm_with_a_morning_default():
    assert normalise_full_sync_at("") == "06:30"
    assert normalise_full_sync_at("6:05") == "06:05"
    assert normalise_full_sync_at("23:59:00") == "23:59"
    assert normalise_full_sync_at(dt.time(7, 0)) == "07:00"
    for bad in ("24:00", "12:60", "noon", "1230"):
        with pytest.raises(ValueError, match="HH:MM"):
            normalise_full_sync_at(bad)


def test_stored_settings_are_typed_with_their_defaults():
    settings = PersonioSettings.from_stored(config={"client_id": "abc"}, secrets={"client_secret": "s"})
    assert settings == PersonioSettings(client_id="abc", client_secret="s")
    assert (settings.base_url, settings.partner_id, settings.app_id) == ("https://api.personio.de", "HRSYNC", "HRSYNC")
    assert (settings.include_new, settings.use_hire_date, settings.use_last_working_day) == (True, False, False)
    assert (settings.absences, settings.absence_days_back, settings.absence_days_ahead) == ("off", 30, 180)
    assert settings.full_sync_at == dt.time(6, 30)


def test_a_stored_setting_no_longer_valid_is_a_permanent_error_naming_it():
    with pytest.raises(ConnectorError) as caught:
        PersonioSettings.from_stored(config={"client_id": "a", "full_sync_at": "25:00"}, secrets={})
    assert caught.value.permanent and "full_sync_at" in caught.value.message


# -- credentials files ----------------------------------------------------------------


def test_a_json_credentials_file_gives_both_values():
    text = '{"client_id": "papi-id-1", "client_secret": "papi-secret-2"}'
    assert credentials_parse(text) == {"client_id": "papi-id-1", "client_secret": "papi-secret-2"}


def test_a_text_credentials_file_gives_both_values():
    text = "Personio API credentials\nClient ID: papi-id-1\nclient_secret = 'papi-secret-2'\n"
    assert credentials_parse(text) == {"client_id": "papi-id-1", "client_secret": "papi-secret-2"}


def test_a_file_with_neither_value_is_refused_without_quoting_it():
    with pytest.raises(ValueError, match="holds no client ID or client secret") as caught:
        credentials_parse("password: hunter2-unrelated\n")
    assert "hunter2" not in str(caught.value)
