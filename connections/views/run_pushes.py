"""A run page's person pushes: the details it sends (or would send) back to
its source, and how each went."""

from __future__ import annotations

from typing import Any

from connections.sync.pushes import EMPLOYEES
from connections.views.run_absences import _OUTCOME_BADGES, PUSH_OUTCOME_LABELS


def _outcome_words(item: dict[str, Any], *, dry_run: bool, source: str) -> str:
    outcome, message = item.get("outcome", ""), item.get("message", "")
    if outcome == "planned":
        return "Would be sent" if dry_run else "Waiting to be sent"
    if outcome == "sent":
        return "Sent"
    if outcome == "rejected":
        # The connector's message names the source and the refusal already.
        return message or f"Refused by {source}, without a reason."
    if outcome == "failed":
        return f"Failed, tried again at the next sync: {message}" if message else "Failed, tried again at the next sync."
    return message or "Not sent."


def run_people_pushes_context(*, head: dict[str, Any], dry_run: bool, source: str) -> dict[str, Any]:
    """``people_pushes`` for run_detail.html (``_run_pushes.html``): each
    person push with its outcome in words."""
    items = [item for item in head.get("pushes") or [] if item.get("stream") == EMPLOYEES]
    return {
        "people_pushes": [
            {
                **item,
                "label": "Would be sent" if dry_run and item.get("outcome") == "planned"
                else PUSH_OUTCOME_LABELS.get(item.get("outcome", ""), item.get("outcome", "")),
                "outcome_words": _outcome_words(item, dry_run=dry_run, source=source),
                "badge": _OUTCOME_BADGES.get(item.get("outcome", ""), "neutral"),
            }
            for item in items
        ],
        "people_pushes_planned": sum(1 for item in items if item.get("outcome") == "planned"),
    }
