"""What every page that tests a connection shares ("Save and test", "Test
connection", and the connectors' own pages): a bounded wait on the vendor,
the flash message, and what the check found, carried to the page after the
redirect.

The health bar is saved on the connection; the preview rows and an offer
(Pin this key) are not (they are not state, and the rows are people's
data). They ride in the session, server-side, to the page the redirect
lands on: the rows are shown once and dropped; the offer stays while the
health bar still shows the check that made it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from connections.models import Connection
from connections.previews import check_preview_rows, check_preview_table
from connectors import http, outbound
from connectors.base import Check
from connectors.registry import connector_class


def check_flash(request: HttpRequest, check: Check, *, prefix: str = "") -> None:
    """What was done and how the test went. The test's own sentence is the
    health bar's, right under the flash: it is not said twice."""
    if check.ok:
        messages.success(request, f"{prefix}The connection test passed.")
    else:
        messages.warning(request, f"{prefix}The connection test failed; the bar below says why.")


#: The header connection-setup.js sends with a page's form when it posts it with fetch().
FETCH_HEADER = "X-Hrsync-Fetch"
#: Where such a post leads, instead of a redirect (see ``page_redirect``).
LOCATION_HEADER = "X-Hrsync-Location"


def page_redirect(request: HttpRequest, url: str) -> HttpResponse:
    """The redirect after a post; to a fetch() from connection-setup.js, the
    address in a header instead: fetch would follow a redirect itself, and
    the flash messages would be spent on a page nobody sees."""
    if request.headers.get(FETCH_HEADER):
        return HttpResponse(status=204, headers={LOCATION_HEADER: url})
    return redirect(url)


def check_seconds() -> int:
    """How long a page waits on the vendor at most, to tell the admin before a test."""
    return settings.HRSYNC_WEB_CHECK_SECONDS


def vendor_deadline(*, saved: bool, before_saving: bool = False):
    """The block in which a page waits on the vendor: at most
    HRSYNC_WEB_CHECK_SECONDS, well under the web worker's own timeout, so a
    slow vendor gets a sentence rather than a killed request (a 500). Syncs
    in the worker keep the full timeouts. ``saved``: the admin's settings are
    saved by the time the vendor is asked; ``before_saving``: they are
    tested first, and saved only if the test passes (or with Save anyway)."""
    allowance = f"{http.DEFAULT_TIMEOUT[1]:g} s per request, with retries"
    if before_saving:
        # Neutral: whether they are then saved is the service's decision, and the box around says it.
        then = f"A sync waits longer ({allowance})."
    else:
        then = (
            f"{'The settings were saved; the next sync' if saved else 'The next sync'} will try again "
            f"with the full time allowance ({allowance})."
        )
    return outbound.deadline(seconds=settings.HRSYNC_WEB_CHECK_SECONDS, then=then)


def safe_next(request: HttpRequest) -> str | None:
    """The ``next`` a form posted, when it is a page of this site."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _check_session_key(connection: Connection) -> str:
    return f"hrsync.check.{connection.pk}"


def check_remember(request: HttpRequest, connection: Connection, check: Check) -> None:
    key = _check_session_key(connection)
    found: dict[str, Any] = {}
    sample = check_preview_rows(connection=connection, check=check)
    if sample:
        found["sample"] = sample
    if check.offer is not None and not check.ok:
        found["offer"] = {"template": check.offer.template, "values": dict(check.offer.values)}
    if found and connection.last_check_at is not None:
        request.session[key] = {"at": connection.last_check_at.isoformat(), **found}
    else:
        request.session.pop(key, None)


def check_forget(request: HttpRequest, connection: Connection) -> None:
    """Drop what the last check found (an offer that no longer holds)."""
    request.session.pop(_check_session_key(connection), None)


def _check_extras(request: HttpRequest, connection: Connection) -> dict[str, Any]:
    key = _check_session_key(connection)
    found = request.session.get(key)
    if not found:
        return {}
    at = connection.last_check_at.isoformat() if connection.last_check_at else None
    if found.get("at") != at:  # a newer check (a sync, the CLI) has replaced it
        del request.session[key]
        return {}
    extras: dict[str, Any] = {}
    if found.get("sample"):
        extras["check_preview"] = check_preview_table(rows=found.pop("sample"))
    if found.get("offer"):
        extras["check_offer"] = found["offer"]
        request.session[key] = found
    else:
        del request.session[key]
    return extras


def connector_pages(connection: Connection) -> list[dict[str, Any]]:
    """The connector's own pages (``Connector.pages``), with their addresses."""
    pages = []
    for page in connector_class(connection.kind).pages:
        url = reverse(f"connections:{connection.kind}:{page.url_name}", args=[connection.pk])
        link = format_html('<a href="{}">{}</a>', url, page.label)
        help_html = format_html(page.settings_help, link=link) if page.settings_help else ""
        pages.append({"label": page.label, "url": url, "settings_help": help_html})
    return pages


class CheckResultMixin:
    """Shows what the last "Save and test" / "Test connection" found under
    the health bar (the preview rows, an offer such as Pin this key), and
    links to the connector's own pages."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            **_check_extras(self.request, self.connection),
            connector_pages=connector_pages(self.connection),
            **kwargs,
        )
