"""The Employees and Depots tabs of a connection."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from connections.views.base import ConnectionTabMixin
from connections.views.checks import safe_next
from hrsync.people.models import Depot
from hrsync.search import search_text
from mappings import services
from mappings.forms import DepotMappingsForm, EmployeeMappingActionForm
from mappings.models import DepotMapping, EmployeeMapping

State = EmployeeMapping.State

#: slug → (label, condition). "Unmatched" means no person, whatever the state.
EMPLOYEE_FILTERS: dict[str, tuple[str, Q]] = {
    "all": ("All", Q()),
    "linked": ("Linked", Q(state=State.LINKED, person__isnull=False)),
    "conflicts": ("Conflicts", Q(state=State.CONFLICT)),
    "ignored": ("Ignored", Q(state=State.IGNORED)),
    "unmatched": ("Unmatched", Q(person__isnull=True)),
}

#: Columns the Employees tab shows; nothing else is read per row.
EMPLOYEE_COLUMNS = (
    "id",
    "remote_id",
    "remote_name",
    "remote_email",
    "remote_status",
    "state",
    "message",
    "missing_since_run_id",
    "updated_at",
    "person",
    "person__id",
    "person__first_name",
    "person__last_name",
    "person__email",
    "person__status",
)


class EmployeeMappingListView(ConnectionTabMixin, TemplateView):
    template_name = "mappings/employees.html"
    active_tab = "employees"
    paginate_by = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        q = search_text(self.request.GET)
        current = self.request.GET.get("filter", "all")
        if current not in EMPLOYEE_FILTERS:
            current = "all"
        mappings = EmployeeMapping.objects.filter(connection=self.connection)
        search = Q()
        # Every word must match somewhere, so "ada lovelace" finds Ada Lovelace.
        for term in q.split():
            search &= (
                Q(remote_id__icontains=term)
                | Q(remote_name__icontains=term)
                | Q(remote_email__icontains=term)
                | Q(person__first_name__icontains=term)
                | Q(person__last_name__icontains=term)
                | Q(person__email__icontains=term)
            )
        # One query for every filter's count (within the search) and the grand total.
        counts = mappings.aggregate(
            total=Count("id"),
            **{slug: Count("id", filter=search & condition) for slug, (_label, condition) in EMPLOYEE_FILTERS.items()},
        )
        mappings = mappings.filter(search)
        mappings = (
            mappings.filter(EMPLOYEE_FILTERS[current][1])
            .select_related("person")
            .only(*EMPLOYEE_COLUMNS)
            .order_by("remote_id", "id")
        )
        page = Paginator(mappings, self.paginate_by).get_page(self.request.GET.get("page"))
        filters = [
            (slug, label, counts[slug], slug == current) for slug, (label, _cond) in EMPLOYEE_FILTERS.items()
        ]
        return super().get_context_data(
            page=page,
            mappings=page.object_list,
            q=q,
            current_filter=current,
            filters=filters,
            total=counts["total"],
            **kwargs,
        )


class EmployeeMappingActionView(ConnectionTabMixin, View):
    """POST one action on one record, then back to the list as it was."""

    http_method_names = ["post"]
    confirm_template = "mappings/employee_confirm.html"

    def post(self, request: HttpRequest, pk: int, mapping_id: int) -> HttpResponse:
        mapping = get_object_or_404(
            EmployeeMapping.objects.select_related("person"), pk=mapping_id, connection=self.connection
        )
        back = self._back_url()
        form = EmployeeMappingActionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, f"Record {mapping.remote_id}: {error}")
            return redirect(back)
        action = form.cleaned_data["action"]
        if action == "unlink" and not form.cleaned_data["confirm"]:
            context = self.get_context_data(mapping=mapping, back=back)
            return render(request, self.confirm_template, context)
        label = mapping.remote_name or mapping.remote_id
        try:
            if action == "link":
                person = form.cleaned_data["person"]
                services.mapping_link(mapping=mapping, person=person)
                messages.success(request, f"Linked {label} to {person}.")
            elif action == "unlink":
                services.mapping_unlink(mapping=mapping)
                messages.success(
                    request,
                    f"Unlinked {label}. The next sync links it by email or creates a new person; "
                    "ignore it to keep it out of syncs.",
                )
            elif action == "ignore":
                ignored = form.cleaned_data["ignored"]
                services.mapping_ignore(mapping=mapping, ignored=ignored)
                if ignored:
                    messages.success(request, f"Ignored {label}: syncs leave this record out.")
                else:
                    messages.success(request, f"Stopped ignoring {label}: the next sync matches it again.")
            else:
                person = services.mapping_create_person(mapping=mapping)
                messages.success(request, f"Created {person} from record {mapping.remote_id} and linked them.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(back)

    def _back_url(self) -> str:
        default = reverse("connections:employees", args=[self.connection.pk])
        candidate = safe_next(self.request) or ""
        # Only back to this connection's Employees tab (with its query string).
        return candidate if candidate.split("?", 1)[0] == default else default


class DepotMappingView(ConnectionTabMixin, TemplateView):
    """Every remote location with a depot picker; one save for the page."""

    template_name = "mappings/depots.html"
    active_tab = "depots"

    def _form(self, data=None) -> DepotMappingsForm:
        mappings = (
            DepotMapping.objects.filter(connection=self.connection)
            .only("id", "remote_location_id", "remote_name", "depot_id")
            .order_by("remote_name", "remote_location_id")
        )
        depots = Depot.objects.only("id", "name", "active").order_by("name")
        return DepotMappingsForm(data, mappings=mappings, depots=depots)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.pop("form", None) or self._form()
        unmapped = sum(1 for m in form.mappings if m.depot_id is None)
        return super().get_context_data(form=form, rows=form.bound_rows(), unmapped=unmapped, **kwargs)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = self._form(request.POST)
        if not form.is_valid():
            messages.error(request, "Some locations could not be saved: see the messages below.")
            return self.render_to_response(self.get_context_data(form=form))
        try:
            mapped = services.depot_mappings_save(
                connection=self.connection,
                depot_ids=form.depot_ids(),
                new_depot_names=form.new_depot_names(),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return self.render_to_response(self.get_context_data(form=form))
        total = len(form.mappings)
        text = f"Saved: {mapped} location{'' if mapped == 1 else 's'} mapped."
        if mapped < total:
            text += f" {total - mapped} not mapped yet."
        messages.success(request, text)
        return redirect("connections:depots", pk=self.connection.pk)
