"""The connection's Training tab: course requests to decide, then every
training record the connection keeps."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import TemplateView

from connections.sync.training import connection_reads_training
from connections.views.base import ConnectionTabMixin
from hrsync.people.models import TrainingRecord
from hrsync.people.training import (
    TrainingRequestNotPending,
    training_record_list,
    training_record_words,
    training_request_decide,
    training_request_is_pending,
)
from hrsync.search import search_text


class _TrainingTabMixin(ConnectionTabMixin):
    """Only for a connection that reads training records: a 404 otherwise."""

    active_tab = "training"

    def check_training(self) -> None:
        if not connection_reads_training(connection=self.connection):
            raise Http404("This connection keeps no training records.")


class TrainingListView(_TrainingTabMixin, TemplateView):
    template_name = "connections/training.html"
    paginate_by = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        self.check_training()
        query = search_text(self.request.GET)
        kind = self.request.GET.get("kind", "")
        if kind not in TrainingRecord.Kind.values:
            kind = ""
        records = training_record_list(connection=self.connection, kind=kind, query=query)
        page = Paginator(records, self.paginate_by).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            requests=list(training_record_list(connection=self.connection, pending=True).order_by("start_date", "id")),
            page=page,
            records=list(page.object_list),
            kinds=TrainingRecord.Kind.choices,
            kind=kind,
            q=query,
            **kwargs,
        )


class TrainingDecideView(_TrainingTabMixin, TemplateView):
    """POST approves (``decision`` "approve") or rejects a course request.
    A reject first asks to confirm on its own page (GET), as other
    destructive actions do; the confirmation's form posts ``confirmed``."""

    template_name = "connections/training_reject.html"

    def get_record(self, record_id: int) -> TrainingRecord:
        self.check_training()
        return get_object_or_404(
            TrainingRecord.objects.select_related("person", "connection"), pk=record_id, connection=self.connection
        )

    def get(self, request: HttpRequest, pk: int, record_id: int) -> HttpResponse:
        record = self.get_record(record_id)
        if not training_request_is_pending(record=record):
            messages.info(request, f"{training_record_words(record=record)} is not waiting for a decision.")
            return redirect("connections:training", pk=pk)
        return self.render_to_response(self.get_context_data(record=record))

    def post(self, request: HttpRequest, pk: int, record_id: int) -> HttpResponse:
        record = self.get_record(record_id)
        decision = request.POST.get("decision", "")
        if decision not in ("approve", "reject"):
            messages.error(request, "Choose Approve or Reject.")
            return redirect("connections:training", pk=pk)
        if decision == "reject" and not request.POST.get("confirmed"):
            return redirect("connections:training_decide", pk=pk, record_id=record.pk)
        approve = decision == "approve"
        try:
            record = training_request_decide(record=record, approve=approve, user=request.user)
        except TrainingRequestNotPending as exc:
            messages.error(request, exc.message)
            return redirect("connections:training", pk=pk)
        words = training_record_words(record=record)
        if record.decision_error:
            messages.error(
                request, f"Could not {'approve' if approve else 'reject'} {words}: {record.decision_error}"
            )
        else:
            status = f" {self.connection.kind_label} now shows {record.status}." if record.status else ""
            messages.success(request, f"{'Approved' if approve else 'Rejected'}: {words}.{status}")
        return redirect("connections:training", pk=pk)
