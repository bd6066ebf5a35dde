"""The connection pages: the list, a new connection, the Overview and Settings
tabs, and the small POST endpoints behind the Overview's buttons.

Views stay thin: forms validate, ``connections.services`` does the work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import TemplateView

from connections import services
from connections.forms import (
    ConnectionNameForm,
    ConnectionSettingsForm,
    KindChoiceForm,
    OptionToggleForm,
    SyncActionForm,
    add_save_error,
    connector_config_form,
    connector_form_values,
    field_map_formset,
    page_connector,
    source_offer_read,
    status_map_formset,
)
from connections.history import run_history_chart
from connections.models import Connection, SyncRun
from connections.runs import (
    ConnectionDisabled,
    SyncAlreadyRunning,
    TaskQueueUnreachable,
    sync_run_start,
)
from connections.summaries import sync_run_counts, sync_run_summary
from connections.sync.absences import connection_absence_direction
from connections.sync.training import connection_reads_training
from connections.views.base import ConnectionTabMixin, connection_takes_uploads
from connections.views.checks import (
    CheckResultMixin,
    check_flash,
    check_remember,
    check_seconds,
    page_redirect,
    safe_next,
    vendor_deadline,
)
from connections.views.runs import LOCATION_COUNT_LABELS
from connections.views.uploads import api_key_hand_over, upload_examples
from connections.views.webhooks import webhook_settings
from connectors.base import ConnectorPage
from connectors.registry import connector_class, enabled_kinds
from hrsync.access import StaffRequiredMixin


def interval_text(interval: dt.timedelta) -> str:
    """"3 hours", "hour", "30 minutes": for "Syncs employees every …"."""
    minutes = round(interval.total_seconds() / 60)
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "hour" if hours == 1 else f"{hours} hours"


# -- list and create -----------------------------------------------------------


class ConnectionListView(StaffRequiredMixin, TemplateView):
    template_name = "connections/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        latest = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at", "-id")
        connections = list(Connection.objects.annotate(last_run_id=Subquery(latest.values("pk")[:1])))
        runs = SyncRun.objects.in_bulk([c.last_run_id for c in connections if c.last_run_id])
        rows = []
        for connection in connections:
            run = runs.get(connection.last_run_id)
            rows.append({
                "connection": connection,
                "last_run": run,
                "last_run_at": (run.finished_at or run.started_at or run.created_at) if run else None,
            })
        return super().get_context_data(rows=rows, **kwargs)


class ConnectionCreateView(StaffRequiredMixin, View):
    """Step 1 (no ``?kind``): choose the integration. Step 2: name and settings."""

    def _kind(self, request: HttpRequest) -> tuple[KindChoiceForm, str | None]:
        kind_form = KindChoiceForm(data=request.GET if "kind" in request.GET else None)
        return kind_form, kind_form.cleaned_data["kind"] if kind_form.is_valid() else None

    def get(self, request: HttpRequest) -> HttpResponse:
        kind_form, kind = self._kind(request)
        if kind is None:
            return self._choose(request, kind_form)
        cls = connector_class(kind)
        return self._details(request, kind, ConnectionNameForm(), connector_config_form(cls))

    def post(self, request: HttpRequest) -> HttpResponse:
        """Save and test: the connection is saved only when its first test
        passes, or with **Save anyway** (``save_anyway``) after one failed."""
        kind_form, kind = self._kind(request)
        if kind is None:
            return self._choose(request, kind_form)
        cls = connector_class(kind)
        name_form = ConnectionNameForm(data=request.POST)
        if not name_form.is_valid():
            config_form = connector_config_form(cls, data=request.POST, secrets_typed=True)
            return self._details(request, kind, name_form, config_form, status=400)
        config, secrets = connector_form_values(cls, request.POST, request.FILES)
        save_anyway = SAVE_ANYWAY in request.POST
        try:
            with vendor_deadline(saved=save_anyway, before_saving=not save_anyway):
                connection, check = services.connection_create_tested(
                    kind=kind, name=name_form.cleaned_data["name"], config=config, secrets=secrets,
                    save_failing=save_anyway,
                )
        except ValidationError as exc:
            config_form = connector_config_form(cls, data=request.POST, secrets_typed=True)
            add_save_error(name_form, config_form, exc)
            return self._details(request, kind, name_form, config_form, status=400)
        if connection is None:
            config_form = connector_config_form(cls, data=request.POST, secrets_typed=True)
            return self._details(request, kind, name_form, config_form, failed_check=check, status=400)
        check_remember(request, connection, check)
        check_flash(request, check, prefix=f"{connection.name} saved. ")
        key = getattr(connection, "issued_api_key", "")
        if key:
            # The only time the key exists in the clear: its page shows it once.
            return page_redirect(request, api_key_hand_over(request, connection, key))
        return page_redirect(request, _first_page(connection))

    def _choose(self, request: HttpRequest, kind_form: KindChoiceForm) -> HttpResponse:
        kinds = [
            {"kind": kind, "label": label, "description": connector_class(kind).description}
            for kind, (label, _path) in enabled_kinds().items()
        ]
        return render(request, "connections/new_kind.html", {"form": kind_form, "kinds": kinds},
                      status=400 if kind_form.is_bound else 200)

    def _details(self, request, kind, name_form, config_form, failed_check=None, status: int = 200) -> HttpResponse:
        context = {
            "kind": kind,
            "kind_label": enabled_kinds()[kind][0],
            "name_form": name_form,
            "config_form": config_form,
            "failed_check": failed_check,
            "check_seconds": check_seconds(),
            "next_step": _next_step(kind),
        }
        return render(request, "connections/new.html", context, status=status)


#: The name of the **Save anyway** button, shown after a test failed.
SAVE_ANYWAY = "save_anyway"


def _next_step(kind: str) -> ConnectorPage | None:
    """The connector's page a new connection continues on (a CSV file's Column mapping)."""
    return next((page for page in connector_class(kind).pages if page.next_step), None)


def _first_page(connection: Connection) -> str:
    """Where a new connection opens: the connector's next step, else its Overview."""
    page = _next_step(connection.kind)
    if page is not None:
        return reverse(f"connections:{connection.kind}:{page.url_name}", args=[connection.pk])
    return reverse("connections:overview", args=[connection.pk])


