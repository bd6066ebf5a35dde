"""Connections and sync runs: the operations the UI, CLI and tasks call.

Every function here is keyword-only and named ``<noun>_<verb>``. Views,
commands and Celery tasks stay thin and call these.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import kombu.exceptions
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import get_connection, send_mail
from django.db import DatabaseError, IntegrityError, close_old_connections, transaction
from django.db import connections as databases
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import Truncator

from connections.models import Connection, SyncRun
from connections.sync import (
    PlanSettings,
    SyncPlan,
    apply_plan,
    directory_fingerprint,
    directory_state_load,
    plan,
)
from connections.sync.bulk import blob_save
from connectors.base import Check, Connector, ConnectorError
from connectors.registry import connector_class, validate_kind
from hrsync.people.models import Person

logger = logging.getLogger(__name__)

Status = SyncRun.Status
T = TypeVar("T")

#: Options of a connection that ``connection_update`` accepts besides the
#: connector's own fields.
CONNECTION_OPTIONS = ("background_sync", "credential_notifications", "safeguard_percent", "safeguard_min", "enabled")


#: Background syncs more often than this would hammer the vendor's API.
MIN_SYNC_INTERVAL_HOURS = 0.25


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


# -- connections -------------------------------------------------------------


def connector_for(*, connection: Connection) -> Connector:
    cls = connector_class(connection.kind)
    return cls(config=connection.config, secrets=connection.secrets, field_map=connection.field_map)


def _parse_bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValidationError(f"'{_quoted(value)}' is not yes/no (use true or false).")


def _quoted(value: str) -> str:
    """A value the admin typed, short enough to repeat in a message."""
    return Truncator(str(value)).chars(40)


#: The longest status a status map keeps, as the HR system spells it.
MAX_VENDOR_STATUS_LENGTH = 100
#: The longest vendor attribute name a field map keeps.
MAX_VENDOR_ATTRIBUTE_LENGTH = 100
#: A vendor attribute: a name, or the dotted path of a nested one (contact.email).
_VENDOR_ATTRIBUTE = re.compile(r"[\w-]+(?:\.[\w-]+)*")


def vendor_status_clean(*, status: str) -> str:
    """A status map's key: the status as the HR system spells it, trimmed.
    The settings page and ``--set`` share this rule. Raises ValidationError."""
    status = str(status).strip()
    if not status:
        raise ValidationError("Enter the status as the HR system spells it.")
    if not status.isprintable():
        raise ValidationError("A status cannot contain line breaks, tabs or other invisible characters.")
    if len(status) > MAX_VENDOR_STATUS_LENGTH:
        raise ValidationError(f"A status in the HR system is at most {MAX_VENDOR_STATUS_LENGTH} characters.")
    return status


def field_map_entry_clean(*, connector: type[Connector], field: str, attribute: str) -> tuple[str, str]:
    """A field map's entry, trimmed: a field the connector reads by name
    (``Connector.field_map_fields``) → the vendor's attribute name for it.
    Raises ValidationError."""
    field, attribute = str(field).strip(), str(attribute).strip()
    if not connector.field_map_fields:
        raise ValidationError(f"{connector.label} does not read a field map.")
    if field not in connector.field_map_fields:
        known = ", ".join(sorted(connector.field_map_fields))
        raise ValidationError(f"'{_quoted(field)}' is not a field {connector.label} can map. Use one of: {known}.")
    if len(attribute) > MAX_VENDOR_ATTRIBUTE_LENGTH:
        raise ValidationError(f"The vendor attribute name is at most {MAX_VENDOR_ATTRIBUTE_LENGTH} characters.")
    if not _VENDOR_ATTRIBUTE.fullmatch(attribute):
        raise ValidationError(
            "A vendor attribute name has only letters, digits, _ and -, with a dot between the "
            "parts of a nested name (such as contact.email)."
        )
    return field, attribute


def connection_apply_values(*, connection: Connection, values: Mapping[str, str]) -> None:
    """Validate KEY=VALUE settings and set them on ``connection`` (unsaved).

    Keys are the connector form's fields (secret ones are stored encrypted),
    the connection options, ``status_map.<Vendor status>`` and
    ``field_map.<person field>``. A blank secret keeps the stored one.
    """
    cls = connector_class(connection.kind)
    values = dict(values)
    for key in [k for k in values if k.startswith("status_map.")]:
        person_status = values.pop(key)
        try:
            vendor_status = vendor_status_clean(status=key.removeprefix("status_map."))
        except ValidationError as exc:
            raise ValidationError(f"status_map.<status>: {' '.join(exc.messages)}") from None
        if person_status not in Person.Status.values:
            choices = ", ".join(Person.Status.values)
            raise ValidationError(f"'{_quoted(person_status)}' is not a person status. Use one of: {choices}.")
        connection.status_map = {**connection.status_map, vendor_status: person_status}
    for key in [k for k in values if k.startswith("field_map.")]:
        field_name, remote_name = key.removeprefix("field_map."), values.pop(key).strip()
        field_map = {**connection.field_map}
        if remote_name:
            try:
                field_name, remote_name = field_map_entry_clean(
                    connector=cls, field=field_name, attribute=remote_name
                )
            except ValidationError as exc:
                raise ValidationError(f"field_map.<field>: {' '.join(exc.messages)}") from None
            field_map[field_name] = remote_name
        else:
            # No rule for a removal: it also clears an entry saved before the rules.
            field_map.pop(field_name.strip(), None)
        connection.field_map = field_map
    for option in CONNECTION_OPTIONS:
        if option in values:
            raw = values.pop(option)
            if option.startswith("safeguard_"):
                try:
                    setattr(connection, option, int(raw))
                except ValueError as exc:
                    raise ValidationError(f"{option} must be a whole number.") from exc
            else:
                setattr(connection, option, _parse_bool(raw))
    if "sync_interval_hours" in values:
        raw = values.pop("sync_interval_hours")
        try:
            hours = float(raw)
        except ValueError:
            hours = 0
        if not MIN_SYNC_INTERVAL_HOURS <= hours <= 24 * 7:
            raise ValidationError(
                f"sync_interval_hours must be a number of hours from {MIN_SYNC_INTERVAL_HOURS} to 168, "
                f"not '{_quoted(raw)}'."
            )
        connection.sync_interval = dt.timedelta(hours=hours)

    form_fields = cls.config_form.base_fields
    unknown = sorted(set(values) - set(form_fields))
    if unknown:
        known = ", ".join([*form_fields, *CONNECTION_OPTIONS, "status_map.<status>", "field_map.<field>"])
        raise ValidationError(f"Unknown setting(s) {', '.join(unknown)}. Known: {known}.")
    current = {**connection.config}
    data = {
        name: current.get(name, "" if field.initial is None else field.initial)
        for name, field in form_fields.items()
        if name not in cls.secret_fields
    }
    data.update({k: v for k, v in values.items()})
    for name in cls.secret_fields:
        # Blank means "keep the stored secret": it is never shown, so it can't be re-typed.
        if not data.get(name):
            data[name] = connection.secrets.get(name, "")
    form = cls.config_form(data=data)
    if not form.is_valid():
        errors = "; ".join(
            f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
            for name, messages in form.errors.items()
        )
        raise ValidationError(errors)
    cleaned = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    connection.config = {k: v for k, v in cleaned.items() if k not in cls.secret_fields}
    connection.secrets = {k: v for k, v in cleaned.items() if k in cls.secret_fields}
    connection.full_clean(exclude=["secrets"])


def connection_create(*, kind: str, name: str, values: Mapping[str, str] | None = None) -> Connection:
    validate_kind(kind)
    connection = Connection(kind=kind, name=name.strip())
    connection.full_clean(exclude=["secrets", "config"])
    connection.status_map = dict(connector_class(kind).default_status_map)
    connection_apply_values(connection=connection, values=values or {})
    connection.save()
    return connection


def connection_update(*, connection: Connection, values: Mapping[str, str]) -> Connection:
    connection_apply_values(connection=connection, values=values)
    if connection.background_sync and connection.next_sync_at is None:
        connection.next_sync_at = timezone.now()
    connection.save()
    return connection


def connection_record_health(*, connection: Connection, ok: bool, message: str) -> None:
    # A queryset update: health is not part of what a plan depends on, so it
    # must not touch updated_at (the directory fingerprint reads it).
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(
        last_check_ok=ok, last_check_message=message, last_check_at=now
    )
    connection.last_check_ok, connection.last_check_message, connection.last_check_at = ok, message, now


def connection_check(*, connection: Connection) -> Check:
    """"Test connection": ask the connector, record the health on the row."""
    try:
        check = connector_for(connection=connection).check()
    except ConnectorError as exc:
        check = Check(ok=False, message=exc.message)
    except Exception:
        logger.exception("Connection check crashed for connection %s", connection.pk)
        check = Check(ok=False, message="The check failed unexpectedly; see the server log.")
    connection_record_health(connection=connection, ok=check.ok, message=check.message)
    return check


class HostKeyNotPinned(Exception):
    """Pinning was refused; the message says why and what to do."""


def connection_pin_host_key(*, connection: Connection, fingerprint_shown: str) -> str:
    """Pin the server key the admin was shown, and only that one.

    The key is fetched again and pinned only when its fingerprint is the one
    the admin compared: a server that offers another key between Test and Pin
    is refused, never trusted silently. Returns the pinned fingerprint.
    """
    try:
        offer = connector_for(connection=connection).host_key_fetch()
    except ConnectorError as exc:
        raise HostKeyNotPinned(f"Nothing was pinned: {exc.message}") from exc
    if offer is None:
        raise HostKeyNotPinned("Nothing was pinned: this connection has no host key to pin.")
    shown = fingerprint_shown.strip()
    if not shown or offer.fingerprint != shown:
        raise HostKeyNotPinned(
            f"Nothing was pinned: the server now offers the key {offer.fingerprint}, not the "
            f"{shown or 'one'} you were shown. A key that changes like this can mean someone is "
            "in the way: check with the server's administrator, then Test connection again."
        )
    try:
        with transaction.atomic():
            connection_update(connection=connection, values={offer.setting: offer.pin})
    except ValidationError as exc:
        raise HostKeyNotPinned(f"Nothing was pinned: {' '.join(exc.messages)}") from exc
    return f"{offer.key_type} key {offer.fingerprint}"


def connection_find(*, id_or_name: str) -> Connection:
    """A connection by id or, failing that, by name (an id always wins)."""
    if str(id_or_name).isdigit():
        by_id = Connection.objects.filter(pk=int(id_or_name)).first()
        if by_id is not None:
            return by_id
    by_name = Connection.objects.filter(name=id_or_name).first()
    if by_name is None:
        raise Connection.DoesNotExist(f"No connection with id or name '{id_or_name}'.")
    return by_name


# -- starting runs -------------------------------------------------------------


def sync_run_start(
    *,
    connection: Connection,
    scope: str = SyncRun.Scope.ALL,
    dry_run: bool = False,
    trigger: str = SyncRun.Trigger.MANUAL,
    user=None,
    applied_from: SyncRun | None = None,
    enqueue: bool = True,
) -> SyncRun:
    """Create a queued run and (after commit) hand it to a worker.

    The database refuses a second queued/running run for one connection, so
    two clicks, the scheduler and the CLI cannot race each other.
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
                requested_by=user if getattr(user, "is_authenticated", False) else None,
                applied_from=applied_from,
            )
    except IntegrityError as exc:
        if SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES).exists():
            raise SyncAlreadyRunning(connection) from exc
        raise
    if enqueue:
        _enqueue(run)
    return run


