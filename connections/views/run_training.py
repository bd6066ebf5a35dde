"""A run page's training records: the changes to them it planned."""

from __future__ import annotations

from typing import Any

from connections.sync.absences import absence_period
from connections.views.run_absences import ABSENCE_ACTION_LABELS, ACTION_BADGES, CHANGE_SUMMARY_WORDS, run_stats
from hrsync.people.models import TrainingRecord

#: The run page's training counters.
TRAINING_STAT_LABELS = {
    "created": "New training records",
    "updated": "Changed training records",
    "removed": "Removed training records",
    "unchanged": "Unchanged training records",
    "skipped": "Skipped training records",
    "errors": "Training record errors",
}
_KIND_LABELS = dict(TrainingRecord.Kind.choices)


def run_training_context(*, head: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    """``training_changes`` and their counters, for run_detail.html."""
    changes = [
        {
            **change,
            # "label" is the record's own (the course or award).
            "action_label": ABSENCE_ACTION_LABELS.get(change.get("action", ""), change.get("action", "")),
            "badge": ACTION_BADGES.get(change.get("action", ""), change.get("action", "")),
            "kind_label": _KIND_LABELS.get(change.get("kind", ""), change.get("kind", "")),
            "period": absence_period(
                change.get("start_date") or None, change.get("end_date") or change.get("start_date") or None
            ),
        }
        for change in head.get("training") or []
    ]
    return {
        "training_planned": bool(head.get("training_planned")),
        "training_changes": changes,
        "training_unchanged_not_listed": head.get("training_unchanged_not_listed", 0),
        "training_stats": run_stats(counts=counts, name="training", labels=TRAINING_STAT_LABELS),
    }


def run_training_summary(counts: dict[str, Any]) -> list[str]:
    """"training: 2 new, 1 removed" — only what is not zero."""
    training = counts.get("training") or {}
    words = [f"{training[key]} {word}" for key, word in CHANGE_SUMMARY_WORDS.items() if training.get(key)]
    return [f"training: {', '.join(words)}"] if words else []
