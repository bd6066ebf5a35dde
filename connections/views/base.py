"""What every connection tab shares: staff access, the connection, the tab list."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.views.generic.base import ContextMixin

from connections.models import Connection
from connections.sync.absences import connection_absence_direction
from connections.sync.training import connection_reads_training
from connectors.base import Uploadable
from connectors.registry import connector_class
from hrsync.access import StaffRequiredMixin

#: (slug, label, url name) of each tab, in order.
TABS = (
    ("overview", "Overview", "connections:overview"),
    ("employees", "Employees", "connections:employees"),
    ("depots", "Depots", "connections:depots"),
    ("runs", "Runs", "connections:runs"),
    ("settings", "Settings", "connections:settings"),
)


class ConnectionTabMixin(StaffRequiredMixin, ContextMixin):
    """Loads ``self.connection`` from the URL's ``pk`` and fills the tab frame."""

    active_tab: str = ""
    #: Set on a connector's own pages: only connections of that kind have them.
    connector_kind: str = ""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_staff:
            connections = Connection.objects.filter(kind=self.connector_kind) if self.connector_kind else Connection
            self.connection = get_object_or_404(connections, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            connection=self.connection, tabs=connection_tabs(self.connection), active_tab=self.active_tab, **kwargs
        )


#: The tab a connector's absences stream adds, after Depots.
ABSENCES_TAB = ("absences", "Absences", "connections:absences")


#: The tab a connector's training stream adds, after Absences (or Depots).
TRAINING_TAB = ("training", "Training", "connections:training")


#: The tab of a connection that receives files, after Runs.
UPLOADS_TAB = ("uploads", "Uploads", "connections:uploads")


def connection_tabs(connection: Connection) -> tuple[tuple[str, str, str], ...]:
    """``TABS`` and those the connection's streams add: Absences when its
    connector exchanges absences (in either direction), Training when it
    reads training records, Uploads when it receives files (``Uploadable``)."""
    tabs = TABS
    if connection_absence_direction(connection=connection):
        at = [slug for slug, _label, _url in tabs].index("depots") + 1
        tabs = (*tabs[:at], ABSENCES_TAB, *tabs[at:])
    if connection_reads_training(connection=connection):
        slugs = [slug for slug, _label, _url in tabs]
        at = slugs.index("absences" if "absences" in slugs else "depots") + 1
        tabs = (*tabs[:at], TRAINING_TAB, *tabs[at:])
    if connection_takes_uploads(connection):
        at = [slug for slug, _label, _url in tabs].index("runs") + 1
        tabs = (*tabs[:at], UPLOADS_TAB, *tabs[at:])
    return tabs


def connection_takes_uploads(connection: Connection) -> bool:
    """Whether the connection's connector receives files (``Uploadable``)."""
    try:
        return issubclass(connector_class(connection.kind), Uploadable)
    except ValidationError:  # a kind this deployment no longer has
        return False
