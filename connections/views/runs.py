"""The Runs tab: run history, a run's report, its CSV, and the decisions an
admin takes on a run (approve or reject a blocked run, apply a dry run)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from connections.models import Connection, SyncRun
from connections.runs import (
    ConnectionDisabled,
    SyncAlreadyRunning,
    SyncRunStateError,
    TaskQueueUnreachable,
    sync_run_apply_dry_run,
    sync_run_approve,
    sync_run_reject,
)
from connections.reports import (
    WITH_WARNINGS,
    ChangeListing,
    sync_run_change_counts,
    sync_run_changes_at,
    sync_run_report_changes,
)
from connections.services import connection_custom_field_labels
from connections.summaries import SUMMARY_COUNT_KEYS, sync_run_counts, sync_run_read_words
from connections.sync.changes import Action
from connections.sync.streams import EMPLOYEES, LOCATIONS
from connections.views.run_absences import run_absences_context, run_absences_summary
from connections.views.run_pushes import run_people_pushes_context
from connections.views.run_training import run_training_context, run_training_summary
from connections.views.base import ConnectionTabMixin
from connections.views.run_report import change_rows
from connectors.registry import connector_class
from hrsync.csv_export import csv_lines

Status = SyncRun.Status

#: Finished dry runs that can be applied as they are.
APPLICABLE_STATUSES = SyncRun.COMPLETED_STATUSES
#: An application in one of these states means the dry run was (or is being) applied.
APPLIED_STATUSES = (*SyncRun.ACTIVE_STATUSES, *SyncRun.COMPLETED_STATUSES, Status.BLOCKED)

#: The action filter of a run page, in this order; "warnings" is any action with warnings.
ACTION_FILTERS = (
    ("create", "Create"),
    ("link", "Link"),
    ("update", "Update"),
    ("deactivate", "Deactivate"),
    ("reactivate", "Reactivate"),
    ("conflict", "Conflict"),
    ("error", "Error"),
    ("unchanged", "Unchanged"),
    ("skip", "Skipped"),
)
WARNINGS_FILTER = WITH_WARNINGS
ACTION_LABELS = dict(ACTION_FILTERS)

LOCATION_COUNT_LABELS = {"create": "new", "update": "renamed", "unchanged": "unchanged"}

CSV_COLUMNS = ("action", "remote_id", "person_id", "email", "name", "field", "old", "new", "message", "warnings")


def run_duration(run: SyncRun) -> str:
    if run.started_at is None:
        return "—"
    if run.finished_at is None:
        return "running" if run.is_active else "—"
    seconds = max(int((run.finished_at - run.started_at).total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s" if seconds else "< 1 s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


#: Count keys that are plural nouns, as one of them reads: "1 conflict".
_ONE_OF = {"conflicts": "conflict", "errors": "error", "warnings": "warning"}


def run_counts_summary(run: SyncRun, *, source: str = "") -> str:
    """"3 created · 1 updated · locations: 2 new" — only what is not zero.
    ``source``: the connection's name, which says where pushes go."""
    counts = sync_run_counts(run=run)
    parts = [
        f"{counts[key]} {_ONE_OF.get(key, key) if counts[key] == 1 else key}"
        for key in SUMMARY_COUNT_KEYS
        if key != "unchanged" and counts[key]
    ]
    locations = counts.get("locations") or {}
    location_parts = [
        f"{value} {LOCATION_COUNT_LABELS.get(key, key)}" for key, value in locations.items() if value
    ]
    if location_parts:
        parts.append("locations: " + ", ".join(location_parts))
    parts += run_absences_summary(counts, source=source)
    parts += run_training_summary(counts)
    if parts:
        return " · ".join(parts)
    if run.status in SyncRun.COMPLETED_STATUSES:
        return "no changes"
    return "—"


def _get_run(view: ConnectionTabMixin, run_id: int, queryset: QuerySet | None = None) -> SyncRun:
    queryset = SyncRun.objects.all() if queryset is None else queryset
    return get_object_or_404(queryset, pk=run_id, connection=view.connection)


# -- history ------------------------------------------------------------------------

#: Triggers every connection can produce: a person, the schedule, the command line.
_TRIGGERS_ANY_CONNECTION = frozenset({SyncRun.Trigger.MANUAL, SyncRun.Trigger.SCHEDULE, SyncRun.Trigger.CLI})


