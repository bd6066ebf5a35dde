from __future__ import annotations

import datetime as dt
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from connectors.registry import kind_choices, validate_kind
from connections.fields import CompressedJSONField
from hrsync.crypto import EncryptedJSONField


class Connection(models.Model):
    """One HR system an organisation syncs its people directory from."""

    #: Columns a page listing rows that name a connection never reads:
    #: loading ``secrets`` would decrypt credentials for every row just to
    #: print a name (``queryset.defer`` them through the relation).
    NAME_ONLY_DEFERRED = ("secrets", "config", "status_map", "field_map")

    kind = models.CharField(max_length=50, choices=kind_choices, validators=[validate_kind])
    name = models.CharField(max_length=200, unique=True)
    #: The connection's name in addresses other systems call (webhooks):
    #: unlike the primary key, it says nothing of how many connections exist.
    #: Every row has one (the migration gave existing rows theirs); nullable
    #: only so that rows written by older migrations' models can be saved.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, null=True, editable=False)
    config = models.JSONField(default=dict, blank=True, help_text="Connector settings (not secret).")
    secrets = EncryptedJSONField(blank=True, default=dict, editable=False)
    enabled = models.BooleanField(default=True)
    background_sync = models.BooleanField(
        default=False, help_text="Sync employees automatically every sync interval."
    )
    sync_interval = models.DurationField(default=dt.timedelta(hours=3))
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    credential_notifications = models.BooleanField(
        default=False,
        help_text="Create a login for each new person and email them a link to set a password.",
    )
    status_map = models.JSONField(
        default=dict, blank=True, help_text="Vendor status → person status."
    )
    field_map = models.JSONField(
        default=dict,
        blank=True,
        help_text="Person field → the vendor's attribute name, where it differs from the default.",
    )
    safeguard_percent = models.PositiveSmallIntegerField(
        default=20,
        validators=[MaxValueValidator(100)],
        help_text="Block a sync that would deactivate more than this share of the mapped people.",
    )
    safeguard_min = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(0)],
        help_text="…but never block for this many deactivations or fewer.",
    )
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_message = models.TextField(blank=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Connection {self.pk} {self.kind} {self.name!r}>"

    @property
    def kind_label(self) -> str:
        return dict(kind_choices()).get(self.kind, self.kind)


class SyncRun(models.Model):
    class Scope(models.TextChoices):
        EMPLOYEES = "employees", "Employees"
        LOCATIONS = "locations", "Locations"
        ABSENCES = "absences", "Absences"
        TRAINING = "training", "Training"
        ALL = "all", "All data"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULE = "schedule", "Schedule"
        UPLOAD = "upload", "Upload"
        WEBHOOK = "webhook", "Webhook"
        CLI = "cli", "Command line"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        #: Every record planned; the only problems were conflicts, waiting
        #: on the Employees tab (no record was an error).
        COMPLETED_WITH_CONFLICTS = "completed_with_conflicts", "Completed with conflicts"
        COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
        BLOCKED = "blocked", "Blocked by safeguard"
        FAILED = "failed", "Failed"
        #: Ended without being applied: superseded by a later run, for one.
        CANCELLED = "cancelled", "Cancelled"
        #: A blocked run an admin decided not to apply.
        REJECTED = "rejected", "Rejected"

    #: A connection has at most one run in these states (a database constraint).
    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    #: Runs that read their source and planned every record: applied, or a
    #: dry run's full preview, whatever their records' problems.
    COMPLETED_STATUSES = (Status.SUCCEEDED, Status.COMPLETED_WITH_CONFLICTS, Status.COMPLETED_WITH_ERRORS)
    FINISHED_STATUSES = (
        *COMPLETED_STATUSES,
        Status.BLOCKED,
        Status.FAILED,
        Status.CANCELLED,
        Status.REJECTED,
    )

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.ALL)
    dry_run = models.BooleanField(default=False)
    #: A delta run reads only the records changed since ``read_since``: it
    #: never deactivates anyone by their absence (DESIGN §5.6).
    delta = models.BooleanField(default=False)
    read_since = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(
        max_length=30, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    requested_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    progress_stage = models.CharField(max_length=100, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    report = CompressedJSONField(
        blank=True,
        help_text="The plan's head: fingerprints, streams, notes, locations. Its listed "
        "changes are SyncRunChangeChunk and SyncRunChange rows (connections.reports).",
    )
    #: Digests of what the plan was made from (also in the report, which is
    #: large): applying a dry run compares them without reading its report.
    source_hash = models.CharField(max_length=64, blank=True)
    directory_hash = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    applied_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="applications",
        help_text="The dry run this run applied.",
    )
    decided_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    #: The uploaded file or webhook body this run processed.
    inbound_file = models.ForeignKey(
        "InboundFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The one-run-per-connection guarantee: a second active run cannot
            # be inserted, whatever races between web, CLI and scheduler.
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_run_per_connection",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.title} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def title(self) -> str:
        """The run's one name, on every page, message and command line:
        "Dry run #3", "Sync #4". Its scope, where a page shows it, is
        ``get_scope_display`` beside it."""
        return f"{'Dry run' if self.dry_run else 'Sync'} #{self.pk}"

    @property
    def changes(self) -> list[dict]:
        """Every listed change of the report, read whole: for a script or a
        test. Pages read theirs through ``connections.reports``."""
        from connections.reports import sync_run_report_changes  # it imports this module

        return list(sync_run_report_changes(run_id=self.pk))


class SyncRunChangeChunk(models.Model):
    """Consecutive listed changes of a run's report (``connections.reports``),
    compressed together: a page of the report decompresses a chunk or two,
    never the whole report."""

    #: No index of its own: the (run, number) constraint's serves.
    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="change_chunks", db_index=False)
    number = models.PositiveIntegerField()
    changes = CompressedJSONField(help_text="Change dicts, in report order.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="one_chunk_number_per_run")]

    def __repr__(self) -> str:
        return f"<SyncRunChangeChunk run={self.run_id} #{self.number}>"


class SyncRunChange(models.Model):
    """One listed change of a run's report, as narrow as a search, a filter
    and a page need; the change itself is in chunk ``chunk`` of the run."""

    #: No index of its own (those below lead with the run) and no database
    #: constraint: checking one per row at commit cost a 100,000-person first
    #: import a second. Only ``connections.reports`` writes these rows, for the run it saves.
    run = models.ForeignKey(
        SyncRun, on_delete=models.CASCADE, related_name="change_index", db_index=False, db_constraint=False
    )
    seq = models.PositiveIntegerField(help_text="The change's place in the report, from 0.")
    action = models.CharField(max_length=20)
    action_seq = models.PositiveIntegerField(help_text="The change's place among those of its action, from 0.")
    has_warnings = models.BooleanField(default=False)
    #: Not a foreign key: a report outlives the people it names.
    person_id = models.BigIntegerField(null=True, blank=True)
    chunk = models.PositiveIntegerField()
    #: Lower-cased name, email and record id, for the report's search box.
    search = models.TextField(blank=True)

    class Meta:
        indexes = [
            # A page is a range of one of these, whatever page it is: no OFFSET
            # walking 100,000 rows to reach the last one.
            models.Index(fields=["run", "seq"], name="syncrunchange_run_seq"),
            models.Index(fields=["run", "action", "action_seq"], name="syncrunchange_run_action_seq"),
            models.Index(
                fields=["run", "seq"], condition=Q(has_warnings=True), name="syncrunchange_run_warned"
            ),
            models.Index(fields=["person_id"], name="syncrunchange_person"),
        ]

    def __repr__(self) -> str:
        return f"<SyncRunChange run={self.run_id} seq={self.seq} {self.action}>"


class InboundFile(models.Model):
    """Data another system sent hrsync (DESIGN §1, inbound): an uploaded file
    or a webhook's body, stored before it is processed, then processed by a
    run. Its bytes are purged after the retention period; the row stays."""

    class Kind(models.TextChoices):
        EMPLOYEE = "employee", "Employee file"
        POSITION = "position", "Position file"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        #: Received; waits for its turn (a run of the connection is active, or
        #: a file received before it waits too).
        SCHEDULED = "scheduled", "Scheduled"
        #: Handed to a worker.
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        #: The same bytes as the last file of its kind processed: nothing to do.
        SKIPPED = "skipped", "Skipped"
        #: Its run would remove more than the safeguard allows: an admin decides.
        BLOCKED = "blocked", "Blocked"
        #: Refused as a whole (malformed, fails the schema, hostile): nothing changed.
        ERROR = "error", "Error"
        COMPLETE = "complete", "Complete"
        COMPLETE_WITH_ERRORS = "complete_with_errors", "Complete with errors"
        #: Cancelled before it was processed, or its blocked run rejected.
        CANCELLED = "cancelled", "Cancelled"

    #: Files waiting for their turn or being processed.
    WAITING_STATUSES = (Status.SCHEDULED, Status.QUEUED)
    ACTIVE_STATUSES = (Status.SCHEDULED, Status.QUEUED, Status.PROCESSING)

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="inbound_files")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    content = models.FileField(upload_to="inbound/%Y/%m/%d/", blank=True, help_text="Empty once purged.")
    sha256 = models.CharField(max_length=64, db_index=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    original_name = models.CharField(max_length=255, blank=True)
    #: The HTTP method a webhook was delivered with (the source's method
    #: follows its event: a DELETE says the record was deleted); "" for files.
    method = models.CharField(max_length=10, blank=True)
    #: Who sent it, in words: "API (203.0.113.7)", "web upload", "command line".
    received_from = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dry_run = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    counts = models.JSONField(default=dict, blank=True)
    #: Per-line results: {"line", "employee_id", "message"} each.
    results = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["connection", "status", "received_at"], name="inbound_connection_status")]

    def __str__(self) -> str:
        return f"{self.connection} {self.get_kind_display()} #{self.pk} ({self.get_status_display()})"
