"""Processing uploaded files (DESIGN §1, inbound): one at a time per connection.

An ``InboundFile`` is stored first (``scheduled``), handed to a worker when
it is its turn (``queued``) and processed by a run of its own
(``processing``): the run reads the file through the connector's
``Uploadable.parse_upload`` instead of fetching employees, and is planned,
safeguarded and applied as any run. The file then says how that run ended:
``complete``, ``complete_with_errors`` (its per-record problems in
``results``), ``blocked`` (an admin approves or rejects the run, as any
blocked run; the file follows), ``error`` (the file was refused as a whole, or
the run failed: nothing changed) or ``cancelled``; ``skipped`` when its bytes
are those of the last completed file of its kind, with no run at all.

A webhook delivery (kind "webhook") takes the same turns, but is an event,
not a snapshot: it is never skipped for its bytes, its run (trigger
"webhook") re-reads the records it names (``connections.sync.webhooks``)
and never deactivates anyone by absence. When a delivery's turn comes, the
connection's other real deliveries waiting in turn before any upload join
it (up to ``WEBHOOK_BATCH``): one run re-reads what they all name, each
record once, and every delivery of the batch is settled from that run.
Uploads never join a batch.

Turns: a connection has at most one active run (a database constraint), and
a file waits while one runs or another file is queued or processing; it is
never refused. When any run of the connection ends, however it ends, the
runner calls ``inbound_run_ended``: the file it processed is settled and
the next waiting file starts at once (the dispatcher's pass every few
minutes is the safety net). Oldest first, except that an employee file goes
before a position file uploaded with it (``UPLOADED_TOGETHER``).

A position file: ``parse_upload`` yields one record per position,
``remote_id`` the holder's employee id ("" for a vacant position),
``job_title`` its title, ``manager_remote_id`` the holder of the nearest
filled parent position ("" for none), ``source_position`` its line and
``raw["position_id"]`` its id. Its run plans only job titles and managers of
people this connection already has; it never creates, deactivates or
reactivates anyone; a holder the connection does not have is a row error. It
has its own safeguard: removing more than the connection's threshold of the
positions of the last completed position file blocks it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import kombu.exceptions
from django.conf import settings as django_settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, InboundFile, SyncRun, SyncRunChange
from connections.reports import sync_run_changes_at
from connections.runs import ConnectionDisabled, SyncAlreadyRunning, sync_run_start
from connections.services import connection_connector
from connections.sync.changes import Action, SyncPlan
from connections.sync.planner import PlanSettings
from connections.sync.state import DirectoryState
from connections.sync.streams import EMPLOYEES, ReadProgress, StreamRead, streams_read_upload
from connections.sync.webhooks import webhook_read
from connectors.base import Connector, ConnectorError, RemoteEmployee, Uploadable
from hrsync.people.models import Person
from mappings.models import EmployeeMapping

logger = logging.getLogger(__name__)

Status = InboundFile.Status
Kind = InboundFile.Kind
RunStatus = SyncRun.Status

#: Uploads are kept this long; then their bytes are purged (the rows and
#: their runs stay).
RETENTION = dt.timedelta(days=30)
#: An employee file received up to this long after a waiting position file
#: was uploaded with it, and goes first: a position names people the
#: employee file creates.
UPLOADED_TOGETHER = dt.timedelta(minutes=10)
#: What a position file says about people, and all its run plans.
POSITION_FIELDS = frozenset({"job_title", "manager"})
#: Files whose bytes were processed to the end: the next identical one is skipped.
COMPLETED = (Status.COMPLETE, Status.COMPLETE_WITH_ERRORS)
#: Per-record results kept on a file; the run's report lists them all.
MAX_RESULTS = 10_000
#: Most webhook deliveries one run processes: a bulk change at the source
#: (hundreds of records edited at once) becomes a few runs, not hundreds, and
#: each run's re-reads stay bounded; the rest wait for the next turn.
WEBHOOK_BATCH = 500

#: A run's status → the status of the file it processed.
_FILE_STATUS_BY_RUN = {
    RunStatus.SUCCEEDED: Status.COMPLETE,
    RunStatus.COMPLETED_WITH_CONFLICTS: Status.COMPLETE_WITH_ERRORS,
    RunStatus.COMPLETED_WITH_ERRORS: Status.COMPLETE_WITH_ERRORS,
    RunStatus.BLOCKED: Status.BLOCKED,
    RunStatus.FAILED: Status.ERROR,
    RunStatus.CANCELLED: Status.CANCELLED,
    RunStatus.REJECTED: Status.CANCELLED,
}
_LINE = re.compile(r"line (\d+)")


class InboundFileStateError(Exception):
    """The file is not in a state that allows the requested action."""


def upload_title(inbound_file: InboundFile) -> str:
    """The file's one name in messages: "Upload #12"."""
    return f"Upload #{inbound_file.pk}"


