"""The CSV file connection's own pages: Column mapping, and the Pin this key
button under the health bar. Views stay thin: the forms validate, the
services do the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from connections.forms import add_service_error
from connections.models import Connection
from connections.services import connection_check, connection_connector, connection_update
from connections.views.base import ConnectionTabMixin
from connections.views.checks import (
    CheckResultMixin,
    check_flash,
    check_forget,
    check_remember,
    safe_next,
    vendor_deadline,
)
from connectors.base import ColumnLayout, ConnectorError
from connectors.csv_file.connector import CsvFileConnector
from connectors.csv_file.forms import ColumnMappingForm
from connectors.csv_file.services import HostKeyNotPinned, host_key_pin


class HostKeyPinView(ConnectionTabMixin, View):
    """**Pin this key** (``host_key_pin``): the page posts back the
    fingerprint it showed."""

    connector_kind = CsvFileConnector.kind
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = self.connection
        target = safe_next(request) or reverse("connections:overview", args=[pk])
        with vendor_deadline(saved=False):
            try:
                pinned = host_key_pin(connection=connection, fingerprint_shown=request.POST.get("fingerprint", ""))
            except HostKeyNotPinned as exc:
                # Drop the stale offer: the admin must Test again and compare again.
                check_forget(request, connection)
                messages.error(request, str(exc))
                return redirect(target)
            check = connection_check(connection=connection)
        check_remember(request, connection, check)
        check_flash(request, check, prefix=f"Pinned the {pinned}. ")
        return redirect(target)


class ColumnMappingView(CheckResultMixin, ConnectionTabMixin, TemplateView):
    """The column-mapping page: each column of the file → a person field."""

    connector_kind = CsvFileConnector.kind
    template_name = "csv_file/columns.html"
    active_tab = "settings"

    def _layout(self, connection: Connection) -> tuple[ColumnLayout | None, str]:
        try:
            with vendor_deadline(saved=False):
                return connection_connector(connection=connection).column_headers(), ""
        except ConnectorError as exc:
            return None, exc.message

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        layout, error = self._layout(self.connection)
        form = ColumnMappingForm(layout=layout, targets=CsvFileConnector.column_targets) if layout is not None else None
        return self.render_to_response(self.get_context_data(form=form, layout=layout, read_error=error))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        # One allowance for the whole request: reading the header, then the check.
        with vendor_deadline(saved=False):
            return self._save(request, pk)

    def _save(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = self.connection
        layout, error = self._layout(connection)
        if layout is None:
            context = self.get_context_data(form=None, layout=None, read_error=error)
            return self.render_to_response(context, status=400)
        form = ColumnMappingForm(data=request.POST, layout=layout, targets=CsvFileConnector.column_targets)
        if form.is_valid():
            try:
                with transaction.atomic():
                    connection_update(connection=connection, config=form.settings())
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                with vendor_deadline(saved=True):
                    check = connection_check(connection=connection)
                check_remember(request, connection, check)
                check_flash(request, check, prefix="Column mapping saved. ")
                return redirect("connections:csv_file:columns", pk)
        connection.refresh_from_db()
        context = self.get_context_data(form=form, layout=layout, read_error="")
        return self.render_to_response(context, status=400)
