"""The pages of a connection that receives files (``connectors.base.Uploadable``):
the Uploads tab (the last 30 days of files, each with its processed file,
its error file and Cancel), an upload by hand, and the API key, shown once
when it is issued and replaced by **Regenerate key**.

The key is never stored where a page could read it back: it rides in the
session from the request that issued it to the one page that shows it, and
is dropped as that page is rendered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import TemplateView

from connections.api.auth import connection_api_key_regenerate
from connections.api.keys import API_KEY_USERNAME
from connections.inbound import XML_CONTENT_TYPES, InboundRefused, content_type_base, inbound_file_receive
from connections.models import Connection, InboundFile
from connections.services import connection_connector
from connections.sync.inbound import InboundFileStateError, inbound_file_cancel, upload_title
from connections.views.base import ConnectionTabMixin, connection_takes_uploads
from connectors.base import ConnectorError
from connectors.registry import connector_class
from hrsync.csv_export import csv_lines

Status = InboundFile.Status

#: How far back the Uploads tab lists files: their bytes are kept this long.
SHOWN_FOR = dt.timedelta(days=30)
#: Who sent a file by hand, in the file's ``received_from``.
WEB_UPLOAD = "web upload"
#: The placeholder every example shows where the key goes: never the key.
KEY_PLACEHOLDER = "YOUR_API_KEY"
#: The example file each kind's curl posts.
EXAMPLE_FILES = {"employee": "employees.xml", "position": "positions.xml"}

#: A status → (its words on the badge, what it means, the badge's tone).
STATUS_WORDS: dict[str, tuple[str, str, str]] = {
    Status.SCHEDULED: (
        "Scheduled", "Waits for its turn: a sync of this connection is running, or an earlier file waits.", "neutral",
    ),
    Status.QUEUED: ("Queued", "Handed to a worker; it starts in a moment.", "info"),
    Status.PROCESSING: ("Processing", "Being synced now.", "info"),
    Status.SKIPPED: ("Skipped", "Identical to the last file processed: nothing to do.", "neutral"),
    Status.BLOCKED: (
        "Blocked", "Waiting for an admin: it would remove more people or positions than the safeguard allows.", "warn",
    ),
    Status.ERROR: ("Error", "Refused as a whole: nothing was changed.", "bad"),
    Status.COMPLETE: ("Complete", "Synced.", "ok"),
    Status.COMPLETE_WITH_ERRORS: ("Complete with errors", "Synced, except the lines its error file lists.", "warn"),
    Status.CANCELLED: ("Cancelled", "Not processed: cancelled, or its blocked sync was rejected.", "neutral"),
}

#: The counts a row shows, in order: counts key → its label.
ROW_COUNTS = {
    "created": "created",
    "updated": "updated",
    "deactivated": "deactivated",
    "reactivated": "reactivated",
    "unchanged": "unchanged",
    "errors": ("error", "errors"),
    "conflicts": ("conflict", "conflicts"),
}


def upload_examples(connection: Connection) -> list[dict[str, str]]:
    """Where each kind of file the connection takes is posted, and a curl
    command that posts one: the Overview's card and the key page show them.
    The command holds ``KEY_PLACEHOLDER``, never the key."""
    examples = []
    for kind in getattr(connector_class(connection.kind), "upload_kinds", ()):
        try:
            endpoint = f"{settings.HRSYNC_BASE_URL}{reverse(f'api:{kind}')}"
        except NoReverseMatch:  # a kind the API has no address for
            continue
        example_file = EXAMPLE_FILES.get(kind, f"{kind}.xml")
        examples.append({
            "kind": kind,
            "label": InboundFile.Kind(kind).label if kind in InboundFile.Kind.values else kind,
            "endpoint": endpoint,
            "curl": (
                f'curl -u {API_KEY_USERNAME}:{KEY_PLACEHOLDER} -H "Content-Type: application/xml" '
                f"--data-binary @{example_file} {endpoint}"
            ),
        })
    return examples


# -- the key, shown once ---------------------------------------------------------------


def _key_session_key(connection: Connection) -> str:
    return f"hrsync.api_key.{connection.pk}"


def api_key_hand_over(request: HttpRequest, connection: Connection, key: str) -> str:
    """Carry a just-issued ``key`` to the page that shows it once, and return
    that page's address (the redirect's target)."""
    request.session[_key_session_key(connection)] = key
    return reverse("connections:api_key", args=[connection.pk])


class ApiKeyView(ConnectionTabMixin, TemplateView):
    """The key issued by the request before (a new connection, Regenerate
    key), shown once: reading the page drops it from the session, and the
    page is never cached. Opened again, the page says how to get a new one."""

    template_name = "connections/api_key.html"
    active_tab = "settings"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not connection_takes_uploads(self.connection):
            raise Http404("This connection does not receive files, so it has no API key.")
        key = request.session.pop(_key_session_key(self.connection), "")
        response = self.render_to_response(self.get_context_data(
            api_key=key, username=API_KEY_USERNAME, examples=upload_examples(self.connection),
        ))
        add_never_cache_headers(response)
        return response


class ApiKeyRegenerateView(ConnectionTabMixin, View):
    """POST only. Without ``confirm`` it asks first (the old key stops working
    at once); with it, issues the new key and shows it once."""

    http_method_names = ["post"]
    template_name = "connections/api_key_regenerate.html"
    active_tab = "settings"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not connection_takes_uploads(self.connection):
            raise Http404("This connection does not receive files, so it has no API key.")
        if request.POST.get("confirm") != "yes":
            context = self.get_context_data()
            return render(request, self.template_name, context)
        key = connection_api_key_regenerate(connection=self.connection)
        messages.success(
            request,
            f"{self.connection.name} has a new API key. The old key no longer works: update your upload script.",
        )
        return redirect(api_key_hand_over(request, self.connection, key))


# -- the Uploads tab -------------------------------------------------------------------


class UploadForm(forms.Form):
    """An upload by hand: the file, its kind, and whether it only shows what would change."""

    file = forms.FileField(label="File", help_text="The XML file, as your HR system exports it.")
    kind = forms.ChoiceField(label="Kind of file")
    dry_run = forms.BooleanField(
        label="Dry run: show what would change", required=False,
        help_text="Nothing is written: the run's report lists what the file would change.",
    )

    def __init__(self, *args: Any, kinds: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind, InboundFile.Kind(kind).label) for kind in kinds]
        self.fields["kind"].initial = kinds[0] if kinds else None


def _upload_form(connection: Connection, data: Any = None, files: Any = None) -> UploadForm:
    kinds = tuple(getattr(connector_class(connection.kind), "upload_kinds", ()))
    return UploadForm(data=data, files=files, kinds=kinds)


def _counted(label: str | tuple[str, str], value: int) -> str:
    """A count's word: a noun has a singular ("1 error"); a verb does not change."""
    if isinstance(label, tuple):
        return label[0] if value == 1 else label[1]
    return label


