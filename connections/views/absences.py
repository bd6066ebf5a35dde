"""The connection's Absences tab: the absences it sends us, or those we send it."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import Case, F, Value, When
from django.http import Http404
from django.utils import timezone
from django.views.generic import TemplateView

from connections.sync.absences import FROM_SOURCE, connection_absence_direction
from connections.views.base import ConnectionTabMixin
from hrsync.people.absence_views import absence_rows
from hrsync.people.absences import absence_list
from hrsync.search import search_text


class AbsenceListView(ConnectionTabMixin, TemplateView):
    """Only for a connection whose connector exchanges absences: a 404 otherwise."""

    template_name = "connections/absences.html"
    active_tab = "absences"
    paginate_by = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        direction = connection_absence_direction(connection=self.connection)
        if not direction:
            raise Http404("This connection does not exchange absences.")
        query = search_text(self.request.GET)
        today = timezone.localdate()
        # What an admin asks first is who is away now and next: those not
        # over yet, soonest first; then the past, most recent first.
        absences = absence_list(connection=self.connection, query=query).order_by(
            Case(When(end_date__gte=today, then=Value(0)), default=Value(1)),
            Case(When(end_date__gte=today, then=F("start_date"))).asc(nulls_last=True),
            F("end_date").desc(),
            "-id",
        )
        page = Paginator(absences, self.paginate_by).get_page(self.request.GET.get("page"))
        shown = list(page.object_list)
        pk = self.connection.pk
        # A column naming this same connection on every row says nothing the
        # line above the table does not: pulled ones lose it, sent ones keep
        # only how sending went.
        pulled_here = all(a.connection_id == pk for a in shown)
        sent_here = all(a.connection_id is None and a.push_connection_id == pk for a in shown)
        return super().get_context_data(
            pulled=direction == FROM_SOURCE,
            page=page,
            rows=absence_rows(shown, named=not sent_here),
            without_where=pulled_here,
            where_label=f"Sending to {self.connection.name}" if sent_here else "",
            q=query,
            **kwargs,
        )