# -- storing (the command line's; the API streams through connections.inbound) --------


# -- turns ----------------------------------------------------------------------------


def _turn(inbound_file: InboundFile) -> tuple[dt.datetime, int, int]:
    """Sort key of the waiting files: oldest first, a position file after an
    employee file uploaded with it."""
    if inbound_file.kind == Kind.POSITION:
        return inbound_file.received_at + UPLOADED_TOGETHER, 1, inbound_file.pk
    return inbound_file.received_at, 0, inbound_file.pk


def inbound_file_is_next(*, inbound_file: InboundFile) -> bool:
    """Whether the waiting file could start now: no run of its connection is
    active, no other file is queued or processing, and it is the first in
    turn of the waiting ones."""
    connection_id = inbound_file.connection_id
    if SyncRun.objects.filter(connection_id=connection_id, status__in=SyncRun.ACTIVE_STATUSES).exists():
        return False
    others = InboundFile.objects.filter(connection_id=connection_id).exclude(pk=inbound_file.pk)
    if others.filter(status__in=(Status.QUEUED, Status.PROCESSING)).exists():
        return False
    waiting = list(others.filter(status=Status.SCHEDULED).only("id", "kind", "received_at"))
    return all(_turn(inbound_file) < _turn(other) for other in waiting)


def inbound_files_dispatch(*, connection_id: int) -> InboundFile | None:
    """Start the connection's next waiting file, if no run of it is active
    and no other file is queued or processing: it is queued and handed to a
    worker after commit. Files whose runs have ended meanwhile (an approved
    or rejected blocked run, a run the stale check failed) are settled first.
    Returns the file started, or None."""
    inbound_files_settle(connection_id=connection_id)
    with transaction.atomic():
        # Two dispatchers of one connection (a run ending, an upload arriving)
        # take turns here, so only one of them starts a file.
        if not Connection.objects.select_for_update().filter(pk=connection_id).exists():
            return None
        if SyncRun.objects.filter(connection_id=connection_id, status__in=SyncRun.ACTIVE_STATUSES).exists():
            return None
        files = InboundFile.objects.filter(connection_id=connection_id)
        if files.filter(status__in=(Status.QUEUED, Status.PROCESSING)).exists():
            return None
        waiting = list(files.filter(status=Status.SCHEDULED).only("id", "kind", "received_at", "connection_id"))
        if not waiting:
            return None
        chosen = min(waiting, key=_turn)
        InboundFile.objects.filter(pk=chosen.pk, status=Status.SCHEDULED).update(status=Status.QUEUED)
        chosen_id = chosen.pk
        transaction.on_commit(lambda: _hand_to_worker(chosen_id))
    return InboundFile.objects.get(pk=chosen_id)


def _hand_to_worker(inbound_file_id: int) -> None:
    # Imported here: the tasks module imports the services.
    from connections.tasks import process_inbound_file

    try:
        process_inbound_file.delay(inbound_file_id)
    except (kombu.exceptions.OperationalError, OSError) as exc:
        # Waiting again, not lost: the dispatcher's next pass tries again.
        logger.warning(
            "Upload #%s could not be handed to a worker (%s); it waits for the next pass.", inbound_file_id, exc
        )
        InboundFile.objects.filter(pk=inbound_file_id, status=Status.QUEUED).update(status=Status.SCHEDULED)


def inbound_files_dispatch_waiting() -> int:
    """The dispatcher's pass: every connection with a file waiting, or with a
    blocked or processing file whose run has ended, gets its turn. Returns
    how many files were started."""
    connection_ids = set(
        InboundFile.objects.filter(
            Q(status=Status.SCHEDULED)
            | Q(status__in=(Status.BLOCKED, Status.PROCESSING), run__status__in=SyncRun.FINISHED_STATUSES)
        ).values_list("connection_id", flat=True)
    )
    return sum(1 for pk in sorted(connection_ids) if inbound_files_dispatch(connection_id=pk) is not None)