def _runs_transition(*, runs: QuerySet[SyncRun], expected: str | tuple[str, ...], status: str, **fields: Any) -> int:
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
            _runs_transition(runs=SyncRun.objects.filter(pk=run.pk), expected=Status.QUEUED, **outcome)
            raise unreachable from exc

    transaction.on_commit(publish)


def sync_run_apply_dry_run(
    *, dry_run: SyncRun, user=None, trigger: str = SyncRun.Trigger.MANUAL, enqueue: bool = True
) -> SyncRun:
    if not dry_run.dry_run or dry_run.status not in (Status.SUCCEEDED, Status.COMPLETED_WITH_ERRORS):
        raise SyncRunStateError(f"Run #{dry_run.pk} is not a finished dry run, so it cannot be applied.")
    earlier = dry_run.applications.exclude(status__in=(Status.FAILED, Status.CANCELLED)).first()
    if earlier is not None:
        raise SyncRunStateError(f"Dry run #{dry_run.pk} was applied already, by run #{earlier.pk}.")
    return sync_run_start(
        connection=dry_run.connection,
        scope=dry_run.scope,
        dry_run=False,
        trigger=trigger,
        user=user,
        applied_from=dry_run,
        enqueue=enqueue,
    )


def sync_run_approve(*, run: SyncRun, user=None, enqueue: bool = True) -> SyncRun:
    """Apply exactly the changes of a run the safeguard blocked."""
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != Status.BLOCKED:
            raise SyncRunStateError(f"Run #{run.pk} is {locked.get_status_display().lower()}, not blocked.")
        try:
            with transaction.atomic():
                _runs_transition(
                    runs=SyncRun.objects.filter(pk=run.pk),
                    expected=Status.BLOCKED,
                    status=Status.QUEUED,
                    decided_by=user if getattr(user, "is_authenticated", False) else None,
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
    updated = _runs_transition(
        runs=SyncRun.objects.filter(pk=run.pk),
        expected=Status.BLOCKED,
        status=Status.CANCELLED,
        decided_by=user if getattr(user, "is_authenticated", False) else None,
        decided_at=timezone.now(),
        error="Rejected by an admin: nothing was changed.",
        finished_at=timezone.now(),
    )
    if not updated:
        raise SyncRunStateError(f"Run #{run.pk} is not blocked, so there is nothing to reject.")
    run.refresh_from_db()
    return run


# -- executing a run -------------------------------------------------------------


class _Progress:
    """Heartbeat and progress: at each stage, then every ``every`` records if
    ``min_interval`` seconds have passed since the last write (a file of
    100,000 rows is read in a second; 200 writes for it would be noise)."""

    min_interval = 0.5

    def __init__(self, run: SyncRun, every: int = 500) -> None:
        self.run, self.every, self.done = run, every, 0
        self.written_at = 0.0

    def stage(self, stage: str, *, total: int | None = None) -> None:
        self.done = 0
        self._write(progress_stage=stage, progress_done=0, progress_total=total)

    def count(self, items: Iterable[T]) -> Iterator[T]:
        for item in items:
            yield item
            self.done += 1
            if self.done % self.every == 0 and time.monotonic() - self.written_at >= self.min_interval:
                self._write(progress_done=self.done)
        self._write(progress_done=self.done)

    def _write(self, **fields: Any) -> None:
        self.written_at = time.monotonic()
        written = SyncRun.objects.filter(pk=self.run.pk, status=Status.RUNNING).update(
            heartbeat_at=timezone.now(), **fields
        )
        if not written:
            raise _RunNoLongerRunning


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
    claimed = _runs_transition(
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


def _plan_settings(connection: Connection, connector: Connector) -> PlanSettings:
    return PlanSettings(
        connection_id=connection.pk,
        connection_name=connection.name,
        status_map=connection.status_map,
        provides=connector.provides,
        full_snapshot=connector.full_snapshot,
    )


def _execute(run: SyncRun) -> None:
    connection = run.connection
    progress = _Progress(run)

    if run.decided_at and run.report:
        # An approved blocked run: apply exactly what the admin approved.
        approved = SyncPlan.from_report(run.report)
        if directory_fingerprint(connection_id=connection.pk) != approved.directory_hash:
            raise _StalePlan(
                "The directory changed after this run was blocked (people were edited or another "
                "sync ran), so the approved changes were not applied. Start a new sync to review "
                "the current changes."
            )
        _apply_and_finish(run, approved, progress)
        return

    connector = connector_for(connection=connection)
    scope = run.scope
    locations = employees = None
    wants_locations = scope in (SyncRun.Scope.LOCATIONS, SyncRun.Scope.ALL) and "locations" in connector.capabilities
    wants_employees = scope in (SyncRun.Scope.EMPLOYEES, SyncRun.Scope.ALL)
    if wants_locations and not (wants_employees and connector.locations_in_records):
        progress.stage(f"Reading locations from {connector.label}")
        locations = list(progress.count(connector.fetch_locations()))
    if wants_employees:
        progress.stage(f"Reading employees from {connector.label}")
        employees = list(progress.count(connector.fetch_employees()))
        if wants_locations and locations is None:
            locations = connector.locations_of(employees)
    connection_record_health(
        connection=connection, ok=True, message=f"Connected to {connector.label} at {connector.describe()}."
    )

    progress.stage("Planning")
    directory_hash = directory_fingerprint(connection_id=connection.pk)
    state = directory_state_load(connection_id=connection.pk)
    the_plan = plan(
        settings=_plan_settings(connection, connector),
        state=state,
        employees=employees,
        locations=locations,
    )
    the_plan.directory_hash = directory_hash
    # The plan holds all it needs: let the records go before applying it.
    del employees, locations

    source = (
        SyncRun.objects.only("id", "source_hash", "directory_hash").get(pk=run.applied_from_id)
        if run.applied_from_id
        else None
    )
    if source is not None:
        # The planner is deterministic: the same source and the same directory
        # give the same plan, so equal digests mean this is what was previewed.
        if (source.source_hash, source.directory_hash) == (the_plan.source_hash, directory_hash):
            the_plan.notes.append(f"Applied dry run #{source.pk} exactly as previewed.")
        else:
            the_plan.notes.append(
                f"The source or the directory changed since dry run #{source.pk}, so this run "
                "planned again; its changes are listed below."
            )

    if run.dry_run:
        _finish(run, status=_final_status(the_plan), plan=the_plan)
        return

    blocked = _safeguard_message(connection, the_plan)
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
    _apply_and_finish(run, the_plan, progress)


def _safeguard_message(connection: Connection, the_plan: SyncPlan) -> str:
    deactivating = len(the_plan.deactivations)
    if deactivating and not the_plan.records_usable:
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
    return Status.COMPLETED_WITH_ERRORS if the_plan.has_problems else Status.SUCCEEDED


def _locked_while_running(run: SyncRun) -> bool:
    """Lock the run's row (in the caller's transaction); is the run still running?

    The stale check passes over a locked run, so a run cannot be failed
    between this check and the end of the caller's transaction."""
    return SyncRun.objects.select_for_update().filter(pk=run.pk, status=Status.RUNNING).exists()


def _apply_and_finish(run: SyncRun, the_plan: SyncPlan, progress: _Progress) -> None:
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
        )
        _finish(run, status=_final_status(the_plan), plan=the_plan)
        if result.invite_person_ids:
            ids = list(result.invite_person_ids)
            transaction.on_commit(lambda: people_send_invitations(person_ids=ids))
    # Older blocked runs of this connection described a directory that no longer exists.
    _runs_transition(
        runs=SyncRun.objects.filter(connection=connection).exclude(pk=run.pk),
        expected=Status.BLOCKED,
        status=Status.CANCELLED,
        error=f"Superseded by run #{run.pk}: nothing from this run was applied.",
        finished_at=timezone.now(),
    )


def _finish(run: SyncRun, *, status: str, error: str = "", plan: SyncPlan | None = None) -> None:
    """Save the outcome of a run that is still running (one that something
    else has ended keeps the outcome it was given); with ``plan``, its
    report, digests and counts."""
    with transaction.atomic():
        if not _locked_while_running(run):
            logger.warning("Sync run %s was ended while it ran; its own outcome (%s) was not saved.", run.pk, status)
            return
        fields: dict[str, Any] = {"error": error, "finished_at": timezone.now()}
        if plan is not None:
            # Saved first and on its own: a report can be tens of MB (bulk.blob_save).
            blob_save(SyncRun, run.pk, "report", plan.report_compressed())
            fields["source_hash"] = plan.source_hash
            fields["directory_hash"] = plan.directory_hash
            fields["counts"] = plan.count()
        _runs_transition(
            runs=SyncRun.objects.filter(pk=run.pk),
            expected=Status.RUNNING,
            status=status,
            heartbeat_at=timezone.now(),
            **fields,
        )


# -- invitations -------------------------------------------------------------------


def people_send_invitations(*, person_ids: list[int]) -> int:
    """Email each person a link to set their password. Never a password."""
    sent = 0
    # One SMTP session for the whole batch, not one per person.
    mail_connection = get_connection()
    for person in Person.objects.filter(id__in=person_ids).select_related("user"):
        user = person.user
        if user is None or not person.email:
            continue
        path = reverse(
            "password_reset_confirm",
            kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)},
        )
        context = {"person": person, "link": f"{settings.HRSYNC_BASE_URL}{path}", "username": user.get_username()}
        try:
            send_mail(
                subject="Your hrsync login",
                message=render_to_string("people/invitation_email.txt", context),
                from_email=None,
                recipient_list=[person.email],
                connection=mail_connection,
            )
            sent += 1
        except OSError:
            logger.warning("Could not send the invitation email to person %s", person.pk, exc_info=True)
    return sent


