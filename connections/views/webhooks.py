"""The webhook address of a connection that receives webhooks
(``connectors.base.WebhookReceiver``): shown on the Settings tab, with the
latest deliveries, and replaced by **Regenerate webhook secret**.

The address holds the connection's webhook secret: the Settings tab is the
one page that shows it (the confirmation page does not).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from connections.api.webhooks import (
    connection_kind_has_webhooks,
    connection_webhook_secret_regenerate,
    connection_webhook_url,
    webhook_deliveries_list,
)
from connections.models import Connection
from connections.views.base import ConnectionTabMixin
from connections.views.uploads import STATUS_WORDS
from connectors.registry import connector_class


def webhook_settings(connection: Connection) -> dict[str, Any] | None:
    """What the Settings tab's Webhook section shows, or None for a
    connection that receives no webhooks: the address, the methods the
    source may call it with, and the latest deliveries."""
    if not connection_kind_has_webhooks(kind=connection.kind):
        return None
    return {
        "url": connection_webhook_url(connection=connection),
        "methods": tuple(connector_class(connection.kind).webhook_methods),
        "deliveries": [
            {**delivery, "tone": STATUS_WORDS.get(delivery["status"], ("", "", "neutral"))[2]}
            for delivery in webhook_deliveries_list(connection=connection)
        ],
    }


class WebhookSecretRegenerateView(ConnectionTabMixin, View):
    """POST only. Without ``confirm`` it asks first (the old address stops
    working at once); with it, gives the connection a new secret and goes
    back to the Settings tab, which shows the new address."""

    http_method_names = ["post"]
    template_name = "connections/webhook_regenerate.html"
    active_tab = "settings"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not connection_kind_has_webhooks(kind=self.connection.kind):
            raise Http404("This connection does not receive webhooks.")
        if request.POST.get("confirm") != "yes":
            return render(request, self.template_name, self.get_context_data())
        connection_webhook_secret_regenerate(connection=self.connection)
        messages.success(
            request,
            f"{self.connection.name} has a new webhook address. The old one no longer works: paste the new one "
            f"into {self.connection.kind_label}'s webhook settings.",
        )
        return redirect(reverse("connections:settings", args=[pk]) + "#s-webhook")
