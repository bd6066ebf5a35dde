"""Plain-data views of sync runs, for the command line and anything else
that prints a run (``sync --json``, ``runs show --json``).

The key sets here are a contract for scripts: add keys if you must, never
rename or drop one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format

from connections.models import SyncRun
from connections.reports import sync_run_report_changes
from connections.sync.absences import ABSENCE_COUNT_KEYS, PUSH_COUNT_KEYS
from connections.sync.training import TRAINING_COUNT_KEYS

#: The counts every summary carries, zero when the run did not record them.
SUMMARY_COUNT_KEYS = (
    "created",
    "linked",
    "updated",
    "unchanged",
    "deactivated",
    "reactivated",
    "conflicts",
    "errors",
    "warnings",
    "skipped",
)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def sync_run_counts(*, run: SyncRun) -> dict[str, Any]:
    raw = run.counts or {}
    counts: dict[str, Any] = {key: int(raw.get(key) or 0) for key in SUMMARY_COUNT_KEYS}
    if isinstance(raw.get("locations"), dict):
        counts["locations"] = dict(raw["locations"])
    # The absences stream's, when the run read it, in a fixed order.
    for stream, keys in (
        ("absences", ABSENCE_COUNT_KEYS.values()),
        ("pushes", PUSH_COUNT_KEYS.values()),
        ("training", TRAINING_COUNT_KEYS.values()),
    ):
        if isinstance(raw.get(stream), dict):
            counts[stream] = {key: int(raw[stream].get(key) or 0) for key in keys}
    return counts


def sync_run_read_employees(*, run: SyncRun) -> bool:
    """Whether the run read (or, queued, is to read) employees: as its
    report says, else by its scope."""
    streams = (run.report or {}).get("streams")
    if streams:
        return "employees" in streams
    return run.scope in (SyncRun.Scope.EMPLOYEES, SyncRun.Scope.ALL)


def sync_run_read_words(*, run: SyncRun) -> str:
    """How the run read its employees, in words: "Delta: changes since 1 Dec
    2026, 14:05" (local time), "Full read", or for a webhook's run the
    records it named; empty for a run that read no
    employees (an absences-only run), where neither would be true."""
    if not sync_run_read_employees(run=run):
        return ""
    if run.trigger == SyncRun.Trigger.WEBHOOK:
        return "Webhook: only the records it named, read again"
    if not run.delta:
        return "Full read"
    if run.read_since is None:
        return "Delta: changes since the last successful read"
    return f"Delta: changes since {date_format(timezone.localtime(run.read_since), 'j M Y, H:i')}"


def sync_run_summary(*, run: SyncRun) -> dict[str, Any]:
    """``{"id", "connection", "kind", "scope", "dry_run", "trigger", "status",
    "counts", "error", "started_at", "finished_at", "delta", "read_since"}``;
    datetimes as ISO 8601; ``read_since``: a delta run's "changed since"."""
    return {
        "id": run.pk,
        "connection": run.connection.name,
        "kind": run.connection.kind,
        "scope": run.scope,
        "dry_run": run.dry_run,
        "trigger": run.trigger,
        "status": run.status,
        "counts": sync_run_counts(run=run),
        "error": run.error,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "delta": run.delta,
        "read_since": _iso(run.read_since),
    }


def sync_run_changes(*, run: SyncRun) -> list[dict[str, Any]]:
    """One entry per record of the run's report: ``{"action", "remote_id",
    "person_id", "email", "name", "fields": {field: [old, new]}, "message",
    "warnings", "position"}``; ``position`` says where the record was in the
    source ("line 12", "page 3, record 4"), or is empty."""
    return [
        {
            "action": change.get("action", ""),
            "remote_id": change.get("remote_id", ""),
            "person_id": change.get("person_id"),
            "email": change.get("email", ""),
            "name": change.get("name", ""),
            "fields": dict(change.get("fields") or {}),
            "message": change.get("message", ""),
            "warnings": list(change.get("warnings") or []),
            "position": change.get("position", ""),
        }
        for change in sync_run_report_changes(run_id=run.pk)
    ]


def sync_run_location_changes(*, run: SyncRun) -> list[dict[str, Any]]:
    return [
        {
            "action": change.get("action", ""),
            "remote_location_id": change.get("remote_location_id", ""),
            "remote_name": change.get("remote_name", ""),
            "old_name": change.get("old_name", ""),
            "depot": change.get("depot_name") or None,
            "message": change.get("message", ""),
        }
        for change in (run.report or {}).get("locations", [])
    ]


def sync_run_detail(*, run: SyncRun) -> dict[str, Any]:
    """The summary plus the report: ``changes``, ``locations``, ``notes`` and
    ``streams`` (per stream the run read: ``{"records", "full_snapshot",
    "counts"}``)."""
    return {
        **sync_run_summary(run=run),
        "changes": sync_run_changes(run=run),
        "locations": sync_run_location_changes(run=run),
        "notes": list((run.report or {}).get("notes", [])),
        "streams": dict((run.report or {}).get("streams", {})),
    }


def sync_run_summary_lines(*, run: SyncRun) -> list[str]:
    """A few human lines: what ran, how it ended, the counts, the error."""
    summary = sync_run_summary(run=run)
    lines = [
        f"{run.title} of {summary['connection']} ({run.scope}, {run.get_trigger_display().lower()}): "
        f"{run.get_status_display()}",
    ]
    if read := sync_run_read_words(run=run):
        lines.append(read)
    counts = summary["counts"]
    lines.append(", ".join(f"{key} {counts[key]}" for key in SUMMARY_COUNT_KEYS))
    for stream in ("locations", "absences", "pushes", "training"):
        if stream in counts:
            lines.append(f"{stream}: " + ", ".join(f"{key} {value}" for key, value in counts[stream].items()))
    if run.error:
        lines.append(f"error: {run.error}")
    return lines
