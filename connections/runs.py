"""Sync runs: start, approve, reject, apply a dry run, dispatch, fail stale.

A run's life around its execution (``connections.sync.runner`` executes it).
Every status change of a run goes through ``sync_runs_transition``, so two
actors racing on one run (a worker, the stale check, an admin) never both win.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import kombu.exceptions
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from connections.models import Connection, SyncRun

logger = logging.getLogger(__name__)

Status = SyncRun.Status
#: An application of a dry run that ended in one of these applied nothing,
#: so the dry run can be applied again.
APPLIED_NOTHING_STATUSES = (Status.FAILED, Status.CANCELLED, Status.REJECTED)


class SyncAlreadyRunning(Exception):
    def __init__(self, connection: Connection) -> None:
        super().__init__(f"A sync is already running for {connection.name}.")


class ConnectionDisabled(Exception):
    def __init__(self, connection: Connection) -> None:
        super().__init__(f"{connection.name} is disabled: enable it before syncing.")


class SyncRunStateError(Exception):
    """The run is not in a state that allows the requested action."""


class TaskQueueUnreachable(Exception):
    """The task queue refused the run or did not answer: no worker will see it."""

    def __init__(self) -> None:
        super().__init__(
            "The task queue is unreachable, so this sync could not start; nothing was changed. "
            "Try again once the worker's queue (Redis) is back."
        )


def _signed_in(user):
    """The user to record as having asked or decided: None for the scheduler,
    the command line or an anonymous request."""
    return user if getattr(user, "is_authenticated", False) else None


def sync_run_start(
    *,
    connection: Connection,
    scope: str = SyncRun.Scope.ALL,
    dry_run: bool = False,
    trigger: str = SyncRun.Trigger.MANUAL,
    user=None,
    applied_from: SyncRun | None = None,
    enqueue: bool = True,
    delta: bool = False,
) -> SyncRun:
    """Create a queued run and (after commit) hand it to a worker.

    The database refuses a second queued/running run for one connection, so
    two clicks, the scheduler and the CLI cannot race each other.

    ``delta``: read only the employees changed since the last successful
    read (``sync_run_last_read``); the runner makes it a full read, and says
    why in its notes, when the connector cannot or nothing was read before.
    """
    if not connection.enabled:
        raise ConnectionDisabled(connection)
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                connection=connection,
                scope=scope,
                dry_run=dry_run,
                trigger=trigger,
                requested_by=_signed_in(user),
                applied_from=applied_from,
                delta=delta,
            )
    except IntegrityError as exc:
        if SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES).exists():
            raise SyncAlreadyRunning(connection) from exc
        raise
    if enqueue:
        _enqueue(run)
    return run


def sync_runs_transition(*, runs: QuerySet[SyncRun], expected: str | tuple[str, ...], status: str, **fields: Any) -> int:
    """Move ``runs`` to ``status``, only those still in the ``expected`` status.

    Every status change of a run goes through here, so a run that something
    else has moved on meanwhile (the stale check failed it, an admin rejected
    it) is left as it is. Returns how many runs moved.
    """
    allowed = (expected,) if isinstance(expected, str) else expected
    return runs.filter(status__in=allowed).update(status=status, **fields)


def _enqueue(run: SyncRun, *, if_unreachable: Mapping[str, Any] | None = None) -> None:
    """Hand the queued run to a worker once the caller's transaction commits.

    If the task queue cannot take it, the run must not stay queued (no worker
    would ever see it, and it would refuse every other sync of the
    connection): it is failed, or set as ``if_unreachable`` says, and
    ``TaskQueueUnreachable`` is raised, from here when there is no
    transaction, else from the commit of the caller's ``atomic`` block.
    """
    # Imported here, not at the top: the tasks module imports the services,
    # and a module-level import back would make the two a cycle.
    from connections.tasks import run_sync

    def publish() -> None:
        try:
            run_sync.delay(run.pk)
        except (kombu.exceptions.OperationalError, OSError) as exc:
            logger.warning("Sync run %s could not be handed to a worker: %s", run.pk, exc)
            unreachable = TaskQueueUnreachable()
            outcome = if_unreachable or {
                "status": Status.FAILED,
                "error": str(unreachable),
                "finished_at": timezone.now(),
            }
            sync_runs_transition(runs=SyncRun.objects.filter(pk=run.pk), expected=Status.QUEUED, **outcome)
            raise unreachable from exc

    transaction.on_commit(publish)


def sync_run_apply_dry_run(
    *, dry_run: SyncRun, user=None, trigger: str = SyncRun.Trigger.MANUAL, enqueue: bool = True
) -> SyncRun:
    if not dry_run.dry_run or dry_run.status not in SyncRun.COMPLETED_STATUSES:
        raise SyncRunStateError(f"{dry_run.title} is not a finished dry run, so it cannot be applied.")
    earlier = dry_run.applications.exclude(status__in=APPLIED_NOTHING_STATUSES).first()
    if earlier is not None:
        raise SyncRunStateError(f"{dry_run.title} was applied already, by {earlier.title}.")
    return sync_run_start(
        connection=dry_run.connection,
        scope=dry_run.scope,
        dry_run=False,
        trigger=trigger,
        user=user,
        applied_from=dry_run,
        enqueue=enqueue,
        # Read as the dry run read, so an unchanged source gives the previewed plan.
        delta=dry_run.delta,
    )


def sync_run_approve(*, run: SyncRun, user=None, enqueue: bool = True) -> SyncRun:
    """Apply exactly the changes of a run the safeguard blocked."""
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != Status.BLOCKED:
            raise SyncRunStateError(f"{locked.title} is {locked.get_status_display().lower()}, not blocked.")
        try:
            with transaction.atomic():
                sync_runs_transition(
                    runs=SyncRun.objects.filter(pk=run.pk),
                    expected=Status.BLOCKED,
                    status=Status.QUEUED,
                    decided_by=_signed_in(user),
                    decided_at=timezone.now(),
                    error="",
                )
        except IntegrityError as exc:
            raise SyncAlreadyRunning(run.connection) from exc
    run.refresh_from_db()
    if enqueue:
        # Still blocked if no worker can take it: approving again is the retry.
        _enqueue(
            run,
            if_unreachable={"status": Status.BLOCKED, "error": locked.error, "decided_by": None, "decided_at": None},
        )
    return run


def sync_run_reject(*, run: SyncRun, user=None) -> SyncRun:
    updated = sync_runs_transition(
        runs=SyncRun.objects.filter(pk=run.pk),
        expected=Status.BLOCKED,
        status=Status.REJECTED,
        decided_by=_signed_in(user),
        decided_at=timezone.now(),
        error="Rejected by an admin: nothing was changed.",
        finished_at=timezone.now(),
    )
    if not updated:
        raise SyncRunStateError(f"{run.title} is not blocked, so there is nothing to reject.")
    run.refresh_from_db()
    # Imported here: the inbound module imports this one. The rejected run's
    # upload is cancelled, and the connection's next waiting file starts.
    from connections.sync.inbound import inbound_files_dispatch

    connection_id = run.connection_id
    transaction.on_commit(lambda: inbound_files_dispatch(connection_id=connection_id))
    return run


# -- scheduling -------------------------------------------------------------------


#: The scopes whose runs read the employees, so that a delta can start from one.
_READS_EMPLOYEES = (SyncRun.Scope.ALL, SyncRun.Scope.EMPLOYEES)


def sync_run_last_read(
    *, connection: Connection, full: bool = False, since: dt.datetime | None = None
) -> SyncRun | None:
    """The latest real run of ``connection`` that read its employees and
    completed (``SyncRun.COMPLETED_STATUSES``), full or delta (only a full
    one with ``full``), started at or after ``since`` if given.

    A blocked run that an admin approved is left out: its ``started_at`` is
    when it was applied, not when it read the source.
    """
    runs = SyncRun.objects.filter(
        connection=connection,
        dry_run=False,
        status__in=SyncRun.COMPLETED_STATUSES,
        scope__in=_READS_EMPLOYEES,
        started_at__isnull=False,
        decided_at__isnull=True,
    )
    if full:
        runs = runs.filter(delta=False)
    if since is not None:
        runs = runs.filter(started_at__gte=since)
    return runs.order_by("-started_at", "-pk").only("id", "started_at", "delta").first()


def _full_sync_time(connection: Connection) -> dt.time | None:
    """The local time of the connection's daily full read, for a connector
    that reads changes in between (``DeltaReadable``); None: every
    scheduled run reads everything."""
    # Imported here: the services import the registry and every connector.
    from connections.services import connection_connector
    from connectors.base import DeltaReadable

    try:
        connector = connection_connector(connection=connection)
    except Exception:  # a connector that cannot be built fails its run, in words, there
        return None
    return connector.full_sync_time if isinstance(connector, DeltaReadable) else None


def _scheduled_read(connection: Connection, now: dt.datetime) -> tuple[bool, dt.datetime]:
    """Whether the connection's due run is a delta, and when it is next due.

    With a daily full read at ``full_sync_time``, the first pass at or after
    today's time that finds no successful full read since then reads
    everything (a failed one is tried again at the next pass); the passes
    in between read the changes. The next time is never later than the
    next full read's.
    """
    by_interval = now + connection.sync_interval
    full_time = _full_sync_time(connection)
    if full_time is None:
        return False, by_interval
    today = timezone.localtime(now).date()
    todays_full = timezone.make_aware(dt.datetime.combine(today, full_time))
    if now < todays_full:
        return True, min(by_interval, todays_full)
    tomorrows_full = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), full_time))
    done_today = sync_run_last_read(connection=connection, full=True, since=todays_full) is not None
    return done_today, min(by_interval, tomorrows_full)


def syncs_dispatch_due(*, now: dt.datetime | None = None) -> list[SyncRun]:
    """Enqueue a run for every connection whose background sync is due: a
    delta or a full read, as ``_scheduled_read`` decides."""
    now = now or timezone.now()
    due = Connection.objects.filter(enabled=True, background_sync=True).filter(
        Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    )
    started = []
    for connection in due:
        delta, next_at = _scheduled_read(connection, now)
        # Set the next time first: a connection that is already running is
        # simply tried again at its next slot instead of every few minutes.
        Connection.objects.filter(pk=connection.pk).update(next_sync_at=next_at)
        try:
            started.append(
                sync_run_start(
                    connection=connection, scope=SyncRun.Scope.ALL, trigger=SyncRun.Trigger.SCHEDULE, delta=delta
                )
            )
        except SyncAlreadyRunning:
            logger.info("Skipping the scheduled sync of %s: a sync is already running.", connection.name)
        except TaskQueueUnreachable:
            # Due again at the next pass; the rest wait for it too rather than
            # each failing the same way.
            Connection.objects.filter(pk=connection.pk).update(next_sync_at=now)
            logger.warning("The task queue is unreachable: the scheduled syncs wait for the next pass.")
            break
    return started


def sync_runs_fail_stale(*, now: dt.datetime | None = None) -> int:
    """Mark runs whose worker died as failed, so the connection can sync again."""
    now = now or timezone.now()
    with transaction.atomic():
        # A run whose row is locked is applying its plan right now, so it is alive.
        stale = SyncRun.objects.select_for_update(skip_locked=True).filter(
            status=Status.RUNNING, heartbeat_at__lt=now - dt.timedelta(seconds=settings.HRSYNC_STALE_AFTER)
        )
        stale_running = sync_runs_transition(
            runs=SyncRun.objects.filter(pk__in=list(stale.values_list("pk", flat=True))),
            expected=Status.RUNNING,
            status=Status.FAILED,
            finished_at=now,
            error="The worker running this sync stopped responding, so it was marked failed. "
            "A sync applies all or nothing, so nothing from it was applied; the next sync starts afresh.",
        )
    stale_queued = sync_runs_transition(
        runs=SyncRun.objects.filter(created_at__lt=now - dt.timedelta(seconds=settings.HRSYNC_QUEUED_TIMEOUT)),
        expected=Status.QUEUED,
        status=Status.FAILED,
        finished_at=now,
        error=f"No worker started this sync within {settings.HRSYNC_QUEUED_TIMEOUT // 60} minutes. "
        "Check that the hrsync worker is running.",
    )
    return stale_running + stale_queued
