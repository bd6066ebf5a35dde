"""Executing a sync run: read its streams, plan, safeguard, apply, finish.

``sync_run_execute`` is what the worker (and ``manage.py sync``) calls for a
queued run; ``connections.runs`` starts, approves and rejects runs around it.
A run reads each of its streams once (``connections.sync.streams``), plans
them purely, and either saves the plan as its report (a dry run, a run the
safeguard blocks) or applies it in one transaction. A failed run is saved on
its row with a sentence for the admin, never raised.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.db import connections as databases
from django.utils import timezone

from connections.models import Connection, SyncRun
from connections.reports import sync_run_plan_save, sync_run_report_plan
from connections.runs import sync_run_last_read, sync_runs_transition
from connections.services import connection_connector, connection_record_health
from connections.sync import (
    Action,
    PlanSettings,
    SyncPlan,
    apply_plan,
    directory_fingerprint,
    directory_state_load,
    plan,
)
from connections.sync.absences import absences_apply, absences_state_for_run
from connections.sync.inbound import UploadRead, inbound_run_ended, upload_read
from connections.sync.pushes import people_push_state_for_run, push_counts_by_stream, pushes_record, pushes_send
from connections.sync.streams import (
    ABSENCES,
    EMPLOYEES,
    TRAINING,
    StreamRead,
    scope_streams,
    streams_counted,
    streams_read,
    streams_records,
    streams_report,
)
from connections.sync.training import training_apply, training_state_for_run
from connectors.base import Connector, ConnectorError, DeltaReadable, Pushable
from hrsync.people.services import people_send_invitations

logger = logging.getLogger(__name__)

Status = SyncRun.Status
T = TypeVar("T")


class _Progress:
    """Heartbeat and progress: at each stage, then every ``every`` records if
    ``min_interval`` seconds have passed since the last write (a file of
    100,000 rows is read in a second; 200 writes for it would be noise)."""

    min_interval = 0.5

    def __init__(self, run: SyncRun, every: int = 500) -> None:
        self.run, self.every, self.done = run, every, 0
        self.written_at = 0.0
        self.stage_name = ""
        #: The wait the progress says now, if any: the next write says the stage again.
        self.waiting = ""

    def stage(self, stage: str, *, total: int | None = None) -> None:
        self.done = 0
        self.stage_name = stage
        self._write(progress_stage=stage, progress_done=0, progress_total=total)

    def wait(self, message: str) -> None:
        """``Connector.progress_wait``: what the connector waits for ("Waiting
        2 s: …"), said in place of the stage, counts kept, until the next
        progress write says the stage again."""
        if message == self.waiting and time.monotonic() - self.written_at < self.min_interval:
            return  # the same wait, said a moment ago
        self._write(progress_stage=message)
        self.waiting = message

    def count(self, items: Iterable[T]) -> Iterator[T]:
        for item in items:
            yield item
            self.done += 1
            if self.done % self.every == 0 and time.monotonic() - self.written_at >= self.min_interval:
                self._write(progress_done=self.done)
        self._write(progress_done=self.done)

    def _write(self, **fields: Any) -> None:
        self.written_at = time.monotonic()
        if self.waiting:
            self.waiting = ""
            fields.setdefault("progress_stage", self.stage_name)
        if len(fields.get("progress_stage") or "") > _STAGE_LENGTH:
            fields["progress_stage"] = fields["progress_stage"][: _STAGE_LENGTH - 1] + "…"
        written = SyncRun.objects.filter(pk=self.run.pk, status=Status.RUNNING).update(
            heartbeat_at=timezone.now(), **fields
        )
        if not written:
            raise _RunNoLongerRunning


_STAGE_LENGTH = SyncRun._meta.get_field("progress_stage").max_length


class _RunNoLongerRunning(Exception):
    """Something else ended the run (the stale check failed it): stop, change nothing."""


class _Heartbeat:
    """Keeps a running run's heartbeat fresh while the run waits on I/O.

    ``_Progress`` beats between records, but one slow request (a vendor's
    timeouts, a long ``Retry-After``) can outlast HRSYNC_STALE_AFTER, and the
    dispatcher would fail a run that is still alive. This thread beats every
    tenth of that on its own database connection, which it closes when the
    run ends, however it ends.
    """

    def __init__(self, *, run_id: int) -> None:
        self.run_id = run_id
        self.every = max(settings.HRSYNC_STALE_AFTER / 10, 0.1)
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._beat_until_stopped, name=f"sync-run-{run_id}-heartbeat", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _beat_until_stopped(self) -> None:
        try:
            while not self._stopped.wait(self.every):
                close_old_connections()  # a connection the database dropped is replaced
                try:
                    self._beat()
                except DatabaseError as exc:
                    logger.warning("Could not write the heartbeat of sync run %s (%s); trying again.", self.run_id, exc)
        finally:
            databases.close_all()

    def _beat(self) -> None:
        with transaction.atomic():
            # A locked row is the run applying its plan (alive, and soon
            # finished): skip the beat rather than wait for that transaction.
            running = SyncRun.objects.select_for_update(skip_locked=True).filter(
                pk=self.run_id, status=Status.RUNNING
            )
            if running.exists():
                SyncRun.objects.filter(pk=self.run_id).update(heartbeat_at=timezone.now())


def sync_run_execute(*, run_id: int) -> SyncRun:
    """Run a queued sync to its end. Never raises for a failed sync: the
    failure is saved on the run."""
    now = timezone.now()
    claimed = sync_runs_transition(
        runs=SyncRun.objects.filter(pk=run_id),
        expected=Status.QUEUED,
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
    )
    run = SyncRun.objects.select_related("connection").get(pk=run_id)
    if not claimed:
        logger.info("Sync run %s is %s; not running it again.", run_id, run.status)
        return run
    try:
        with _Heartbeat(run_id=run.pk), _gc_paused():
            _execute(run)
    except _RunNoLongerRunning:
        logger.warning("Sync run %s was ended while it ran (marked failed); nothing from it was applied.", run_id)
    except ConnectorError as exc:
        if exc.permanent:
            connection_record_health(connection=run.connection, ok=False, message=exc.message)
        # Said here, once, for every failed read: connector messages never say it.
        _finish(run, status=Status.FAILED, error=f"{exc.message} Nothing was changed.")
    except _StalePlan as exc:
        _finish(run, status=Status.FAILED, error=str(exc))
    except Exception:
        logger.exception("Sync run %s crashed", run_id)
        _finish(
            run,
            status=Status.FAILED,
            error="The sync stopped on an unexpected error and nothing was changed. "
            "The details are in the server log.",
        )
    # Whatever the outcome: its file (an upload run's) says it, and the
    # connection's next waiting file starts now.
    inbound_run_ended(run_id=run_id)
    # The report is loaded only if the caller reads it: it may be large.
    return SyncRun.objects.select_related("connection").defer("report").get(pk=run_id)


class _StalePlan(Exception):
    pass


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a run builds its plan.

    A sync of 100,000 people creates millions of small objects, and
    Python's collector kept walking them all: it took a third of the
    planner's time. Everything a run builds is freed by reference counting
    as soon as it is done with; the few reference cycles it makes (see
    ``planner._email_is_valid``) are collected once the collector is back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _plan_settings(
    connection: Connection, connector: Connector, reads: Mapping[str, StreamRead], *, today: dt.date | None = None
) -> PlanSettings:
    employees = reads.get(EMPLOYEES.name)
    return PlanSettings(
        today=today or timezone.localdate(),
        connection_id=connection.pk,
        connection_name=connection.name,
        status_map=connection.status_map,
        provides=connector.provides,
        # What this run read decides, not the connector: a partial read says nothing of who left.
        full_snapshot=employees is not None and employees.full_snapshot,
        include_new=connector.include_new_records,
        pushed=connector.push_fields if isinstance(connector, Pushable) else frozenset(),
        gone_remote_ids=employees.gone if employees is not None else frozenset(),
    )


def _execute(run: SyncRun) -> None:
    connection = run.connection
    progress = _Progress(run)

    if run.decided_at and run.report:
        # An approved blocked run: apply exactly what the admin approved.
        approved = sync_run_report_plan(run=run)
        if directory_fingerprint(connection_id=connection.pk) != approved.directory_hash:
            raise _StalePlan(
                "The directory changed after this run was blocked (people were edited or another "
                "sync ran), so the approved changes were not applied. Start a new sync to review "
                "the current changes."
            )
        _apply_and_finish(run, approved, progress)
        _send_pushes(run, approved)
        return

    connector = connection_connector(connection=connection)
    connector.progress_wait = progress.wait
    upload: UploadRead | None = None
    if run.inbound_file_id:
        # An upload run reads its file, not the source.
        upload = upload_read(run=run, connector=connector, progress=progress)
        reads, read_note = upload.reads, ""
    else:
        since, read_note = _delta_since(run, connector)
        reads = streams_read(
            connector=connector,
            streams=scope_streams(scope=run.scope, connector=connector),
            progress=progress,
            since=since,
        )
    connection_record_health(
        connection=connection, ok=True, message=f"Connected to {connector.label} at {connector.describe()}."
    )

    progress.stage("Planning")
    directory_hash = directory_fingerprint(connection_id=connection.pk)
    state = directory_state_load(connection_id=connection.pk)
    today = timezone.localdate()
    plan_settings, records = _plan_settings(connection, connector, reads, today=today), streams_records(reads=reads)
    if upload is not None:
        plan_settings, records = upload.plan_input(
            settings=plan_settings, state=state, records=records, connector=connector
        )
    the_plan = plan(
        settings=plan_settings,
        state=state,
        records=records,
        absences=absences_state_for_run(
            connection=connection, connector=connector, read=reads.get(ABSENCES.name), today=today
        ),
        training=training_state_for_run(
            connection=connection, connector=connector, read=reads.get(TRAINING.name), today=today
        ),
        people_push=people_push_state_for_run(connection=connection, connector=connector, reads=reads),
    )
    if upload is not None:
        upload.planned(the_plan)
    if read_note:
        the_plan.notes.append(read_note)
    the_plan.directory_hash = directory_hash
    the_plan.streams = streams_report(reads=reads)
    # The plan holds all it needs: let the records go before applying it.
    del reads

    source = (
        SyncRun.objects.only("id", "dry_run", "source_hash", "directory_hash").get(pk=run.applied_from_id)
        if run.applied_from_id
        else None
    )
    if source is not None:
        # The planner is deterministic: the same source and the same directory
        # give the same plan, so equal digests mean this is what was previewed.
        if (source.source_hash, source.directory_hash) == (the_plan.source_hash, directory_hash):
            the_plan.notes.append(f"{source.title} was applied exactly as previewed.")
        else:
            the_plan.notes.append(
                f"The source or the directory changed since {source.title}, so this run "
                "planned again; its changes are listed below."
            )

    if run.dry_run:
        _finish(run, status=_final_status(the_plan), plan=the_plan)
        return

    blocked = _safeguard_message(connection, the_plan) or (upload.safeguard_message(connection) if upload else "")
    if blocked and source is None:
        _finish(
            run,
            status=Status.BLOCKED,
            plan=the_plan,
            error=blocked,
        )
        return
    if blocked:
        # Applying a reviewed dry run is a decision already; say so but go on.
        the_plan.notes.append(blocked + " It was applied because an admin applied the dry run.")
    _apply_and_finish(run, the_plan, progress, today=today)
    _send_pushes(run, the_plan, connector)


def _send_pushes(run: SyncRun, the_plan: SyncPlan, connector: Connector | None = None) -> None:
    """After the commit: send the plan's pushes and record their outcomes
    (DESIGN §1). A push that is not sent stays due, so a failure here loses
    nothing: the next run plans it again."""
    if not any(item.outcome == "planned" for item in the_plan.pushes):
        return
    try:
        connector = connector or connection_connector(connection=run.connection)
        pushes_send(connection_id=run.connection_id, connector=connector, pushes=the_plan.pushes)
        pushes_record(run_id=run.pk, pushes=the_plan.pushes)
    except Exception:
        logger.exception("Sync run %s could not send its pushes; the next run sends them.", run.pk)


#: A delta reads from a little before the last successful read began: a
#: record changed while that read ran, or stamped by a source's clock a
#: little behind ours, is read twice (harmless) rather than missed.
DELTA_OVERLAP = dt.timedelta(minutes=10)


def _delta_since(run: SyncRun, connector: Connector) -> tuple[dt.datetime | None, str]:
    """For a delta run: the time its employees are read as changed since,
    saved as the run's ``read_since``. A run that cannot be a delta (the
    connector cannot list changes, or nothing was read before to start
    from) becomes a full read, and the second value says why for its notes."""
    if not run.delta:
        return None, ""
    if not isinstance(connector, DeltaReadable):
        note = (
            f"A delta was asked for, but {connector.label} cannot list only the records changed "
            "since a time, so this run read everything."
        )
    elif (last := sync_run_last_read(connection=run.connection)) is None:
        note = (
            f"A delta was asked for, but no earlier sync of {run.connection.name} read it successfully "
            "to start from, so this run read everything."
        )
    else:
        run.read_since = last.started_at - DELTA_OVERLAP
        SyncRun.objects.filter(pk=run.pk).update(read_since=run.read_since)
        return run.read_since, ""
    run.delta = False
    SyncRun.objects.filter(pk=run.pk).update(delta=False)
    return None, note


def _safeguard_message(connection: Connection, the_plan: SyncPlan) -> str:
    deactivating = len(the_plan.deactivations)
    # A partial read (a webhook's) lists only what it names: listing nobody
    # is no sign of a broken export, and whom it deactivates it names.
    full_read = the_plan.streams.get(EMPLOYEES.name, {}).get("full_snapshot", True)
    if deactivating and not the_plan.records_usable and full_read:
        # A source that suddenly lists nobody usable is almost always a broken
        # export or a failed query, not everyone leaving at once: however few
        # people that is, an admin decides.
        who = (
            f"all {deactivating} people"
            if deactivating == the_plan.mapped_count
            else f"{deactivating} of the {the_plan.mapped_count} people"
        )
        if the_plan.records_read:
            noun = "record" if the_plan.records_read == 1 else "records"
            returned = (
                f"returned {the_plan.records_read} {noun} but none of them is usable (each is an error row)"
            )
            check = "review the errors"
        else:
            returned, check = "returned no records", "check the source"
        return (
            f"{connection.name} {returned}, so this sync would deactivate {who} mapped to it. "
            f"Nothing was changed: {check}, and approve it only if everyone has really left."
        )
    limit = the_plan.mapped_count * connection.safeguard_percent / 100
    if deactivating <= connection.safeguard_min or deactivating <= limit:
        return ""
    return (
        f"This sync would deactivate {deactivating} of {the_plan.mapped_count} people "
        f"({deactivating * 100 // max(the_plan.mapped_count, 1)} %), more than the safeguard allows "
        f"({connection.safeguard_percent} %, at least {connection.safeguard_min}). Nothing was changed. "
        "Review the list, then approve or reject it."
    )


def _final_status(the_plan: SyncPlan) -> str:
    """Said by the worst of the records: an error, else a conflict (which
    waits on the Employees tab), else none."""
    actions = {change.action for change in the_plan.changes}
    if Action.ERROR in actions or the_plan.has_stream_errors:
        return Status.COMPLETED_WITH_ERRORS
    if Action.CONFLICT in actions:
        return Status.COMPLETED_WITH_CONFLICTS
    return Status.SUCCEEDED


def _locked_while_running(run: SyncRun) -> bool:
    """Lock the run's row (in the caller's transaction); is the run still running?

    The stale check passes over a locked run, so a run cannot be failed
    between this check and the end of the caller's transaction."""
    return SyncRun.objects.select_for_update().filter(pk=run.pk, status=Status.RUNNING).exists()


