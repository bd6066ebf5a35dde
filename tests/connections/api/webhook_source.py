"""A connector that receives webhooks, in a shape of the tests' own: the
webhook endpoint and the processing of deliveries tested without any
vendor in the way. Use the ``webhook_source`` fixture (import it into the
test module).

A delivery is ``{"module": "User", "id": "<remote id>"}`` (an employee) or
``{"module": "Course", "id": …}`` (a training record); anything else is
refused. A re-read answers what ``current`` holds for the id (None: the
source no longer has it), never what the delivery says.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from connectors import registry
from connectors.base import ConnectorError, RemoteEmployee, WebhookReceiver, WebhookRefused, WebhookTarget
from tests.connections.static_connector import StaticConnector

KIND = "hookstub"
OTHER_KIND = "hookstub_other"
PATH = "tests.connections.api.webhook_source.WebhookConnector"
_MODULES = {"User": "employees", "Course": "training"}


class WebhookConnector(StaticConnector, WebhookReceiver):
    kind = KIND
    label = "Hook source"
    streams = frozenset({"employees"})
    inbound = frozenset({"webhook"})
    webhook_methods = ("POST", "PUT", "PATCH", "DELETE")
    default_status_map = {"Active": "active", "Inactive": "inactive"}

    #: What the source holds now, by remote id.
    current: ClassVar[dict[str, RemoteEmployee]] = {}
    #: Every target re-read, in order.
    reread: ClassVar[list[WebhookTarget]] = []
    #: Raised by the next re-read, when set.
    reread_error: ClassVar[ConnectorError | None] = None

    def webhook_targets(self, *, method: str, body: Any) -> list[WebhookTarget]:
        stream = _MODULES.get(body.get("module"))
        if stream is None:
            raise WebhookRefused(f"Unknown module {str(body.get('module'))[:40]!r}: send User or Course.")
        remote_id = body.get("id")
        if not isinstance(remote_id, str) or not remote_id:
            raise WebhookRefused("The delivery has no record id.")
        return [WebhookTarget(stream=stream, remote_id=remote_id, deleted=method == "DELETE")]

    def webhook_reread(self, target: WebhookTarget) -> RemoteEmployee | None:
        type(self).reread.append(target)
        if type(self).reread_error is not None:
            raise type(self).reread_error
        return type(self).current.get(target.remote_id)


@pytest.fixture
def webhook_source(monkeypatch):
    """Connections of kinds "hookstub" and "hookstub_other" receive webhooks."""
    monkeypatch.setitem(registry.CONNECTORS, KIND, ("Hook source", PATH))
    monkeypatch.setitem(registry.CONNECTORS, OTHER_KIND, ("Other hook source", PATH))
    registry._import_connector.cache_clear()
    monkeypatch.setattr(WebhookConnector, "employees", [])
    monkeypatch.setattr(WebhookConnector, "current", {})
    monkeypatch.setattr(WebhookConnector, "reread", [])
    monkeypatch.setattr(WebhookConnector, "reread_error", None)
    yield WebhookConnector
    registry._import_connector.cache_clear()