# -- processing ------------------------------------------------------------------------


def _last_completed(inbound_file: InboundFile) -> InboundFile | None:
    """The connection's last real file of the same kind that was processed to the end."""
    return (
        InboundFile.objects.filter(
            connection_id=inbound_file.connection_id, kind=inbound_file.kind, dry_run=False, status__in=COMPLETED
        )
        .exclude(pk=inbound_file.pk)
        .order_by("-finished_at", "-pk")
        .first()
    )


def inbound_file_process(*, inbound_file_id: int) -> InboundFile:
    """Process a waiting file to its end, in this process (the worker's task,
    and ``manage.py upload``): skipped, or run and settled from its run.
    A file that is not waiting any more (cancelled, already processed) is
    left as it is; one whose connection is busy waits again."""
    # Imported here: the runner imports this module for its hooks.
    from connections.sync.runner import sync_run_execute

    connection_id = InboundFile.objects.values_list("connection_id", flat=True).get(pk=inbound_file_id)
    inbound_files_settle(connection_id=connection_id)
    with transaction.atomic():
        inbound_file = InboundFile.objects.select_for_update().select_related("connection").get(pk=inbound_file_id)
        if inbound_file.status not in InboundFile.WAITING_STATUSES:
            return inbound_file
        connection = inbound_file.connection
        busy = InboundFile.objects.filter(connection=connection, status=Status.PROCESSING).exists()
        # A webhook is an event, not a snapshot: the same delivery later says
        # the record changed again, so it is never skipped for its bytes.
        is_webhook = inbound_file.kind == Kind.WEBHOOK
        last = None if inbound_file.dry_run or is_webhook else _last_completed(inbound_file)
        if not busy and last is not None and last.sha256 == inbound_file.sha256:
            when = timezone.localtime(last.finished_at).strftime("%d %b %Y, %H:%M") if last.finished_at else ""
            inbound_file.status = Status.SKIPPED
            inbound_file.error = (
                f"The same file as {upload_title(last)}" + (f", processed {when}" if when else "") + ": nothing to do."
            )
            inbound_file.finished_at = timezone.now()
            inbound_file.save(update_fields=["status", "error", "finished_at"])
            connection_id = connection.pk
            transaction.on_commit(lambda: inbound_files_dispatch(connection_id=connection_id))
            return inbound_file
        try:
            if busy:
                raise SyncAlreadyRunning(connection)
            run = sync_run_start(
                connection=connection,
                scope=SyncRun.Scope.EMPLOYEES if inbound_file.kind == Kind.POSITION else SyncRun.Scope.ALL,
                dry_run=inbound_file.dry_run,
                trigger=SyncRun.Trigger.WEBHOOK if is_webhook else SyncRun.Trigger.UPLOAD,
                user=inbound_file.uploaded_by,
                enqueue=False,
            )
        except SyncAlreadyRunning:
            # Its turn comes when that run ends (``inbound_run_ended``).
            inbound_file.status = Status.SCHEDULED
            inbound_file.save(update_fields=["status"])
            return inbound_file
        except ConnectionDisabled as exc:
            inbound_file.status = Status.ERROR
            inbound_file.error = f"{exc} " + (
                "The webhook was not processed: the next full sync after the connection is enabled catches up."
                if is_webhook
                else "The file was not processed: upload it again once the connection is enabled."
            )
            inbound_file.finished_at = timezone.now()
            inbound_file.save(update_fields=["status", "error", "finished_at"])
            _contacts_tell_after_commit(inbound_file)
            return inbound_file
        SyncRun.objects.filter(pk=run.pk).update(inbound_file=inbound_file)
        inbound_file.status = Status.PROCESSING
        inbound_file.run = run
        inbound_file.save(update_fields=["status", "run"])
        if is_webhook and not inbound_file.dry_run:
            _webhook_batch_join(inbound_file=inbound_file, run=run)
    sync_run_execute(run_id=run.pk)
    _run_files_settle(run_id=run.pk)
    return InboundFile.objects.select_related("connection", "run").get(pk=inbound_file.pk)