def _apply_and_finish(run: SyncRun, the_plan: SyncPlan, progress: _Progress, *, today: dt.date | None = None) -> None:
    connection = run.connection
    progress.stage("Applying", total=len(the_plan.changes) + len(the_plan.locations))
    with transaction.atomic():
        if not _locked_while_running(run):
            # Failed meanwhile: another run may already have started. Applying
            # now would overwrite what that one does.
            raise _RunNoLongerRunning
        result = apply_plan(
            plan=the_plan,
            connection_id=connection.pk,
            run_id=run.pk,
            credential_notifications=connection.credential_notifications,
            today=today,
        )
        if the_plan.absence_direction:
            absences_apply(
                changes=the_plan.absences,
                pushes=the_plan.pushes,
                connection_id=connection.pk,
                created_person_by_remote_id=result.created_person_by_remote_id,
            )
        if the_plan.training_planned:
            training_apply(
                changes=the_plan.training,
                connection_id=connection.pk,
                created_person_by_remote_id=result.created_person_by_remote_id,
            )
        _finish(
            run,
            status=_final_status(the_plan),
            plan=the_plan,
            created_person_by_remote_id=result.created_person_by_remote_id,
        )
        if result.invite_person_ids:
            ids = list(result.invite_person_ids)
            transaction.on_commit(lambda: people_send_invitations(person_ids=ids))
    # Older blocked runs of this connection described a directory that no longer exists.
    sync_runs_transition(
        runs=SyncRun.objects.filter(connection=connection).exclude(pk=run.pk),
        expected=Status.BLOCKED,
        status=Status.CANCELLED,
        error=f"Superseded: {run.title} ran after this run was blocked, so nothing from this run was applied.",
        finished_at=timezone.now(),
    )


