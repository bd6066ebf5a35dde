from __future__ import annotations

from django.db import models
from django.db.models.functions import Length


class EmployeeMapping(models.Model):
    """Which person a connection's remote record is, and what it last said."""

    class State(models.TextChoices):
        LINKED = "linked", "Linked"
        IGNORED = "ignored", "Ignored"
        CONFLICT = "conflict", "Conflict"
        #: Linked to nobody and claiming nobody else's person: the next sync
        #: links it by email or creates a person (an admin may do it first).
        UNMATCHED = "unmatched", "Unmatched"
        #: Left out by the connection's selection (selective sync): never
        #: created or changed, listed as skipped, until an admin includes it.
        EXCLUDED = "excluded", "Excluded"

    connection = models.ForeignKey(
        "connections.Connection", on_delete=models.CASCADE, related_name="employee_mappings"
    )
    remote_id = models.CharField(max_length=200)
    person = models.ForeignKey(
        "people.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="employee_mappings",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.LINKED)
    remote_name = models.CharField(max_length=300, blank=True)
    remote_email = models.CharField(max_length=254, blank=True)
    remote_status = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True, help_text="Why the record is in conflict.")
    #: While in conflict: the record's fields as the source last sent them
    #: (field key → value, keyed as the run report's fields), so the
    #: Employees tab can compare it with the records and the person it
    #: collides with. One dict per source record with this id: more than one
    #: only when the source repeats the id. Empty once the conflict is over.
    remote_records = models.JSONField(default=list, blank=True)
    #: What this connection last sent the source of the person's details
    #: (field → JSON value), so a push sends only what changed since; empty
    #: before the first push, when what the source holds is compared instead.
    # A database default too: the applier's bulk COPY names only the columns it writes.
    pushed_snapshot = models.JSONField(default=dict, db_default=models.Value({}, models.JSONField()), blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    #: The run that found this record gone from the source; empty while the
    #: source has it. Written only when that changes, so a sync of 100,000
    #: people that are all still there writes no mapping at all.
    missing_since_run = models.ForeignKey(
        "connections.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["connection", "remote_id"]
        indexes = [
            # The Employees tab's order (ids as numbers count: 2 before 10),
            # so a page of 100,000 records is read off the index, not sorted.
            models.Index(
                "connection", Length("remote_id"), "remote_id", "id", name="employee_mapping_id_order"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "remote_id"], name="employee_mapping_unique_remote_id"
            ),
            # A person is linked by one connection at most: two syncing at
            # once would otherwise both take them and then fight over them.
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(state="linked"),
                name="employee_mapping_one_link_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.remote_id} → {self.person or self.get_state_display()}"

    @property
    def included(self) -> bool:
        """Whether the connection's selection syncs this record (selective sync)."""
        return self.state != self.State.EXCLUDED


class DepotMapping(models.Model):
    """A remote location and the depot it stands for (none until mapped)."""

    connection = models.ForeignKey(
        "connections.Connection", on_delete=models.CASCADE, related_name="depot_mappings"
    )
    remote_location_id = models.CharField(max_length=200)
    remote_name = models.CharField(max_length=300, blank=True)
    depot = models.ForeignKey(
        "people.Depot", null=True, blank=True, on_delete=models.SET_NULL, related_name="mappings"
    )
    #: The sync mapped this location to the depot with the same name (no
    #: admin chose it); cleared when an admin picks a depot on the Depots tab.
    matched_by_name = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["connection", "remote_name", "remote_location_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "remote_location_id"],
                name="depot_mapping_unique_remote_location",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.remote_name or self.remote_location_id} → {self.depot or '—'}"
