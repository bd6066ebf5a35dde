"""The people directory: list, Add person, person page, protect toggle and the picker's search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import ListView

from connections.models import Connection
from connections.services import connection_custom_field_labels
from hrsync.access import StaffRequiredMixin
from hrsync.people import services
from hrsync.people.absence_views import person_absence_sections
from hrsync.people.forms import NO_DEPOT, PersonFilterForm, PersonForm
from hrsync.people.labels import CUSTOM_PREFIX, field_label
from hrsync.people.models import Depot, Person
from hrsync.people.training import training_record_list
from hrsync.search import search_text
from mappings.models import EmployeeMapping

def _without_connection_secrets(queryset: QuerySet, path: str) -> QuerySet:
    return queryset.defer(*(f"{path}__{name}" for name in Connection.NAME_ONLY_DEFERRED))


def search_people(queryset: QuerySet[Person], text: str) -> QuerySet[Person]:
    """Every word must match a name, the email or the employee reference."""
    for word in text.split():
        queryset = queryset.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(employee_reference__icontains=word)
        )
    return queryset


class PersonListView(StaffRequiredMixin, ListView):
    template_name = "people/list.html"
    context_object_name = "people"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Person]:
        self.filter_form = PersonFilterForm(self.request.GET or None)
        filters = self.filter_form.filters() if self.request.GET else {}
        queryset = _without_connection_secrets(
            Person.objects.select_related("depot", "managed_by"), "managed_by"
        )
        if text := filters.get("q"):
            queryset = search_people(queryset, text)
        if depot := filters.get("depot"):
            queryset = queryset.filter(depot__isnull=True) if depot == NO_DEPOT else queryset.filter(depot_id=depot)
        if status := filters.get("status"):
            queryset = queryset.filter(status=status)
        self.filtered = bool(filters)
        return queryset

    def paginate_queryset(self, queryset, page_size):
        # An out-of-range or junk ?page= shows the nearest page rather than a 404.
        paginator = Paginator(queryset, page_size)
        page = paginator.get_page(self.request.GET.get("page"))
        return paginator, page, page.object_list, page.has_other_pages()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(
            filter_form=self.filter_form, filtered=self.filtered, **kwargs
        )
        # An empty directory (nothing synced yet) needs other words than an
        # empty search; the extra query runs only when a search found no one.
        context["directory_empty"] = not context["people"] and (
            not self.filtered or not Person.objects.exists()
        )
        return context


class PersonSearchView(StaffRequiredMixin, View):
    """``?q=`` → up to 20 people as JSON, for link pickers."""

    MIN_LENGTH = 2
    LIMIT = 20

    def get(self, request: HttpRequest) -> JsonResponse:
        text = search_text(request.GET)
        if len(text) < self.MIN_LENGTH:
            return JsonResponse({"results": []})
        people = search_people(Person.objects.all(), text).only(
            "first_name", "last_name", "email", "status"
        )[: self.LIMIT]
        return JsonResponse(
            {
                "results": [
                    {"id": p.pk, "name": str(p), "email": p.email, "status": p.status}
                    for p in people
                ]
            }
        )


class PersonCreateView(StaffRequiredMixin, View):
    """Add a person by hand: no connection manages them."""

    template_name = "people/new.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": PersonForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PersonForm(request.POST)
        if form.is_valid():
            try:
                person = services.person_create(data=form.cleaned_data, user=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Added {person}.")
                return redirect("people:detail", pk=person.pk)
        return render(request, self.template_name, {"form": form})


class PersonDetailView(StaffRequiredMixin, View):
    template_name = "people/detail.html"

    def get_person(self, pk: int) -> Person:
        # managed_by is loaded whole: its connector decides which fields it owns.
        queryset = Person.objects.select_related("depot", "manager", "user", "managed_by")
        return get_object_or_404(queryset, pk=pk)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        person = self.get_person(pk)
        owned = services.person_owned_fields(person=person)
        form = PersonForm(instance=person, owned=owned)
        return self.page(request, person, owned, form)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        person = self.get_person(pk)
        owned = services.person_owned_fields(person=person)
        # Neither the form nor a refused save changes ``person``: the page
        # around a rejected edit still shows what is saved.
        form = PersonForm(request.POST, instance=person, owned=owned)
        if form.is_valid():
            try:
                services.person_update(person=person, data=form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Saved {person}.")
                return redirect("people:detail", pk=person.pk)
        return self.page(request, person, owned, form)

    def page(self, request: HttpRequest, person: Person, owned: frozenset[str], form: PersonForm) -> HttpResponse:
        connection = person.managed_by
        custom_labels = connection_custom_field_labels(connection=connection)
        synced = [
            (field_label(name), _display(person, name), name, _link(person, name))
            for name in services.EDITABLE_FIELDS
            if name in owned
        ]
        custom_fields = [
            (field_label(CUSTOM_PREFIX + key, custom_labels=custom_labels), value)
            for key, value in (person.custom_fields or {}).items()
        ]
        mappings = _without_connection_secrets(
            EmployeeMapping.objects.filter(person=person).select_related("connection"), "connection"
        ).order_by("connection__name", "remote_id")
        context = {
            "person": person,
            "connection": connection,
            "synced": synced,
            "form": form,
            "mappings": mappings,
            "custom_fields": custom_fields,
            # Set by a connection from the first and last working day; not edited here.
            "access_dates": [
                (field_label(name), getattr(person, name), name) for name in ("access_starts_on", "access_ends_on")
            ],
            "history": _history(
                services.person_run_changes(person=person),
                custom_labels=custom_labels,
                managed_by_id=person.managed_by_id,
            ),
            "history_runs": services.HISTORY_RUNS,
            **person_absence_sections(person=person),
            "training_records": list(training_record_list(person=person)),
        }
        return render(request, self.template_name, context)


def _display(person: Person, name: str) -> Any:
    if name == "status":
        return person.get_status_display()
    return getattr(person, name)


def _link(person: Person, name: str) -> str:
    """Where a related value leads: the manager's page, the depot's people."""
    if name == "manager" and person.manager_id:
        return reverse("people:detail", args=[person.manager_id])
    if name == "depot" and person.depot_id:
        return f"{reverse('people:list')}?depot={person.depot_id}"
    return ""


@dataclass(frozen=True, slots=True)
class _Diff:
    label: str
    old: Any
    new: Any
    #: Where the new value leads: a depot's people.
    link: str = ""


@dataclass(frozen=True, slots=True)
class _HistoryEntry:
    change: services.PersonRunChange
    diffs: list[_Diff]


def _history(
    changes: list[services.PersonRunChange], *, custom_labels: dict[str, str], managed_by_id: int | None
) -> list[_HistoryEntry]:
    """The changes in words. Reports name depots and managers (a report
    outlives ids); a depot's name is unique, so it still leads to its people.
    ``custom_labels`` are the managing connection's, for its own runs."""
    depot_names = {
        new for change in changes for key, (_old, new) in change.fields.items() if key == "depot" and new
    }
    depots = dict(Depot.objects.filter(name__in=depot_names).values_list("name", "pk")) if depot_names else {}
    people = reverse("people:list")
    entries = []
    for change in changes:
        labels = custom_labels if change.run.connection_id == managed_by_id else {}
        diffs = [
            _Diff(
                label=field_label(key, custom_labels=labels),
                old=old,
                new=new,
                link=f"{people}?depot={depots[new]}" if key == "depot" and new in depots else "",
            )
            for key, (old, new) in change.fields.items()
        ]
        entries.append(_HistoryEntry(change=change, diffs=diffs))
    return entries


class PersonProtectView(StaffRequiredMixin, View):
    """POST ``protected=1`` or ``protected=0``."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        person = get_object_or_404(Person, pk=pk)
        # The page posts 1 or 0; read as a form's tick box reads it.
        protected = forms.BooleanField(required=False).clean(request.POST.get("protected"))
        services.person_set_protected(person=person, protected=protected)
        if protected:
            messages.success(request, f"{person} is protected: a sync will never deactivate them.")
        else:
            messages.success(request, f"{person} is no longer protected.")
        return redirect("people:detail", pk=person.pk)