def _webhook_batch_join(*, inbound_file: InboundFile, run: SyncRun) -> int:
    """The connection's other real webhook deliveries waiting now join the
    run of ``inbound_file``, oldest first, up to ``WEBHOOK_BATCH`` in all;
    none received after an upload that waits (the upload's turn comes
    first). Returns how many joined."""
    waiting = InboundFile.objects.filter(connection_id=inbound_file.connection_id, status=Status.SCHEDULED)
    uploads = list(waiting.exclude(kind=Kind.WEBHOOK).only("id", "kind", "received_at"))
    deliveries = waiting.filter(kind=Kind.WEBHOOK, dry_run=False, received_at__lte=timezone.now()).exclude(
        pk=inbound_file.pk
    )
    if uploads:
        deliveries = deliveries.filter(received_at__lt=min(_turn(upload) for upload in uploads)[0])
    # Locked, skipping rows another transaction holds (one being cancelled).
    joining = list(
        deliveries.select_for_update(skip_locked=True)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[: WEBHOOK_BATCH - 1]
    )
    return InboundFile.objects.filter(pk__in=joining, status=Status.SCHEDULED).update(
        status=Status.PROCESSING, run=run
    )


def _run_files_settle(*, run_id: int) -> None:
    """``inbound_file_settle`` for each file the run processed (a webhook
    batch has several)."""
    for pk in list(InboundFile.objects.filter(run_id=run_id).order_by("pk").values_list("pk", flat=True)):
        inbound_file_settle(inbound_file_id=pk)


def inbound_file_settle(*, inbound_file_id: int) -> None:
    """Give a processing or blocked file the outcome of its run, once the
    run has ended: its status, counts, error and per-record results."""
    with transaction.atomic():
        inbound_file = InboundFile.objects.select_for_update().filter(pk=inbound_file_id).first()
        if inbound_file is None or inbound_file.status not in (Status.PROCESSING, Status.BLOCKED):
            return
        run = SyncRun.objects.defer("report").filter(pk=inbound_file.run_id).first()
        if run is None or run.status not in SyncRun.FINISHED_STATUSES:
            return
        status = _FILE_STATUS_BY_RUN[run.status]
        if status == inbound_file.status:
            return  # still blocked
        counts = dict(run.counts or {})
        # Kept from the read: the next position file's safeguard compares with them.
        if "position_ids" in inbound_file.counts:
            counts["positions"] = len(inbound_file.counts["position_ids"])
            counts["position_ids"] = inbound_file.counts["position_ids"]
        # A delivery of a batch: the records it named (its results are theirs).
        named = inbound_file.counts.get("named")
        if named is not None:
            counts["named"] = named
        inbound_file.counts = counts
        inbound_file.status = status
        if status == Status.ERROR:
            # A refused file's problems were saved as it was read.
            inbound_file.error = run.error
        else:
            inbound_file.error = "" if status in COMPLETED else run.error
            inbound_file.results = _run_results(run)
            if named is not None:
                wanted = set(named)
                inbound_file.results = [row for row in inbound_file.results if row["employee_id"] in wanted]
                if status == Status.COMPLETE_WITH_ERRORS and not inbound_file.results:
                    # The problems were in records other deliveries of the batch named.
                    inbound_file.status = status = Status.COMPLETE
        if status != Status.BLOCKED:
            inbound_file.finished_at = run.finished_at or timezone.now()
        inbound_file.save(update_fields=["status", "counts", "error", "results", "finished_at"])
        _contacts_tell_after_commit(inbound_file)


def inbound_files_settle(*, connection_id: int) -> None:
    """``inbound_file_settle`` for each of the connection's processing or
    blocked files whose run has ended."""
    ended = InboundFile.objects.filter(
        connection_id=connection_id,
        status__in=(Status.PROCESSING, Status.BLOCKED),
        run__status__in=SyncRun.FINISHED_STATUSES,
    ).values_list("pk", flat=True)
    for pk in list(ended):
        inbound_file_settle(inbound_file_id=pk)


# -- telling the contacts -------------------------------------------------------------

