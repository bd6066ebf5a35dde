"""A run's report as stored, and the one way to read it back.

A first import of 100,000 people lists 100,000 changes: about 80 MB of JSON.
A page of the report shows 50 of them, so the report is stored in three parts
and a page reads only its own:

* the head (``SyncRun.report``): everything but the listed changes — the
  digests, the streams, the notes, the locations, the mappings gone and back;
* the changes themselves (``SyncRunChangeChunk``), ``CHUNK_SIZE`` consecutive
  changes per row, compressed together;
* one narrow row per change (``SyncRunChange``): its action, whether it has
  warnings, the person, the text the search box looks in, and its chunk. The
  run page filters, counts, searches and pages on these rows, then opens the
  one or few chunks its page lies in.

``SyncPlan.to_report()`` is the same report as one document: the head with
its ``changes``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet

from connections.fields import json_compress, json_encode
from connections.models import SyncRun, SyncRunChange, SyncRunChangeChunk
from connections.sync.bulk import blob_save, rows_append
from connections.sync.changes import SyncPlan

#: Changes per chunk. Chunk ``n`` holds changes ``n * CHUNK_SIZE`` to
#: ``(n + 1) * CHUNK_SIZE - 1``: change it only with a migration that rewrites
#: the stored chunks.
CHUNK_SIZE = 100
#: The run page's filter for changes with warnings, whatever their action.
WITH_WARNINGS = "warnings"


def _search_text(change: Mapping[str, Any]) -> str:
    text = f"{change.get('name') or ''} {change.get('email') or ''} {change.get('remote_id') or ''}".lower()
    # An error row may quote a NUL from the source; a text column cannot hold one.
    return text.replace("\x00", "") if "\x00" in text else text


# -- writing ------------------------------------------------------------------------


def sync_run_report_save(
    *,
    run_id: int,
    head: Mapping[str, Any],
    changes: Iterable[Mapping[str, Any]],
    created_person_by_remote_id: Mapping[str, int] | None = None,
) -> None:
    """Replace the run's report with ``head`` and ``changes`` (in report
    order). Inside the caller's transaction, with the run's outcome.

    The changes are read once, a chunk at a time, and streamed to the
    database: the JSON of 100,000 changes is never in memory whole.
    ``created_person_by_remote_id`` names the people a real run created, so
    the report links them (the stored change is the plan's, which predates them).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("sync_run_report_save() runs inside the caller's transaction only.")
    created = created_person_by_remote_id or {}
    # Again for a run approved after it was blocked: its applied report replaces the blocked one.
    SyncRunChangeChunk.objects.filter(run_id=run_id).delete()
    SyncRunChange.objects.filter(run_id=run_id).delete()
    index: list[tuple[Any, ...]] = []
    by_action: Counter[str] = Counter()

    def chunks() -> Iterator[tuple[int, int, bytes]]:
        listed = iter(changes)
        number = 0
        while batch := list(islice(listed, CHUNK_SIZE)):
            for offset, change in enumerate(batch):
                action = change.get("action", "")
                person_id = change.get("person_id")
                if person_id is None and action == "create":
                    person_id = created.get(change.get("remote_id", ""))
                index.append((
                    run_id, number * CHUNK_SIZE + offset, action, by_action[action],
                    bool(change.get("warnings")), person_id, number, _search_text(change),
                ))
                by_action[action] += 1
            yield run_id, number, json_compress([json_encode(batch)])
            number += 1

    rows_append(SyncRunChangeChunk, ["run_id", "number", "changes"], chunks())
    rows_append(
        SyncRunChange,
        ["run_id", "seq", "action", "action_seq", "has_warnings", "person_id", "chunk", "search"],
        index,
    )
    # What the run page's filters count, known now: no page counts 100,000 rows.
    listed = {"actions": dict(by_action), "warnings": sum(1 for row in index if row[4]), "total": len(index)}
    blob_save(SyncRun, run_id, "report", json_compress([json_encode({**head, "listed": listed})]))


def sync_run_plan_save(
    *, run_id: int, plan: SyncPlan, created_person_by_remote_id: Mapping[str, int] | None = None
) -> None:
    """A plan as its run's report (``sync_run_report_save``)."""
    sync_run_report_save(
        run_id=run_id,
        head=plan.report_head(),
        changes=plan.listed_change_dicts(),
        created_person_by_remote_id=created_person_by_remote_id,
    )


# -- reading ------------------------------------------------------------------------


def sync_run_report_changes(*, run_id: int) -> Iterator[dict[str, Any]]:
    """Every listed change of the run's report, in order, a chunk at a time."""
    chunks = SyncRunChangeChunk.objects.filter(run_id=run_id).order_by("number").values_list("changes", flat=True)
    for changes in chunks.iterator(chunk_size=20):
        yield from changes


def sync_run_report_plan(*, run: SyncRun) -> SyncPlan:
    """The run's report as the plan it was made from (to apply it)."""
    return SyncPlan.from_report(run.report or {}, changes=sync_run_report_changes(run_id=run.pk))


def sync_run_changes_find(*, run_id: int, action: str = "", query: str = "") -> QuerySet[SyncRunChange]:
    """The index rows of the run's changes with ``action`` (or
    ``WITH_WARNINGS``) whose name, email or record id contains ``query``, in
    report order."""
    rows = SyncRunChange.objects.filter(run_id=run_id)
    if action == WITH_WARNINGS:
        rows = rows.filter(has_warnings=True)
    elif action:
        rows = rows.filter(action=action)
    if query.strip():
        rows = rows.filter(search__contains=query.strip().lower())
    return rows.order_by("seq")


def sync_run_change_counts(*, run: SyncRun, query: str = "") -> tuple[Counter[str], int]:
    """How many of the run's changes (matching ``query``) have each action,
    and how many have warnings. Without a search, as the report's head
    recorded them; with one, one query on the index."""
    listed = (run.report or {}).get("listed")
    if listed is not None and not query.strip():
        return Counter(listed["actions"]), listed["warnings"]
    rows = sync_run_changes_find(run_id=run.pk, query=query).order_by()
    by_action: Counter[str] = Counter()
    with_warnings = 0
    for action, count, warned in rows.values_list("action").annotate(
        count=Count("id"), warned=Count("id", filter=Q(has_warnings=True))
    ):
        by_action[action] = count
        with_warnings += warned
    return by_action, with_warnings


class ChangeListing:
    """The index rows of a run's changes with ``action`` matching ``query``,
    as a paginator pages them: counted already (``sync_run_change_counts``),
    and a page is a range of ``seq`` (or of ``action_seq`` for one action),
    so the last page of 100,000 is as quick as the first. A search, and the
    changes with warnings (few), are paged by offset."""

    def __init__(self, *, run_id: int, count: int, action: str = "", query: str = "") -> None:
        self.run_id, self._count, self.action, self.query = run_id, count, action, query.strip()

    def count(self) -> int:
        return self._count

    def __getitem__(self, key: slice) -> list[SyncRunChange]:
        start, stop = key.start or 0, key.stop if key.stop is not None else self._count
        if self.query or self.action == WITH_WARNINGS:
            return list(sync_run_changes_find(run_id=self.run_id, action=self.action, query=self.query)[start:stop])
        rows = SyncRunChange.objects.filter(run_id=self.run_id)
        if self.action:
            rows = rows.filter(action=self.action, action_seq__gte=start, action_seq__lt=stop)
        else:
            rows = rows.filter(seq__gte=start, seq__lt=stop)
        return list(rows.order_by("seq"))


def sync_run_changes_at(*, rows: Iterable[SyncRunChange]) -> list[dict[str, Any]]:
    """The changes of these index rows (of one run or several), in their
    order, each with the person the index knows of: one query, which opens
    only the chunks they lie in."""
    rows = list(rows)
    if not rows:
        return []
    places = Q()
    for run_id, number in {(row.run_id, row.chunk) for row in rows}:
        places |= Q(run_id=run_id, number=number)
    chunks = {
        (run_id, number): changes
        for run_id, number, changes in SyncRunChangeChunk.objects.filter(places).values_list(
            "run_id", "number", "changes"
        )
    }
    changes = []
    for row in rows:
        change = dict(chunks[row.run_id, row.chunk][row.seq - row.chunk * CHUNK_SIZE])
        change["person_id"] = row.person_id
        changes.append(change)
    return changes


def sync_run_person_changes(*, run_ids: Iterable[int], person_id: int) -> dict[int, list[dict[str, Any]]]:
    """Run id → the changes about this person in that run's report, in
    order: two queries, however many runs."""
    rows = list(SyncRunChange.objects.filter(run_id__in=list(run_ids), person_id=person_id).order_by("run_id", "seq"))
    found: dict[int, list[dict[str, Any]]] = {}
    for row, change in zip(rows, sync_run_changes_at(rows=rows), strict=True):
        found.setdefault(row.run_id, []).append(change)
    return found