def _counts_text(counts: dict[str, Any]) -> str:
    """"3 created · 1 updated", the counts worth showing on one line."""
    shown = {key: counts.get(key) for key in ROW_COUNTS if isinstance(counts.get(key), int)}
    parts = [f"{value} {_counted(ROW_COUNTS[key], value)}" for key, value in shown.items() if value]
    if not parts and "unchanged" in shown:  # a file that changed nobody still says how many it read
        parts = [f"{shown['unchanged']} unchanged"]
    return " · ".join(parts)


def upload_rows(connection: Connection, uploads: list[InboundFile]) -> list[dict[str, Any]]:
    """What the tab shows of each file."""
    pk = connection.pk
    rows = []
    for upload in uploads:
        word, meaning, tone = STATUS_WORDS.get(upload.status, (upload.get_status_display(), "", "neutral"))
        sender = upload.received_from or "—"
        if upload.uploaded_by_id:
            sender = f"{sender} · {upload.uploaded_by.get_username()}"
        rows.append({
            "upload": upload,
            "title": upload_title(upload),
            "status_word": word,
            "status_meaning": meaning,
            "tone": tone,
            "sender": sender,
            "size": filesizeformat(upload.size),
            "counts": _counts_text(upload.counts or {}),
            "problems": len(upload.results or []),
            "run_url": reverse("connections:run", args=[pk, upload.run_id]) if upload.run_id else "",
            "file_url": (
                reverse("connections:upload_file", args=[pk, upload.pk])
                if upload.content and not upload.purged_at else ""
            ),
            "errors_url": reverse("connections:upload_errors", args=[pk, upload.pk]) if upload.results else "",
            "can_cancel": upload.status in InboundFile.WAITING_STATUSES,
        })
    return rows


class UploadListView(ConnectionTabMixin, TemplateView):
    """The Uploads tab: only for a connection that receives files (404 otherwise)."""

    template_name = "connections/uploads.html"
    active_tab = "uploads"
    paginate_by = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        if not connection_takes_uploads(self.connection):
            raise Http404("This connection does not receive files.")
        since = timezone.now() - SHOWN_FOR
        uploads = (
            InboundFile.objects.filter(connection=self.connection, received_at__gte=since)
            .select_related("uploaded_by")
            .defer("results")
            .order_by("-received_at", "-id")
        )
        page = Paginator(uploads, self.paginate_by).get_page(self.request.GET.get("page"))
        shown = list(page.object_list)
        # Only whether a file has problems (and how many) is shown: their
        # text is read by the error file, not for every row of the page.
        problems = dict(
            InboundFile.objects.filter(pk__in=[u.pk for u in shown]).values_list("pk", "results")
        )
        for upload in shown:
            upload.results = problems.get(upload.pk) or []
        kwargs.setdefault("form", _upload_form(self.connection))
        return super().get_context_data(
            page=page,
            rows=upload_rows(self.connection, shown),
            shown_days=SHOWN_FOR.days,
            examples=upload_examples(self.connection),
            **kwargs,
        )