# -- overview ------------------------------------------------------------------


def _progress(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "title": run.title,
        "scope": run.get_scope_display(),
        "status": run.status,
        "status_label": run.get_status_display(),
        "stage": run.progress_stage or ("Waiting for a worker" if run.status == SyncRun.Status.QUEUED else ""),
        "done": run.progress_done,
        "total": run.progress_total,
        "dry_run": run.dry_run,
        "url": reverse("connections:run", args=[run.connection_id, run.pk]),
    }


def _last_finished(connection: Connection) -> SyncRun | None:
    return connection.runs.filter(status__in=SyncRun.FINISHED_STATUSES).order_by("-created_at", "-id").first()


def _active(connection: Connection) -> SyncRun | None:
    return connection.runs.filter(status__in=SyncRun.ACTIVE_STATUSES).first()


def _checklist(connection: Connection, has_locations: bool) -> list[dict[str, Any]]:
    """The recommended order for a new connection, with what is done."""
    # Runs that read the source to the end count as done, whatever they found.
    useful = connection.runs.filter(status__in=SyncRun.COMPLETED_STATUSES)
    employee_scopes = (SyncRun.Scope.EMPLOYEES, SyncRun.Scope.ALL)
    steps = []
    if has_locations:
        depots = connection.depot_mappings
        located = depots.exists() or useful.filter(
            dry_run=False, scope__in=(SyncRun.Scope.LOCATIONS, SyncRun.Scope.ALL)
        ).exists()
        steps += [
            {"title": "Sync Locations", "text": "Read the HR system’s locations.", "done": located},
            {"title": "Map depots", "text": "On the Depots tab, choose the depot for each location.",
             "done": located and not depots.filter(depot__isnull=True).exists(),
             "url": reverse("connections:depots", args=[connection.pk])},
        ]
    steps += [
        {"title": "Sync Employees (Dry Run)", "text": "Preview what a sync would change, without changing anything.",
         "done": useful.filter(dry_run=True, scope__in=employee_scopes).exists()},
        {"title": "Sync Employees", "text": "Create, update and deactivate people as the HR system says.",
         "done": useful.filter(dry_run=False, scope__in=employee_scopes).exists()},
    ]
    return steps


#: The last run's person counters, in order: counts key (also its label) →
#: the run page's ``action`` filter that lists them, "" when none does.
_PERSON_STATS = {
    "created": "create",
    "linked": "link",
    "updated": "update",
    # Unchanged records are mostly counted, not listed: no list to open.
    "unchanged": "",
    "skipped": "skip",
    "deactivated": "deactivate",
    "reactivated": "reactivate",
    "conflicts": "conflict",
    "errors": "error",
}
#: Counters that are a problem when they are not zero, and how it shows.
_STAT_TONES = {"conflicts": "is-warn", "errors": "is-bad"}


def _read_employees(run: SyncRun | None) -> bool:
    """Whether ``run`` has person counters to show: it read employees (not
    locations only) and planned them (it did not fail or get cancelled)."""
    return (
        run is not None
        and run.scope != SyncRun.Scope.LOCATIONS
        and run.status in (*SyncRun.COMPLETED_STATUSES, SyncRun.Status.BLOCKED)
    )