#: The outcomes a connection's upload contacts hear of, as a sentence ends.
_TOLD = {
    Status.ERROR: "failed",
    Status.BLOCKED: "was blocked",
    Status.COMPLETE_WITH_ERRORS: "was processed with errors",
}
#: Problems listed in an email; the error file on the Uploads tab has them all.
MAIL_PROBLEMS = 20
#: The counts an email names, in this order, in the admin's words.
_MAIL_COUNTS = (
    ("created", "created"),
    ("linked", "linked"),
    ("updated", "updated"),
    ("deactivated", "deactivated"),
    ("reactivated", "reactivated"),
    ("unchanged", "unchanged"),
    ("errors", "with errors"),
    ("conflicts", "waiting to be resolved"),
    ("positions", "positions in the file"),
)


def _contacts_tell_after_commit(inbound_file: InboundFile) -> None:
    """Once the file's outcome is committed, tell its connection's contacts,
    if it is a real file and an outcome they hear of."""
    if inbound_file.dry_run or inbound_file.status not in _TOLD:
        return
    inbound_file_id = inbound_file.pk
    # Robust: a mail problem must not keep the next file from being dispatched.
    transaction.on_commit(lambda: inbound_file_tell_contacts(inbound_file_id=inbound_file_id), robust=True)


def inbound_file_tell_contacts(*, inbound_file_id: int) -> bool:
    """Email the contacts of the file's connection (``Uploadable.upload_contacts``)
    that a real file ended as error, blocked or complete with errors: what
    happened, its counts, its first problems, what to do next and the link to
    the Uploads tab. Never the file's contents beyond its problem lines, never
    a key. Returns whether an email was sent. Never raises: the file's
    outcome is already saved, and a mail server that is down must not change
    it (the failure is logged)."""
    try:
        inbound_file = InboundFile.objects.select_related("connection").get(pk=inbound_file_id)
        if inbound_file.dry_run or inbound_file.status not in _TOLD:
            return False
        connector = connection_connector(connection=inbound_file.connection)
        contacts = list(connector.upload_contacts) if isinstance(connector, Uploadable) else []
        if not contacts:
            return False
        subject, body = _contacts_email(inbound_file)
        send_mail(subject=subject, message=body, from_email=None, recipient_list=contacts)
    except Exception:  # noqa: BLE001 - the mail server's, the settings', anything: the file stays as it ended
        logger.warning(
            "The contacts of Upload #%s could not be emailed; its status on the Uploads tab is right.",
            inbound_file_id,
            exc_info=True,
        )
        return False
    return True


def _contacts_email(inbound_file: InboundFile) -> tuple[str, str]:
    """The subject and body of the email about ``inbound_file``."""
    connection = inbound_file.connection
    status = inbound_file.status
    kind = inbound_file.get_kind_display().lower()
    outcome = _TOLD[status]
    base_url = django_settings.HRSYNC_BASE_URL
    uploads_link = f"{base_url}{reverse('connections:uploads', kwargs={'pk': connection.pk})}"
    results = list(inbound_file.results or [])
    counts = inbound_file.counts or {}
    named = [
        f"{counts[key]} {words}" for key, words in _MAIL_COUNTS if isinstance(counts.get(key), int) and counts[key]
    ]
    if status == Status.COMPLETE_WITH_ERRORS:
        happened = (
            f"The file was synced, except {len(results)} record{'s' if len(results) != 1 else ''} "
            "with problems, left out of the sync."
        )
        next_step = (
            "Fix the records listed above in the file (or in the HR system it comes from) and upload it again; "
            "the records without problems need nothing more."
        )
    elif status == Status.BLOCKED:
        happened = inbound_file.error or "The safeguard stopped the run before it changed anything."
        run_link = (
            f"{base_url}{reverse('connections:run', kwargs={'pk': connection.pk, 'run_id': inbound_file.run_id})}"
            if inbound_file.run_id
            else f"{base_url}{reverse('connections:runs', kwargs={'pk': connection.pk})}"
        )
        run_name = f"Sync #{inbound_file.run_id}" if inbound_file.run_id else "the blocked run"
        next_step = (
            f"Nothing has changed yet. Review {run_name} on the Runs tab and approve it if the changes are "
            f"right, or reject it: {run_link}\n"
            "Employee ids that lost their leading zeros (the file was opened in Excel) are the usual cause: "
            "then reject the run, fix the file and upload it again."
        )
    else:
        happened = inbound_file.error or "The file could not be processed."
        next_step = (
            "Nothing was changed. Fix the problems listed above in the file and upload it again."
            if results
            else "Nothing was changed. Once the cause above is dealt with, upload the file again."
        )
    context = {
        "connection": connection,
        "upload": inbound_file,
        "kind": kind,
        "outcome": outcome,
        "received": timezone.localtime(inbound_file.received_at).strftime("%d %b %Y, %H:%M"),
        "happened": happened,
        "counts_title": "What the run would change" if status == Status.BLOCKED else "Counts",
        "counts": ", ".join(named),
        "problems": results[:MAIL_PROBLEMS],
        "problem_count": len(results),
        "more": max(len(results) - MAIL_PROBLEMS, 0),
        "next_step": next_step,
        "uploads_link": uploads_link,
    }
    subject = f"hrsync: {kind} #{inbound_file.pk} for {connection.name} {outcome}"
    return subject, render_to_string("connections/upload_email.txt", context)