def _trigger_choices(connection: Connection) -> list[tuple[str, str]]:
    """The triggers this connection's runs can have: those of every
    connection, its connector's inbound ones, and any its runs already have
    (a connector may have changed since)."""
    possible = _TRIGGERS_ANY_CONNECTION | connector_class(connection.kind).inbound
    # No ordering: the model's would make DISTINCT run over it too.
    used = set(connection.runs.order_by().values_list("trigger", flat=True).distinct())
    return [(value, label) for value, label in SyncRun.Trigger.choices if value in possible | used]



class RunListView(ConnectionTabMixin, TemplateView):
    template_name = "connections/runs.html"
    active_tab = "runs"
    paginate_by = 25

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        params = self.request.GET
        status = params.get("status", "")
        kind = params.get("type", "")
        trigger = params.get("trigger", "")
        # The report can be megabytes; the history never reads it.
        runs = SyncRun.objects.filter(connection=self.connection).select_related("requested_by").defer("report")
        if status in Status.values:
            runs = runs.filter(status=status)
        else:
            status = ""
        if kind in ("dry", "sync"):
            runs = runs.filter(dry_run=kind == "dry")
        else:
            kind = ""
        if trigger in SyncRun.Trigger.values:
            runs = runs.filter(trigger=trigger)
        else:
            trigger = ""
        page = Paginator(runs.order_by("-created_at", "-id"), self.paginate_by).get_page(params.get("page"))
        for run in page.object_list:
            run.duration_display = run_duration(run)
            run.counts_summary = run_counts_summary(run, source=self.connection.name)
        return super().get_context_data(
            page=page,
            runs=page.object_list,
            status=status,
            kind=kind,
            trigger=trigger,
            filtered=bool(status or kind or trigger),
            status_choices=Status.choices,
            trigger_choices=_trigger_choices(self.connection),
            **kwargs,
        )


# -- one run ----------------------------------------------------------------------------


class RunDetailView(ConnectionTabMixin, TemplateView):
    """A run's page. A report may list 100,000 changes: the page filters,
    counts, searches and pages on the report's index and opens only the
    chunks its 50 changes are in (``connections.reports``)."""

    template_name = "connections/run_detail.html"
    active_tab = "runs"
    paginate_by = 50
    #: How many of a blocked run's deactivations are named beside Approve/Reject.
    deactivations_shown = 20

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        run = _get_run(
            self, self.kwargs["run_id"], SyncRun.objects.select_related("requested_by", "decided_by")
        )
        head = run.report or {}
        query = self.request.GET.get("q", "").strip()
        current = self.request.GET.get("action", "")
        if current not in dict(ACTION_FILTERS) and current != WARNINGS_FILTER:
            current = ""
        by_action, with_warnings = sync_run_change_counts(run=run, query=query)
        matching = with_warnings if current == WARNINGS_FILTER else by_action[current] if current else by_action.total()
        shown = ChangeListing(run_id=run.pk, count=matching, action=current, query=query)
        page = Paginator(shown, self.paginate_by).get_page(self.request.GET.get("page"))
        custom_labels = connection_custom_field_labels(connection=self.connection)

        def in_words(index_rows: Iterable[Any]) -> list[Any]:
            return change_rows(
                sync_run_changes_at(rows=index_rows), connection=self.connection,
                custom_labels=custom_labels, action_labels=ACTION_LABELS,
            )

        rows = in_words(page.object_list)

        action_filters = [("", "All", by_action.total(), current == "")]
        action_filters += [(slug, label, by_action[slug], current == slug) for slug, label in ACTION_FILTERS]
        action_filters.append((WARNINGS_FILTER, "With warnings", with_warnings, current == WARNINGS_FILTER))

        applications = list(run.applications.only("id", "dry_run", "status", "created_at").order_by("-created_at"))
        counts = sync_run_counts(run=run)
        applicable = (
            run.dry_run
            and run.status in APPLICABLE_STATUSES
            and not any(a.status in APPLIED_STATUSES for a in applications)
        )
        # Applying a dry run that would write nothing would only start a sync
        # that does nothing: the page says so instead of offering it.
        can_apply = applicable and _would_write(counts)
        streams = _streams_read(run, head)
        deactivations: list[Any] = []
        if run.status == Status.BLOCKED:
            leaving = ChangeListing(run_id=run.pk, count=counts["deactivated"], action=Action.DEACTIVATE)[
                : self.deactivations_shown
            ]
            deactivations = in_words(leaving)
        return super().get_context_data(
            run=run,
            counts=[(key, counts[key]) for key in SUMMARY_COUNT_KEYS] if EMPLOYEES.name in streams else [],
            location_counts=_location_counts(counts) if LOCATIONS.name in streams else [],
            duration=run_duration(run),
            read_words=sync_run_read_words(run=run),
            counts_summary=run_counts_summary(run, source=self.connection.name),
            deactivates=counts["deactivated"],
            page=page,
            changes=rows,
            has_changes=bool(by_action) or bool(query),
            unchanged_not_listed=head.get("unchanged_not_listed", 0),
            action_filters=action_filters,
            current_action=current,
            current_action_label=dict(ACTION_FILTERS).get(current, "With warnings" if current else ""),
            query=query,
            locations=head.get("locations") or [],
            **run_absences_context(head=head, counts=counts, dry_run=run.dry_run),
            **run_people_pushes_context(head=head, dry_run=run.dry_run, source=self.connection.name),
            **run_training_context(head=head, counts=counts),
            notes=head.get("notes") or [],
            applications=applications,
            can_apply=can_apply,
            nothing_to_apply=_nothing_to_apply(counts) if applicable and not can_apply else "",
            deactivations=deactivations,
            deactivation_count=counts["deactivated"],
            **kwargs,
        )


