"""A person's absences: the person page's section, Add absence, Remove."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from connections.sync.absences import absence_period
from hrsync.access import StaffRequiredMixin
from hrsync.people.absences import (
    AbsenceNotRemovable,
    absence_create,
    absence_list,
    absence_pull_connection,
    absence_push_connection,
    absence_remove,
    absence_where,
)
from hrsync.people.forms import AbsenceForm
from hrsync.people.models import Absence, Person

#: How many absences each part of the person page lists, and how far back "recent" goes.
UPCOMING_SHOWN = 20
RECENT_SHOWN = 10
RECENT_DAYS = 90
#: How many type names Add absence offers.
TYPE_NAMES_OFFERED = 50


@dataclass(frozen=True, slots=True)
class AbsenceRow:
    """One absence as pages show it."""

    absence: Absence
    period: str
    half_days: str
    where: str
    #: Recorded in hrsync and not being removed: the page offers Remove.
    removable: bool
    #: The status badge's colour.
    badge: str


def absence_rows(absences: Any, *, named: bool = True) -> list[AbsenceRow]:
    """``named=False``: the sending words leave out the connection's name
    (``absence_where``)."""
    return [
        AbsenceRow(
            absence=absence,
            period=absence_period(absence.start_date, absence.end_date),
            half_days=_half_days(absence),
            where=absence_where(absence, named=named),
            removable=absence.connection_id is None and absence.removed_at is None,
            badge=_BADGES.get(absence.status, "neutral"),
        )
        for absence in absences
    ]


_BADGES = {Absence.Status.APPROVED: "ok", Absence.Status.PENDING: "warn", Absence.Status.REJECTED: "rejected"}


def _half_days(absence: Absence) -> str:
    if absence.half_day_start and absence.half_day_end:
        return "Half days at the start and the end"
    if absence.half_day_start:
        return "Half day at the start"
    if absence.half_day_end:
        return "Half day at the end"
    return ""


def person_absence_sections(*, person: Person, today: dt.date | None = None) -> dict[str, list[AbsenceRow]]:
    """The person page's absences: those not over yet (soonest first) and
    those that ended in the last ``RECENT_DAYS`` days (latest first)."""
    today = today or timezone.localdate()
    absences = absence_list(person=person)
    upcoming = absences.filter(end_date__gte=today).order_by("start_date", "id")[:UPCOMING_SHOWN]
    recent = absences.filter(end_date__lt=today, end_date__gte=today - dt.timedelta(days=RECENT_DAYS))
    return {
        "absences_upcoming": absence_rows(upcoming),
        "absences_recent": absence_rows(recent.order_by("-end_date", "-id")[:RECENT_SHOWN]),
    }


def _type_names() -> list[str]:
    names = Absence.objects.order_by("type_name").values_list("type_name", flat=True).distinct()
    return list(names[:TYPE_NAMES_OFFERED])


class PersonAbsenceCreateView(StaffRequiredMixin, View):
    """Add absence: a page of its own, so it works without JavaScript."""

    template_name = "people/absence_new.html"

    def page(self, request: HttpRequest, person: Person, form: AbsenceForm) -> HttpResponse:
        push_connection = absence_push_connection(person=person)
        # Where their absences come from instead, the form says one added
        # here stays here: the sync copies from that system, never to it.
        pull_connection = None if push_connection else absence_pull_connection(person=person)
        return render(
            request,
            self.template_name,
            {"person": person, "form": form, "push_connection": push_connection, "pull_connection": pull_connection},
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        person = get_object_or_404(Person, pk=pk)
        return self.page(request, person, AbsenceForm(type_names=_type_names()))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        person = get_object_or_404(Person, pk=pk)
        form = AbsenceForm(request.POST, type_names=_type_names())
        if form.is_valid():
            try:
                absence = absence_create(person=person, user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                sent = f" It is sent to {absence.push_connection.name} now." if absence.push_connection else ""
                messages.success(
                    request, f"Added {absence.type_name}, {absence_period(absence.start_date, absence.end_date)}.{sent}"
                )
                return redirect("people:detail", pk=person.pk)
        return self.page(request, person, form)


class PersonAbsenceRemoveView(StaffRequiredMixin, View):
    """GET asks to confirm; POST removes (an absence recorded in hrsync)."""

    template_name = "people/absence_remove.html"

    def get_absence(self, pk: int, absence_id: int) -> Absence:
        absences = absence_list(person=get_object_or_404(Person, pk=pk))
        return get_object_or_404(absences, pk=absence_id, connection__isnull=True, removed_at__isnull=True)

    def get(self, request: HttpRequest, pk: int, absence_id: int) -> HttpResponse:
        absence = self.get_absence(pk, absence_id)
        [row] = absence_rows([absence])
        return render(request, self.template_name, {"person": absence.person, "row": row})

    def post(self, request: HttpRequest, pk: int, absence_id: int) -> HttpResponse:
        absence = self.get_absence(pk, absence_id)
        what = f"{absence.type_name}, {absence_period(absence.start_date, absence.end_date)}"
        try:
            gone = absence_remove(absence=absence, user=request.user)
        except AbsenceNotRemovable as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if gone:
                messages.success(request, f"Removed {what}.")
            else:
                messages.success(
                    request, f"{what} is removed from {absence.push_connection.name} now; it goes from here once it is."
                )
        return redirect("people:detail", pk=pk)