def _line(position: str) -> int | None:
    match = _LINE.search(position or "")
    return int(match.group(1)) if match else None


def _run_results(run: SyncRun) -> list[dict[str, Any]]:
    """The run's per-record problems (error and conflict rows), in file order."""
    rows = SyncRunChange.objects.filter(run_id=run.pk, action__in=(Action.ERROR, Action.CONFLICT)).order_by("seq")
    return [
        {
            "line": _line(change.get("position", "")),
            "employee_id": change.get("remote_id", ""),
            "message": change.get("message", ""),
        }
        for change in sync_run_changes_at(rows=rows[:MAX_RESULTS])
    ]


def inbound_run_ended(*, run_id: int) -> None:
    """The runner's hook at the end of every run, however it ended: settle
    the file it processed, then (after commit) start the connection's next
    waiting file. Never raises: the run's own outcome is already saved."""
    try:
        run = SyncRun.objects.only("id", "connection_id", "inbound_file_id").get(pk=run_id)
        if run.inbound_file_id is not None:
            _run_files_settle(run_id=run.pk)
        connection_id = run.connection_id
        transaction.on_commit(lambda: inbound_files_dispatch(connection_id=connection_id))
    except Exception:
        logger.exception(
            "The uploads waiting after sync run %s could not be started; the dispatcher starts them.", run_id
        )


def inbound_file_cancel(*, inbound_file: InboundFile) -> InboundFile:
    """Cancel a file that has not started yet (scheduled or queued)."""
    cancelled = InboundFile.objects.filter(pk=inbound_file.pk, status__in=InboundFile.WAITING_STATUSES).update(
        status=Status.CANCELLED, finished_at=timezone.now(), error="Cancelled before it was processed."
    )
    inbound_file.refresh_from_db()
    if cancelled:
        return inbound_file
    title = upload_title(inbound_file)
    if inbound_file.status == Status.PROCESSING:
        raise InboundFileStateError(
            f"{title} is being processed, so it can no longer be cancelled. A sync applies all or nothing: "
            "wait for it to end."
        )
    if inbound_file.status == Status.BLOCKED and inbound_file.run_id:
        raise InboundFileStateError(
            f"{title} is blocked by the safeguard: reject its run (Sync #{inbound_file.run_id}) instead."
        )
    raise InboundFileStateError(f"{title} is {inbound_file.get_status_display().lower()}: there is nothing to cancel.")