# -- scheduling -------------------------------------------------------------------


def syncs_dispatch_due(*, now: dt.datetime | None = None) -> list[SyncRun]:
    """Enqueue a run for every connection whose background sync is due."""
    now = now or timezone.now()
    due = Connection.objects.filter(enabled=True, background_sync=True).filter(
        Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    )
    started = []
    for connection in due:
        # Set the next time first: a connection that is already running is
        # simply tried again at its next slot instead of every few minutes.
        Connection.objects.filter(pk=connection.pk).update(next_sync_at=now + connection.sync_interval)
        try:
            started.append(
                sync_run_start(connection=connection, scope=SyncRun.Scope.ALL, trigger=SyncRun.Trigger.SCHEDULE)
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
        stale_running = _runs_transition(
            runs=SyncRun.objects.filter(pk__in=list(stale.values_list("pk", flat=True))),
            expected=Status.RUNNING,
            status=Status.FAILED,
            finished_at=now,
            error="The worker running this sync stopped responding, so it was marked failed. "
            "A sync applies all or nothing, so nothing from it was applied; the next sync starts afresh.",
        )
    stale_queued = _runs_transition(
        runs=SyncRun.objects.filter(created_at__lt=now - dt.timedelta(seconds=settings.HRSYNC_QUEUED_TIMEOUT)),
        expected=Status.QUEUED,
        status=Status.FAILED,
        finished_at=now,
        error=f"No worker started this sync within {settings.HRSYNC_QUEUED_TIMEOUT // 60} minutes. "
        "Check that the hrsync worker is running.",
    )
    return stale_running + stale_queued
