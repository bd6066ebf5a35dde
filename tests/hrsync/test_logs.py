"""Webhook secrets, which ride in their addresses, never reach a log."""

from __future__ import annotations

import logging

from django.conf import settings

from hrsync.logs import SecretPathFilter, secret_paths_scrub

UUID = "79268d4f-c2d7-482b-8f31-3eb75edaa3bb"
SECRET = "Y6gKJRJs5_OWHTdaZtN_02ecVDDtmoiCNIWtbS-UlKQ"


def test_a_webhook_address_is_written_with_its_secret_hidden():
    line = f'"POST /hooks/accessplanit/{UUID}/{SECRET}/ HTTP/1.1" 202 31'

    assert secret_paths_scrub(line) == f'"POST /hooks/accessplanit/{UUID}/********/ HTTP/1.1" 202 31'


def test_other_addresses_are_written_as_they_are():
    line = "GET /connections/3/settings/ HTTP/1.1"

    assert secret_paths_scrub(line) == line


def test_the_filter_scrubs_a_record_s_formatted_message():
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s', (f"PUT /hooks/accessplanit/{UUID}/{SECRET}/", 401), None
    )

    assert SecretPathFilter().filter(record) is True
    assert SECRET not in record.getMessage()
    assert f"/hooks/accessplanit/{UUID}/********/" in record.getMessage()


def test_every_log_handler_and_the_development_server_s_log_go_through_the_filter():
    assert settings.LOGGING["filters"]["secret_paths"]["()"] == "hrsync.logs.SecretPathFilter"
    for handler in settings.LOGGING["handlers"].values():
        assert "secret_paths" in handler["filters"]
    assert settings.LOGGING["loggers"]["django.server"]["handlers"] == list(settings.LOGGING["handlers"])


def test_gunicorn_s_access_log_hides_the_secret():
    from gunicorn.config import Config

    from hrsync.gunicorn_logger import Logger

    logger = Logger(Config())
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/hooks/accessplanit/{UUID}/{SECRET}/",
        "PATH_INFO": f"/hooks/accessplanit/{UUID}/{SECRET}/",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }

    class Response:
        status, sent, headers = "202 Accepted", 31, []

    class Duration:
        seconds, microseconds = 0, 1500

    atoms = logger.atoms(Response(), environ, environ, Duration())

    assert SECRET not in atoms["r"] and SECRET not in atoms["U"]
    assert atoms["r"] == f"POST /hooks/accessplanit/{UUID}/********/ HTTP/1.1"