class UploadNewView(UploadListView):
    """POST only: an upload by hand, stored and processed as one from the API.
    A refused file shows the tab again with the reason under the form."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = self.connection
        if not connection_takes_uploads(connection):
            raise Http404("This connection does not receive files.")
        form = _upload_form(connection, data=request.POST, files=request.FILES)
        if form.is_valid():
            uploaded = form.cleaned_data["file"]
            try:
                connector = connection_connector(connection=connection)
                inbound_file = inbound_file_receive(
                    connection=connection,
                    kind=form.cleaned_data["kind"],
                    stream=uploaded,
                    content_type=_content_type(uploaded),
                    max_bytes=connector.max_upload_bytes,
                    received_from=WEB_UPLOAD,
                    original_name=uploaded.name,
                    user=request.user,
                    dry_run=form.cleaned_data["dry_run"],
                )
            except InboundRefused as exc:
                form.add_error("file", exc.message)
            except (ConnectorError, ValidationError) as exc:
                form.add_error(None, f"The connection's settings do not load, so it cannot take a file: {exc}")
            else:
                inbound_file.refresh_from_db()
                word = STATUS_WORDS.get(inbound_file.status, (inbound_file.get_status_display(),))[0]
                what = "dry run of " if inbound_file.dry_run else ""
                messages.success(
                    request,
                    f"{upload_title(inbound_file)} received ({what}{inbound_file.get_kind_display().lower()} "
                    f"{inbound_file.original_name}): {word.lower()}. Its row below shows how it goes.",
                )
                return redirect("connections:uploads", pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


def _content_type(uploaded: Any) -> str:
    """The type an uploaded file is stored as: what the browser says when it
    is XML or CSV, else XML (the format the tab asks for), so that a file
    that is not is refused with a sentence rather than stored."""
    declared = content_type_base(getattr(uploaded, "content_type", "") or "")
    if declared in XML_CONTENT_TYPES or declared == "text/csv":
        return declared
    return "application/xml"


def _get_upload(view: ConnectionTabMixin, upload_id: int) -> InboundFile:
    if not connection_takes_uploads(view.connection):
        raise Http404("This connection does not receive files.")
    return get_object_or_404(InboundFile, pk=upload_id, connection=view.connection)


#: The types a processed file is served as; anything else is bytes to save.
_SERVED_TYPES = {"application/xml": "application/xml", "text/xml": "application/xml", "text/csv": "text/csv"}


class UploadFileView(ConnectionTabMixin, View):
    """The file as it was received, to save (never shown in the browser),
    while its bytes are kept."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int, upload_id: int) -> HttpResponse:
        upload = _get_upload(self, upload_id)
        if not upload.content or upload.purged_at:
            raise Http404(f"The contents of {upload_title(upload)} were removed after {SHOWN_FOR.days} days.")
        try:
            handle = upload.content.open("rb")
        except FileNotFoundError:
            raise Http404(f"The contents of {upload_title(upload)} are no longer stored.") from None
        name = upload.original_name or f"upload-{upload.pk}.xml"
        return FileResponse(
            handle,
            as_attachment=True,
            filename=name,
            content_type=_SERVED_TYPES.get(upload.content_type, "application/octet-stream"),
        )


def upload_error_rows(upload: InboundFile):
    """The error file's rows: its header, then line, employee id, message."""
    yield ["line", "employee_id", "message"]
    for result in upload.results or []:
        yield [result.get("line"), result.get("employee_id", ""), result.get("message", "")]


class UploadErrorsCsvView(ConnectionTabMixin, View):
    """The file's problems as CSV (line, employee_id, message), safe to open
    in a spreadsheet (``hrsync.csv_export``)."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int, upload_id: int) -> HttpResponse:
        upload = _get_upload(self, upload_id)
        response = StreamingHttpResponse(csv_lines(upload_error_rows(upload)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="hrsync-upload-{upload.pk}-errors.csv"'
        return response


class UploadCancelView(ConnectionTabMixin, View):
    """POST only. Without ``confirm`` it asks first, so Cancel works the same
    with JavaScript off."""

    http_method_names = ["post"]
    template_name = "connections/upload_cancel.html"
    active_tab = "uploads"

    def post(self, request: HttpRequest, pk: int, upload_id: int) -> HttpResponse:
        upload = _get_upload(self, upload_id)
        if request.POST.get("confirm") != "yes" and upload.status in InboundFile.WAITING_STATUSES:
            context = self.get_context_data(upload=upload, title=upload_title(upload))
            return render(request, self.template_name, context)
        try:
            inbound_file_cancel(inbound_file=upload)
        except InboundFileStateError as exc:
            messages.warning(request, str(exc))
        else:
            messages.success(request, f"{upload_title(upload)} was cancelled: it will not be processed.")
        return redirect("connections:uploads", pk)
