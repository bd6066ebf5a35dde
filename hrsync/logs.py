"""Keeping secrets that ride in addresses out of the logs.

A source whose webhook deliveries are not signed is given an address with
its connection's secret in it (``/hooks/<kind>/<connection uuid>/<secret>/``,
``connections.api.webhooks``). Every log that writes request paths (the
development server's, gunicorn's access log, Django's request errors)
would write the secret with it; these write ``********`` in its place.
"""

from __future__ import annotations

import logging
import re

#: A webhook address's secret, after its kind and its connection's uuid.
_WEBHOOK_SECRET_IN_PATH = re.compile(r"(/hooks/[^/\s]+/[0-9A-Fa-f-]{32,36}/)[^/\s?#\"']+")
SCRUBBED = "********"


def secret_paths_scrub(text: str) -> str:
    """``text`` with the secret of every webhook address in it replaced."""
    if "/hooks/" not in text:
        return text
    return _WEBHOOK_SECRET_IN_PATH.sub(rf"\g<1>{SCRUBBED}", text)


class SecretPathFilter(logging.Filter):
    """A handler filter (``LOGGING``) that scrubs webhook secrets from each
    record's message before it is written, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = secret_paths_scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True
