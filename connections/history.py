"""The Overview's picture of a connection's recent runs: one stacked bar per
run (created · updated · deactivated · errors), drawn by the template as an
inline SVG from the geometry worked out here (a template cannot do sums).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from connections.models import Connection, SyncRun
from connections.summaries import sync_run_counts
from connections.templatetags.hrsync_time import absolute_time

#: How many runs the chart shows, newest on the right.
HISTORY_RUNS = 30
#: The drawing's coordinates (its viewBox); CSS scales it to the card.
CHART_WIDTH = 600
CHART_HEIGHT = 120
#: Room above the tallest bar for a blocked or failed run's marker.
MARKER_ROOM = 14
#: Fewer runs than this still get a bar this narrow, not a few wide blocks.
MIN_SLOTS = 12
#: A count above zero is never drawn thinner than this, however tall the others.
MIN_SEGMENT = 2.0
#: (counts key, what the legend calls it), stacked from the bottom.
SERIES = (
    ("created", "Created"),
    ("updated", "Updated"),
    ("deactivated", "Deactivated"),
    ("errors", "Errors"),
)
#: Runs marked above their bar: they changed nothing.
MARKED = {SyncRun.Status.BLOCKED: "blocked", SyncRun.Status.FAILED: "failed"}


@dataclass(frozen=True, slots=True)
class ChartSegment:
    series: str
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class ChartBar:
    run: SyncRun
    url: str
    #: What the bar says, for its tooltip and for screen readers.
    label: str
    #: The counts of ``SERIES``, in its order.
    values: tuple[int, ...]
    x: float
    width: float
    segments: tuple[ChartSegment, ...]
    #: "blocked", "failed" or "".
    marker: str
    marker_x: float
    marker_y: float


@dataclass(frozen=True, slots=True)
class RunHistoryChart:
    bars: tuple[ChartBar, ...]
    #: The largest stack drawn: the height of the plot stands for it.
    scale_max: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    baseline: float = CHART_HEIGHT - 0.5
    series: tuple[tuple[str, str], ...] = SERIES

    @property
    def blocked_count(self) -> int:
        return sum(1 for bar in self.bars if bar.marker == "blocked")


def _label(run: SyncRun, counts: dict[str, Any]) -> str:
    when = absolute_time(run.finished_at or run.created_at)
    said = ", ".join(f"{counts[key]} {name.lower()}" for key, name in SERIES)
    if run.scope == SyncRun.Scope.LOCATIONS:
        said = "locations only"
    what = "would have changed" if run.dry_run or run.status == SyncRun.Status.BLOCKED else "changed"
    return f"{run.title}, {when}, {run.get_status_display().lower()}: {what} {said}"


def run_history_chart(*, connection: Connection, limit: int = HISTORY_RUNS) -> RunHistoryChart | None:
    """The last ``limit`` finished runs of ``connection``, oldest first, as
    bars; None when none has finished."""
    runs = list(
        connection.runs.filter(status__in=SyncRun.FINISHED_STATUSES)
        .only("id", "connection_id", "dry_run", "scope", "status", "counts", "created_at", "finished_at")
        .order_by("-created_at", "-id")[:limit]
    )
    if not runs:
        return None
    runs.reverse()
    counted = [(run, sync_run_counts(run=run)) for run in runs]
    scale_max = max(1, *(sum(counts[key] for key, _name in SERIES) for _run, counts in counted))
    slot = CHART_WIDTH / max(len(runs), MIN_SLOTS)
    width = slot * 0.64
    plot = CHART_HEIGHT - MARKER_ROOM
    bars = []
    for index, (run, counts) in enumerate(counted):
        x = index * slot + (slot - width) / 2
        top = float(CHART_HEIGHT)
        segments = []
        for key, _name in SERIES:
            if not counts[key]:
                continue
            height = max(counts[key] / scale_max * plot, MIN_SEGMENT)
            top -= height
            segments.append(ChartSegment(series=key, y=round(top, 2), height=round(height, 2)))
        bars.append(
            ChartBar(
                run=run,
                url=reverse("connections:run", args=[connection.pk, run.pk]),
                label=_label(run, counts),
                values=tuple(counts[key] for key, _name in SERIES),
                x=round(x, 2),
                width=round(width, 2),
                segments=tuple(segments),
                marker=MARKED.get(run.status, ""),
                marker_x=round(x + width / 2, 2),
                marker_y=round(max(top - MARKER_ROOM / 2, MARKER_ROOM / 2), 2),
            )
        )
    return RunHistoryChart(bars=tuple(bars), scale_max=scale_max)