def _last_run_stats(connection: Connection, run: SyncRun, counts: dict[str, Any]) -> list[dict[str, Any]]:
    """The last run's person counters, each linked to the records it counts:
    conflicts to the Employees tab, where they are resolved; the others to
    the run's report, filtered."""
    run_url = reverse("connections:run", args=[connection.pk, run.pk])
    stats = []
    for key, action in _PERSON_STATS.items():
        value = counts[key]
        url = ""
        if value and key == "conflicts":
            url = reverse("connections:employees", args=[connection.pk]) + "?filter=conflicts"
        elif value and action:
            url = f"{run_url}?action={action}"
        tone = _STAT_TONES.get(key, "") if value else "is-zero"
        stats.append({"label": key, "value": value, "url": url, "tone": tone})
    return stats


class ConnectionOverviewView(CheckResultMixin, ConnectionTabMixin, TemplateView):
    template_name = "connections/overview.html"
    active_tab = "overview"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        connection = self.connection
        cls = connector_class(connection.kind)
        has_locations = "locations" in cls.streams
        active = _active(connection)
        last = _last_finished(connection)
        checklist = _checklist(connection, has_locations)
        unmapped = connection.depot_mappings.filter(depot__isnull=True).count() if has_locations else 0
        last_counts = sync_run_counts(run=last) if last else None
        return super().get_context_data(
            has_locations=has_locations,
            absence_direction=connection_absence_direction(connection=connection),
            reads_training=connection_reads_training(connection=connection),
            active_run=active,
            progress=_progress(active) if active else None,
            last_run=last,
            last_counts=last_counts,
            last_stats=_last_run_stats(connection, last, last_counts) if _read_employees(last) else [],
            last_location_stats=[
                (LOCATION_COUNT_LABELS.get(key, key), value)
                for key, value in (last_counts or {}).get("locations", {}).items()
            ],
            history=run_history_chart(connection=connection),
            checklist=checklist,
            checklist_done=all(step["done"] for step in checklist),
            unmapped_locations=unmapped,
            interval_text=interval_text(connection.sync_interval),
            check_seconds=check_seconds(),
            # A connection that receives files: where they are posted, with a placeholder for the key.
            upload_examples=upload_examples(connection) if connection_takes_uploads(connection) else [],
            **kwargs,
        )