#: The counts of a plan that writes: people, locations, absences and pushes.
WRITING_COUNTS = ("created", "linked", "updated", "deactivated", "reactivated")
WRITING_STREAM_COUNTS = {
    "locations": ("create", "update"),
    "absences": ("created", "updated", "removed"),
    "training": ("created", "updated", "removed"),
    "pushes": ("planned",),
}


def _would_write(counts: dict[str, Any]) -> bool:
    """Whether applying a dry run with these counts (``sync_run_counts``)
    would change anything: skipped, unchanged, conflicts and errors do not."""
    if any(counts.get(key) for key in WRITING_COUNTS):
        return True
    return any(
        (counts.get(stream) or {}).get(key) for stream, keys in WRITING_STREAM_COUNTS.items() for key in keys
    )


def _nothing_to_apply(counts: dict[str, Any]) -> str:
    """Why a dry run has nothing to apply, in words: "Nothing to apply:
    every record would stay as it is (12 skipped, 3 unchanged)."
    """
    left = [
        f"{counts[key]} {_ONE_OF.get(key, key) if counts[key] == 1 else key}"
        for key in ("skipped", "unchanged", "conflicts", "errors")
        if counts.get(key)
    ]
    absences = counts.get("absences") or {}
    left += [
        f"{absences[key]} absence{'' if absences[key] == 1 else 's'} {key}"
        for key in ("unchanged", "skipped")
        if absences.get(key)
    ]
    training = counts.get("training") or {}
    left += [
        f"{training[key]} training record{'' if training[key] == 1 else 's'} {key}"
        for key in ("unchanged", "skipped")
        if training.get(key)
    ]
    if not left:
        return "Nothing to apply: the source sent nothing to change."
    return f"Nothing to apply: every record would stay as it is ({', '.join(left)})."


def _streams_read(run: SyncRun, head: dict[str, Any]) -> set[str]:
    """The streams the run read, as its report says; a report written before
    reports said so, by the run's scope."""
    if head.get("streams"):
        return set(head["streams"])
    if not run.counts:
        return set()
    return {
        SyncRun.Scope.EMPLOYEES: {EMPLOYEES.name},
        SyncRun.Scope.LOCATIONS: {LOCATIONS.name},
    }.get(run.scope, {EMPLOYEES.name, LOCATIONS.name})


#: A run page's location counters.
LOCATION_STAT_LABELS = {"create": "New locations", "update": "Renamed locations", "unchanged": "Unchanged locations"}


def _location_counts(counts: dict[str, Any]) -> list[tuple[str, int]]:
    locations = counts.get("locations") or {}
    return [(label, int(locations.get(key) or 0)) for key, label in LOCATION_STAT_LABELS.items()]


# -- the report as CSV ----------------------------------------------------------------