def _finish(
    run: SyncRun,
    *,
    status: str,
    error: str = "",
    plan: SyncPlan | None = None,
    created_person_by_remote_id: Mapping[str, int] | None = None,
) -> None:
    """Save the outcome of a run that is still running (one that something
    else has ended keeps the outcome it was given); with ``plan``, its
    report, digests and counts."""
    with transaction.atomic():
        if not _locked_while_running(run):
            logger.warning("Sync run %s was ended while it ran; its own outcome (%s) was not saved.", run.pk, status)
            return
        fields: dict[str, Any] = {"error": error, "finished_at": timezone.now()}
        if plan is not None:
            counts = plan.count()
            pushes = push_counts_by_stream(
                plan.pushes, streams=[ABSENCES.name] if plan.absence_direction == "to_source" else []
            )
            plan.streams = streams_counted(report=plan.streams, counts=counts, pushes=pushes)
            # Written in bulk, streamed (connections.reports): a report can be tens of MB.
            sync_run_plan_save(
                run_id=run.pk, plan=plan, created_person_by_remote_id=created_person_by_remote_id
            )
            fields["source_hash"] = plan.source_hash
            fields["directory_hash"] = plan.directory_hash
            fields["counts"] = counts
        sync_runs_transition(
            runs=SyncRun.objects.filter(pk=run.pk),
            expected=Status.RUNNING,
            status=status,
            heartbeat_at=timezone.now(),
            **fields,
        )