class ConnectionSyncView(ConnectionTabMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = SyncActionForm(data=request.POST)
        if not form.is_valid():
            messages.error(request, "Choose one of the sync actions.")
            return redirect("connections:overview", pk)
        scope, dry_run = form.scope_and_dry_run
        try:
            run = sync_run_start(
                connection=self.connection, scope=scope, dry_run=dry_run,
                trigger=SyncRun.Trigger.MANUAL, user=request.user,
            )
        except (SyncAlreadyRunning, ConnectionDisabled) as exc:
            messages.warning(request, str(exc))
        except TaskQueueUnreachable as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{run.title} of {run.get_scope_display().lower()} queued.")
        return redirect("connections:overview", pk)


_OPTION_MESSAGES = {
    ("background_sync", True): "Background sync is on: hrsync syncs this connection every {interval}.",
    ("background_sync", False): "Background sync is off: this connection syncs only when you start it.",
    ("credential_notifications", True): "Credential notifications are on: each new person gets a login "
    "and an email to set a password.",
    ("credential_notifications", False): "Credential notifications are off: new people get no login or email.",
    ("enabled", True): "The connection is enabled: it can sync again.",
    ("enabled", False): "The connection is disabled: it does not sync until you enable it.",
}


class ConnectionOptionsView(ConnectionTabMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = OptionToggleForm(data=request.POST)
        if not form.is_valid():
            messages.error(request, "That option cannot be changed here.")
            return redirect("connections:overview", pk)
        option, value = form.cleaned_data["option"], form.cleaned_data["value"]
        try:
            services.connection_update(connection=self.connection, options={option: value})
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            template = _OPTION_MESSAGES[(option, value)]
            messages.success(request, template.format(interval=interval_text(self.connection.sync_interval)))
        return redirect("connections:overview", pk)


class ConnectionProgressView(ConnectionTabMixin, View):
    """What the Overview's progress panel polls."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        active = _active(self.connection)
        last = _last_finished(self.connection)
        last_data = None
        if last is not None:
            last_data = {
                **sync_run_summary(run=last),
                "title": last.title,
                "status_label": last.get_status_display(),
                "url": reverse("connections:run", args=[pk, last.pk]),
            }
        return JsonResponse({
            "active": active is not None,
            "run": _progress(active) if active else None,
            "last": last_data,
        })


class ConnectionTestView(ConnectionTabMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        with vendor_deadline(saved=False):
            check = services.connection_check(connection=self.connection)
        check_remember(request, self.connection, check)
        check_flash(request, check)
        return page_redirect(request, safe_next(request) or reverse("connections:overview", args=[pk]))


# -- settings and delete -------------------------------------------------------


class ConnectionSettingsView(CheckResultMixin, ConnectionTabMixin, TemplateView):
    template_name = "connections/settings.html"
    active_tab = "settings"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            check_seconds=check_seconds(), has_api_key=connection_takes_uploads(self.connection),
            webhook=webhook_settings(self.connection), **kwargs
        )

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        if context.get("webhook"):
            # The page holds the webhook address, secret and all: kept out of caches.
            add_never_cache_headers(response)
        return response

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = self.connection
        return self.render_to_response(self.get_context_data(
            form=ConnectionSettingsForm(initial=ConnectionSettingsForm.initial_for(connection), exclude_pk=pk),
            status_formset=status_map_formset(connection),
            **self._source_forms(connection),
        ))

    @staticmethod
    def _source_forms(connection: Connection, data: Any = None) -> dict[str, Any]:
        """The forms that show what the source holds (the connector's own,
        the field map), sharing one connector: a page asks the vendor once."""
        cls = connector_class(connection.kind)
        offers = hasattr(cls.config_form, "source_offer")
        connector = page_connector(connection) if cls.field_map_fields or offers else None
        config_form = connector_config_form(
            cls, data=data, connection=connection, secrets_typed=data is not None, connector=connector,
        )
        offered = source_offer_read(connector=connector) if cls.field_map_fields and connector else None
        return {
            "config_form": config_form,
            "field_formset": field_map_formset(connection, data=data, offered=offered),
        }

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Save and test. Changed connector settings are tested before they
        are saved: a failing test shows the form again with the reason and
        **Save anyway**, and the working settings stay."""
        connection = self.connection
        cls = connector_class(connection.kind)
        form = ConnectionSettingsForm(data=request.POST, exclude_pk=pk)
        status_formset = status_map_formset(connection, data=request.POST)
        # Checked without asking the vendor for its attribute names: they only help typing.
        field_formset = field_map_formset(connection, data=request.POST)
        service_error = failed_check = None
        if form.is_valid() & status_formset.is_valid() & (field_formset is None or field_formset.is_valid()):
            config, secrets = connector_form_values(cls, request.POST, request.FILES)
            save_anyway = SAVE_ANYWAY in request.POST
            try:
                connection.name = form.cleaned_data["name"]
                with vendor_deadline(saved=save_anyway, before_saving=not save_anyway):
                    saved, check = services.connection_update_tested(
                        connection=connection, options=form.options(), config=config, secrets=secrets,
                        status_map=status_formset.status_map(),
                        field_map=field_formset.field_map() if field_formset is not None else None,
                        save_failing=save_anyway,
                    )
            except ValidationError as exc:
                service_error = exc
            else:
                if saved:
                    check_remember(request, connection, check)
                    check_flash(request, check, prefix="Settings saved. ")
                    return page_redirect(request, reverse("connections:settings", args=[pk]))
                failed_check = check
        # The services may have half-applied the values to the instance: show the saved one.
        connection.refresh_from_db()
        source_forms = self._source_forms(connection, data=request.POST)
        if service_error is not None:
            add_save_error(form, source_forms["config_form"], service_error)
        context = self.get_context_data(
            form=form, status_formset=status_formset, failed_check=failed_check, **source_forms,
        )
        return self.render_to_response(context, status=400)


class ConnectionDeleteView(ConnectionTabMixin, TemplateView):
    template_name = "connections/confirm_delete.html"
    active_tab = "settings"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        connection = self.connection
        return super().get_context_data(
            run_count=connection.runs.count(),
            employee_mapping_count=connection.employee_mappings.count(),
            depot_mapping_count=connection.depot_mappings.count(),
            people_count=connection.managed_people.count(),
            active_run=_active(connection),
            **kwargs,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = self.connection
        if _active(connection) is not None:
            # Deleting under a worker would leave it writing to a run that no longer exists.
            messages.warning(request, "A sync is running: wait for it to finish, then delete the connection.")
            return redirect("connections:delete", pk)
        name = connection.name
        # People stay: Person.managed_by is SET_NULL, so they simply stop being managed.
        connection.delete()
        messages.success(request, f"{name} was deleted. Its people are still in the directory.")
        return redirect("connections:list")
