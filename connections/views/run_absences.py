"""A run page's absences: the changes to absences it planned and the pushes it sent."""

from __future__ import annotations

from typing import Any

from django.template.defaultfilters import pluralize

from connections.sync.absences import absence_period

#: How an absence change's action reads.
ABSENCE_ACTION_LABELS = {
    "create": "New",
    "update": "Changed",
    "remove": "Removed",
    "unchanged": "Unchanged",
    "skip": "Skipped",
    "error": "Error",
}
#: The badge of each action (the people changes' colours).
ACTION_BADGES = {"remove": "deactivate"}
#: How a push's outcome reads, in a real run and in a dry run.
PUSH_OUTCOME_LABELS = {
    "planned": "Waiting to be sent",
    "sent": "Sent",
    "rejected": "Refused",
    "failed": "Failed",
    "not_sent": "Not sent",
}
_OUTCOME_BADGES = {"planned": "queued", "sent": "ok", "rejected": "bad", "failed": "failed", "not_sent": "skip"}
#: The run page's absence counters, and the pushes'.
ABSENCE_STAT_LABELS = {
    "created": "New absences",
    "updated": "Changed absences",
    "removed": "Removed absences",
    "unchanged": "Unchanged absences",
    "skipped": "Skipped absences",
    "errors": "Absence errors",
}
PUSH_STAT_LABELS = {"sent": "Sent", "rejected": "Refused", "failed": "Failed", "not_sent": "Not sent"}


def run_absences_context(*, head: dict[str, Any], counts: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """``absence_changes``, ``pushes`` and their counters, for run_detail.html."""
    changes = [
        {
            **change,
            "label": ABSENCE_ACTION_LABELS.get(change.get("action", ""), change.get("action", "")),
            "badge": ACTION_BADGES.get(change.get("action", ""), change.get("action", "")),
            "period": absence_period(change.get("start_date") or None, change.get("end_date") or None),
        }
        for change in head.get("absences") or []
    ]
    pushes = [
        {
            **item,
            "label": "Would be sent" if dry_run and item.get("outcome") == "planned"
            else PUSH_OUTCOME_LABELS.get(item.get("outcome", ""), item.get("outcome", "")),
            "badge": _OUTCOME_BADGES.get(item.get("outcome", ""), "neutral"),
        }
        for item in head.get("pushes") or []
        # People's details have a section of their own (run_pushes.py).
        if item.get("stream", "absences") == "absences"
    ]
    push_counts = counts.get("pushes") or {}
    push_stats = dict(PUSH_STAT_LABELS)
    if dry_run or push_counts.get("planned"):
        push_stats = {"planned": "Would be sent" if dry_run else "Waiting to be sent", **push_stats}
    return {
        "absence_direction": head.get("absence_direction", ""),
        "absence_changes": changes,
        "absences_unchanged_not_listed": head.get("absences_unchanged_not_listed", 0),
        "pushes": pushes,
        "absence_stats": run_stats(counts=counts, name="absences", labels=ABSENCE_STAT_LABELS),
        "push_stats": run_stats(counts=counts, name="pushes", labels=push_stats),
    }


def run_stats(*, counts: dict[str, Any], name: str, labels: dict[str, str]) -> list[tuple[str, int]]:
    """The run page's counters of ``counts[name]``: (label, count) in the
    order of ``labels``; none when the run kept no such counts."""
    if name not in counts:
        return []
    kept = counts.get(name) or {}
    return [(label, int(kept.get(key) or 0)) for key, label in labels.items()]


#: How each record change count reads in a run's one-line summary.
CHANGE_SUMMARY_WORDS = {"created": "new", "updated": "changed", "removed": "removed", "errors": "errors"}
#: How each absence and push count reads in a run's one-line summary.
_SUMMARY_WORDS = {
    "absences": CHANGE_SUMMARY_WORDS,
    "pushes": {"sent": "sent", "rejected": "refused", "failed": "failed", "not_sent": "not sent"},
}


def run_absences_summary(counts: dict[str, Any], *, source: str = "") -> list[str]:
    """"absences: 2 new, 1 removed", "3 changes to send to <source>" and
    "sending to <source>: 1 sent" — only what is not zero."""
    parts = []
    if planned := (counts.get("pushes") or {}).get("planned"):
        parts.append(f"{planned} change{pluralize(planned)} to send to {source or 'the source'}")
    for stream, title in (("absences", "absences"), ("pushes", f"sending to {source}" if source else "sending")):
        words = [f"{counts[stream][key]} {word}" for key, word in _SUMMARY_WORDS[stream].items()
                 if (counts.get(stream) or {}).get(key)]
        if words:
            parts.append(f"{title}: " + ", ".join(words))
    return parts
