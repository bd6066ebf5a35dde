from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Depot(models.Model):
    name = models.CharField(max_length=200, unique=True)
    code = models.CharField(max_length=50, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        ON_LEAVE = "on_leave", "On leave"
        INACTIVE = "inactive", "Inactive"
        TERMINATED = "terminated", "Terminated"

    #: Statuses in which a person has left: their login is disabled.
    GONE_STATUSES = frozenset({Status.INACTIVE, Status.TERMINATED})

    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=50, blank=True)
    employee_reference = models.CharField(max_length=100, blank=True)
    mobile_phone = models.CharField(max_length=50, blank=True)
    work_phone = models.CharField(max_length=50, blank=True)
    home_phone = models.CharField(max_length=50, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    depot = models.ForeignKey(
        Depot, null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    hire_date = models.DateField(null=True, blank=True)
    termination_date = models.DateField(null=True, blank=True)
    #: The login works only from this day (the first working day, when the
    #: connection uses the hire date); until then the person is onboarding.
    access_starts_on = models.DateField("access from", null=True, blank=True)
    #: The login is locked from this day on (the day after the last working
    #: day, when the connection uses it): the person is then terminated.
    access_ends_on = models.DateField("access until", null=True, blank=True, help_text="Locked from this day on.")
    custom_fields = models.JSONField(default=dict, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
        help_text="The person's login, if they have one.",
    )
    managed_by = models.ForeignKey(
        "connections.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_people",
        help_text="The connection whose fields win; those fields are read-only here.",
    )
    is_protected = models.BooleanField(
        default=False, help_text="A sync never deactivates a protected person."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set explicitly by bulk writes too: the sync engine uses it to tell
    # whether the directory changed since a dry run.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="person_email_ci_unique",
                violation_error_message="Another person already has this email address.",
            )
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or f"Person {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Absence(models.Model):
    """A period a person is away (holiday, sickness), by type name.

    From a source (``connection`` set, ``remote_id`` its id there), or
    recorded in hrsync (``connection`` empty): then, when the person's
    connection sends absences to its HR system, ``push_connection`` is
    where it is sent and ``push_state`` how that went. A removal in hrsync
    of an absence already sent keeps the row, with ``removed_at``, until the
    source has removed it too.
    """

    class Status(models.TextChoices):
        APPROVED = "approved", "Approved"
        PENDING = "pending", "Pending"
        REJECTED = "rejected", "Rejected"

    class PushState(models.TextChoices):
        NOT_PUSHED = "", "Not sent"
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        REJECTED = "rejected", "Refused"
        FAILED = "failed", "Failed, tried again at the next sync"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="absences")
    connection = models.ForeignKey(
        "connections.Connection",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="absences",
        help_text="The source it came from; empty when recorded in hrsync.",
    )
    remote_id = models.CharField(max_length=200, blank=True)
    #: The source's id of the same absence in its newer API (Personio's id_v2).
    remote_id_v2 = models.CharField(max_length=200, blank=True)
    type_name = models.CharField("type", max_length=200)
    start_date = models.DateField("from")
    end_date = models.DateField("to")
    half_day_start = models.BooleanField("half day at the start", default=False)
    half_day_end = models.BooleanField("half day at the end", default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPROVED)
    comment = models.TextField(blank=True)
    push_connection = models.ForeignKey(
        "connections.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pushed_absences",
        help_text="The connection this absence recorded in hrsync is sent to.",
    )
    push_state = models.CharField(max_length=20, choices=PushState.choices, default=PushState.NOT_PUSHED, blank=True)
    push_error = models.TextField(blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-start_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "remote_id"],
                condition=models.Q(connection__isnull=False) & ~models.Q(remote_id=""),
                name="absence_unique_remote_id",
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="absence_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["person", "start_date"], name="absence_person_start")]

    def __str__(self) -> str:
        return f"{self.person} {self.type_name} {self.start_date}–{self.end_date}"


class TrainingRecord(models.Model):
    """A person's course booking or award, as a training system keeps it
    (the ``training`` stream of a connection whose connector has the
    ``TrainingReadable`` ability).

    A booking that waits for a decision (a course request) is approved or
    rejected in hrsync: the decision is sent to the source, and who made it
    and when is kept here, with the reason when the source refused it.
    """

    class Kind(models.TextChoices):
        BOOKING = "booking", "Course booking"
        AWARD = "award", "Award"

    class Decision(models.TextChoices):
        NONE = "", "Not decided"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="training_records")
    connection = models.ForeignKey(
        "connections.Connection", on_delete=models.CASCADE, related_name="training_records"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    remote_id = models.CharField(max_length=200)
    #: The course (and its date) or the award, as the source names it.
    label = models.CharField(max_length=300, blank=True)
    #: A course's first day, or an award's target date.
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    #: As the source spells it ("Provisional", "Booked", "Completed", "Target").
    status = models.CharField(max_length=100, blank=True)
    #: A course request waiting for a decision (the connector says which are).
    is_request = models.BooleanField(default=False, db_index=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.NONE, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    #: Why the last decision could not be sent (the request stays pending).
    decision_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-start_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "remote_id"], name="training_unique_remote_id"),
        ]
        indexes = [models.Index(fields=["person", "start_date"], name="training_person_start")]

    def __str__(self) -> str:
        return f"{self.person} {self.get_kind_display()} {self.label}"