def inbound_files_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the bytes of the files received more than ``RETENTION`` ago
    (their rows and runs stay); a file still waiting or processing keeps
    them. Returns how many were purged."""
    now = now or timezone.now()
    old = InboundFile.objects.filter(received_at__lt=now - RETENTION, purged_at__isnull=True).exclude(
        status__in=InboundFile.ACTIVE_STATUSES
    )
    purged = 0
    for inbound_file in old.only("id", "content"):
        if inbound_file.content:
            inbound_file.content.delete(save=False)
        InboundFile.objects.filter(pk=inbound_file.pk).update(content="", purged_at=now)
        purged += 1
    return purged


# -- the runner's hooks ---------------------------------------------------------------


@dataclass
class UploadRead:
    """What an upload run read from its file, and how it plans it
    (``upload_read``; the runner asks it at each step)."""

    inbound_file: InboundFile
    reads: dict[str, StreamRead]
    #: A webhook run: how many deliveries it processes, and the records they name.
    deliveries: int = 1
    records_named: int = 0

    @property
    def is_positions(self) -> bool:
        return self.inbound_file.kind == Kind.POSITION

    @property
    def is_webhook(self) -> bool:
        return self.inbound_file.kind == Kind.WEBHOOK

    @property
    def position_ids(self) -> list[str]:
        return list(self.inbound_file.counts.get("position_ids", []))

    def plan_input(
        self, *, settings: PlanSettings, state: DirectoryState, records: Mapping[str, Any], connector: Connector
    ) -> tuple[PlanSettings, dict[str, Any]]:
        """The plan's settings and records. An employee file: a full
        snapshot; when the connector takes position files too, titles and
        managers are theirs, so the employee file leaves them as they are. A
        position file: titles and managers only, of people already here. A
        webhook: the records it names, never a snapshot."""
        records = dict(records)
        if self.is_webhook:
            return replace(settings, full_snapshot=False), records
        if not self.is_positions:
            if Kind.POSITION in getattr(connector, "upload_kinds", ()):
                settings = replace(settings, provides=settings.provides - POSITION_FIELDS)
            return settings, records
        holders = _position_records(
            records[EMPLOYEES.name] or [], state=state, connection_name=settings.connection_name
        )
        records[EMPLOYEES.name] = holders
        return (
            replace(
                settings,
                provides=POSITION_FIELDS,
                full_snapshot=False,
                statuses=False,
                # With ``statuses`` off each record's status word must only map:
                # it is the word its mapping last saw, kept in the mapping's snapshot.
                status_map={record.status: Person.Status.ACTIVE for record in holders},
            ),
            records,
        )

    def planned(self, the_plan: SyncPlan) -> None:
        if self.is_webhook and self.deliveries > 1:
            the_plan.notes.append(
                f"Processed {self.deliveries} webhook deliveries naming {self.records_named} "
                f"record{'s' if self.records_named != 1 else ''}."
            )
        if self.is_positions:
            # A position names its holder, which says nothing of whether they
            # are back in the employee file.
            the_plan.mappings_back = []

    def safeguard_message(self, connection: Connection) -> str:
        """Why a position file is blocked: it would remove more than the
        safeguard allows of the positions of the last completed one."""
        if not self.is_positions:
            return ""
        last = _last_completed(self.inbound_file)
        before = set((last.counts if last else {}).get("position_ids") or [])
        if not before:
            return ""
        removed = len(before - set(self.position_ids))
        if removed <= connection.safeguard_min or removed <= len(before) * connection.safeguard_percent / 100:
            return ""
        return (
            f"This position file would remove {removed} of the {len(before)} positions of {upload_title(last)} "
            f"({removed * 100 // len(before)} %), more than the safeguard allows ({connection.safeguard_percent} %, "
            f"at least {connection.safeguard_min}). Nothing was changed. New position ids after a change of HR "
            "system are the usual cause: review the changes, then approve or reject the run."
        )


def upload_read(*, run: SyncRun, connector: Connector, progress: ReadProgress) -> UploadRead:
    """Read the run's uploaded file through the connector (instead of
    fetching employees). A file refused as a whole has its problems saved on
    the file and raises ConnectorError, which fails the run: nothing changes."""
    inbound_file = InboundFile.objects.get(pk=run.inbound_file_id)
    if inbound_file.kind == Kind.WEBHOOK:
        batch = list(InboundFile.objects.filter(run_id=run.pk, kind=Kind.WEBHOOK).order_by("received_at", "pk"))
        batch = batch or [inbound_file]
        reads, named = webhook_read(inbound_files=batch, connector=connector, progress=progress)
        if len(batch) > 1:
            # Each delivery's results are those of the records it named.
            for delivery in batch:
                delivery.counts = {**delivery.counts, "named": sorted(set(named.get(delivery.pk, [])))}
                InboundFile.objects.filter(pk=delivery.pk).update(counts=delivery.counts)
        return UploadRead(
            inbound_file=inbound_file,
            reads=reads,
            deliveries=len(batch),
            # Each record named was re-read once: found, or gone.
            records_named=sum(len(read.records) + len(read.gone) for read in reads.values()),
        )
    if not isinstance(connector, Uploadable):
        raise ConnectorError(f"{connector.label} does not take uploaded files.", permanent=True)
    if not inbound_file.content:
        raise ConnectorError(
            f"The contents of {upload_title(inbound_file)} were removed after {RETENTION.days} days: upload it again."
        )
    is_positions = inbound_file.kind == Kind.POSITION
    reads = streams_read_upload(
        connector=connector,
        records=_file_records(connector, inbound_file),
        full_snapshot=not is_positions and connector.full_snapshot,
        progress=progress,
    )
    if is_positions:
        positions = reads[EMPLOYEES.name].records
        ids = [str(record.raw["position_id"]) for record in positions if record.raw.get("position_id")]
        inbound_file.counts = {**inbound_file.counts, "position_ids": ids}
        InboundFile.objects.filter(pk=inbound_file.pk).update(counts=inbound_file.counts)
    return UploadRead(inbound_file=inbound_file, reads=reads)


def _file_records(connector: Uploadable, inbound_file: InboundFile) -> Iterator[RemoteEmployee]:
    try:
        yield from connector.parse_upload(inbound_file)
    except Exception as exc:
        # The parser's refusal of the whole file carries its problems, each
        # with its line; anything else fails the run as any read does.
        problems = getattr(exc, "problems", None)
        if problems is None:
            raise
        results = [
            {
                "line": getattr(problem, "line", None),
                "employee_id": getattr(problem, "employee_id", "") or "",
                "message": getattr(problem, "message", "") or str(problem),
            }
            for problem in list(problems)[:MAX_RESULTS]
        ]
        InboundFile.objects.filter(pk=inbound_file.pk).update(results=results)
        message = getattr(exc, "message", "") or str(exc)
        # The run's error adds that nothing was changed.
        raise ConnectorError(f"{upload_title(inbound_file)}: {message}") from exc


def _position_records(
    positions: Iterable[RemoteEmployee], *, state: DirectoryState, connection_name: str
) -> list[RemoteEmployee]:
    """The planner's records of a position file: one per holder, named as
    their mapping last saw them (so the mapping's snapshot stays as the
    employee file left it), carrying only a title and a manager. A holder
    this connection does not have is an error row."""
    records = []
    for position in positions:
        if not position.remote_id:
            continue  # vacant: counted for the safeguard only
        mapping = state.mappings.get(position.remote_id)
        where = f"holds position {position.raw.get('position_id', '')}".rstrip()
        problems = list(position.problems)
        if mapping is None:
            problems.append(
                f"Employee {position.remote_id} {where} but is not in {connection_name}: "
                "upload an employee file that lists them first."
            )
        elif mapping.state == EmployeeMapping.State.CONFLICT:
            problems.append(
                f"Employee {position.remote_id} {where} but waits to be resolved on the Employees tab."
            )
        elif mapping.state == EmployeeMapping.State.LINKED and (
            mapping.missing_since_run_id is not None or mapping.person_id not in state.people
        ):
            problems.append(
                f"Employee {position.remote_id} {where} but is not in the latest employee file."
            )
        records.append(
            RemoteEmployee(
                remote_id=position.remote_id,
                first_name=mapping.remote_name if mapping else "",
                email=mapping.remote_email if mapping else "",
                status=mapping.remote_status if mapping else "",
                job_title=position.job_title,
                manager_remote_id=position.manager_remote_id,
                problems=problems,
                source_position=position.source_position,
                raw=position.raw,
            )
        )
    return records


# -- the command line's words ---------------------------------------------------------


def inbound_file_summary(*, inbound_file: InboundFile) -> dict[str, Any]:
    """``{"upload_id", "connection", "kind", "status", "dry_run", "original_name",
    "size", "sha256", "received_at", "received_from", "finished_at", "run",
    "counts", "results", "error", "purged"}``; datetimes as ISO 8601."""
    counts = {
        key: value for key, value in (inbound_file.counts or {}).items() if key not in ("position_ids", "named")
    }
    return {
        "upload_id": inbound_file.pk,
        "connection": inbound_file.connection.name,
        "kind": inbound_file.kind,
        "status": inbound_file.status,
        "dry_run": inbound_file.dry_run,
        "original_name": inbound_file.original_name,
        "size": inbound_file.size,
        "sha256": inbound_file.sha256,
        "received_at": inbound_file.received_at.isoformat() if inbound_file.received_at else None,
        "received_from": inbound_file.received_from,
        "finished_at": inbound_file.finished_at.isoformat() if inbound_file.finished_at else None,
        "run": inbound_file.run_id,
        "counts": counts,
        "results": list(inbound_file.results or []),
        "error": inbound_file.error,
        "purged": inbound_file.purged_at is not None,
    }
