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
