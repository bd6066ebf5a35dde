from __future__ import annotations

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from connectors.registry import kind_choices, validate_kind
from connections.fields import CompressedJSONField
from hrsync.crypto import EncryptedJSONField


class Connection(models.Model):
    """One HR system an organisation syncs its people directory from."""

    kind = models.CharField(max_length=50, choices=kind_choices, validators=[validate_kind])
    name = models.CharField(max_length=200, unique=True)
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
        COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
        BLOCKED = "blocked", "Blocked by safeguard"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    #: A connection has at most one run in these states (a database constraint).
    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    FINISHED_STATUSES = (
        Status.SUCCEEDED,
        Status.COMPLETED_WITH_ERRORS,
        Status.BLOCKED,
        Status.FAILED,
        Status.CANCELLED,
    )

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.ALL)
    dry_run = models.BooleanField(default=False)
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
        help_text="The plan: the changes with their field diffs, and fingerprints.",
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
        kind = "dry run" if self.dry_run else "sync"
        return f"{self.connection} {kind} #{self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def changes(self) -> list[dict]:
        return list(self.report.get("changes", []))