def report_csv_rows(changes: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    """One row per changed field; one row with an empty field when none changed."""
    yield list(CSV_COLUMNS)
    for change in changes:
        head = [
            change.get("action", ""),
            change.get("remote_id", ""),
            change.get("person_id"),
            change.get("email", ""),
            change.get("name", ""),
        ]
        tail = [change.get("message", ""), "; ".join(str(w) for w in change.get("warnings") or [])]
        fields = change.get("fields") or {}
        if not fields:
            yield [*head, "", "", "", *tail]
            continue
        for name, diff in fields.items():
            old, new = (list(diff) + [None, None])[:2] if isinstance(diff, list | tuple) else (None, diff)
            yield [*head, name, old, new, *tail]


class RunReportCsvView(ConnectionTabMixin, View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int, run_id: int) -> StreamingHttpResponse:
        run = _get_run(self, run_id, SyncRun.objects.defer("report"))
        changes = sync_run_report_changes(run_id=run.pk)
        response = StreamingHttpResponse(csv_lines(report_csv_rows(changes)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="hrsync-run-{run.pk}.csv"'
        return response


# -- decisions -----------------------------------------------------------------------------


class _RunDecisionView(ConnectionTabMixin, View):
    """POST only. Without ``confirm`` it answers with a confirmation page, so
    the decision works the same with JavaScript off."""

    http_method_names = ["post"]
    template_name = "connections/run_confirm.html"
    decision = ""

    def post(self, request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
        run = _get_run(self, run_id, SyncRun.objects.defer("report"))
        if run.status != Status.BLOCKED:
            messages.warning(request, f"{run.title} is {run.get_status_display().lower()}, not blocked: nothing to decide.")
            return redirect("connections:run", pk=self.connection.pk, run_id=run.pk)
        if request.POST.get("confirm") != "yes":
            deactivating = sync_run_counts(run=run)["deactivated"]
            context = self.get_context_data(run=run, decision=self.decision, deactivating=deactivating)
            return render(request, self.template_name, context)
        try:
            self.decide(run)
        except (SyncRunStateError, SyncAlreadyRunning) as exc:
            messages.warning(request, str(exc))
        except TaskQueueUnreachable as exc:
            messages.error(request, str(exc))
        return redirect("connections:run", pk=self.connection.pk, run_id=run.pk)

    def decide(self, run: SyncRun) -> None:
        raise NotImplementedError


class RunApproveView(_RunDecisionView):
    decision = "approve"

    def decide(self, run: SyncRun) -> None:
        sync_run_approve(run=run, user=self.request.user)
        messages.success(self.request, f"Approved: {run.title} is being applied.")


class RunRejectView(_RunDecisionView):
    decision = "reject"

    def decide(self, run: SyncRun) -> None:
        sync_run_reject(run=run, user=self.request.user)
        messages.success(self.request, f"Rejected: nothing from {run.title} was applied.")


class RunApplyView(ConnectionTabMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
        dry_run = _get_run(self, run_id, SyncRun.objects.defer("report"))
        dry_run.connection = self.connection
        applied = dry_run.applications.filter(status__in=APPLIED_STATUSES).only("id", "dry_run").first()
        if applied is not None:
            # A second click must not sync again under the dry run's name.
            messages.warning(request, f"{dry_run.title} was applied already, by {applied.title}.")
            return redirect("connections:run", pk=self.connection.pk, run_id=applied.pk)
        deactivating = sync_run_counts(run=dry_run)["deactivated"]
        if deactivating and request.POST.get("confirm") != "yes":
            # An applied dry run skips the safeguard (applying is the review),
            # so deactivations are confirmed here instead.
            context = self.get_context_data(run=dry_run, decision="apply", deactivating=deactivating)
            return render(request, _RunDecisionView.template_name, context)
        try:
            run = sync_run_apply_dry_run(dry_run=dry_run, user=request.user)
        except (SyncRunStateError, SyncAlreadyRunning, ConnectionDisabled) as exc:
            messages.warning(request, str(exc))
            return redirect("connections:run", pk=self.connection.pk, run_id=dry_run.pk)
        except TaskQueueUnreachable as exc:
            messages.error(request, str(exc))
            return redirect("connections:run", pk=self.connection.pk, run_id=dry_run.pk)
        messages.success(request, f"Applying {dry_run.title}: {run.title} is on its way.")
        return redirect("connections:run", pk=self.connection.pk, run_id=run.pk)
