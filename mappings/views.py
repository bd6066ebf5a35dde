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

from connections.services import connection_connector
from connections.views.base import ConnectionTabMixin
from connections.views.checks import safe_next
from hrsync.people.models import Depot
from hrsync.search import search_text
from mappings import selectors, services
from mappings.forms import (
    ConflictGroupResolveForm,
    DepotMappingsForm,
    EmployeeMappingActionForm,
    EmployeeSelectionForm,
)
from mappings.models import DepotMapping, EmployeeMapping

State = EmployeeMapping.State

#: slug → (label, condition, what it means and what to do). The Overview
#: links its counts here: ``?filter=conflicts``, ``?filter=unmatched``.
EMPLOYEE_FILTERS: dict[str, tuple[str, Q, str]] = {
    "all": ("All", Q(), ""),
    "conflicts": (
        "Conflicts",
        Q(state=State.CONFLICT),
        "Conflicts are records the sync left alone because they claim the same person as another "
        "record, or a person another connection holds. Compare them side by side and choose who is who.",
    ),
    "unmatched": (
        "Unmatched",
        Q(state=State.UNMATCHED) | Q(state=State.LINKED, person__isnull=True),
        "Unmatched records are not linked to anybody yet, and nothing stands in the way: the next sync "
        "links each one to the person with its email, or creates a new person. Link one now to choose yourself.",
    ),
    "linked": ("Linked", Q(state=State.LINKED, person__isnull=False), ""),
    "ignored": ("Ignored", Q(state=State.IGNORED), "Ignored records are left out of every sync."),
    "excluded": (
        "Excluded",
        Q(state=State.EXCLUDED),
        "Excluded records are left out of this connection's syncs: nobody is created or changed for them, "
        "and a person linked before stays as they are. Tick them and choose Include selected to sync them.",
    ),
}
#: Groups of colliding records on one page of the Conflicts filter.
GROUPS_PER_PAGE = 20

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
        if current == "conflicts":
            kwargs.update(self._conflict_groups(q))
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
            **{slug: Count("id", filter=search & condition) for slug, (_label, condition, _about) in EMPLOYEE_FILTERS.items()},
        )
        mappings = mappings.filter(search)
        mappings = (
            mappings.filter(EMPLOYEE_FILTERS[current][1])
            .select_related("person")
            .only(*EMPLOYEE_COLUMNS)
            # Ids in the order they count (2 before 10), not as text (10 before
            # 2): the shorter id first, then alike ids as text; the pk keeps
            # pages stable.
            .order_by(*selectors.EMPLOYEE_RECORD_ORDER)
        )
        page = Paginator(mappings, self.paginate_by).get_page(self.request.GET.get("page"))
        filters = [
            (slug, label, counts[slug], slug == current) for slug, (label, _cond, _about) in EMPLOYEE_FILTERS.items()
        ]
        kwargs.setdefault("page", page)
        return super().get_context_data(
            mappings=page.object_list,
            q=q,
            current_filter=current,
            filters=filters,
            filter_about=[
                (EMPLOYEE_FILTERS[slug][0], EMPLOYEE_FILTERS[slug][2]) for slug in ("conflicts", "unmatched", "excluded")
            ],
            total=counts["total"],
            **kwargs,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Include or exclude the selected records (selective sync), then
        back to the list as it was (search, filter and page kept)."""
        back = _employees_back_url(request, self.connection)
        form = EmployeeSelectionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(back)
        remote_ids = form.cleaned_data["remote_ids"]
        including = form.cleaned_data["operation"] == "include"
        try:
            if including:
                changed = services.mappings_include(connection=self.connection, remote_ids=remote_ids)
            else:
                changed = services.mappings_exclude(connection=self.connection, remote_ids=remote_ids)
        except services.UnknownRecordsError as exc:
            messages.error(request, str(exc))
            return redirect(back)
        messages.success(request, _selection_text(changed=changed, asked=len(remote_ids), including=including))
        return redirect(back)

    def _conflict_groups(self, q: str) -> dict[str, Any]:
        """The Conflicts filter: one page of groups instead of rows."""
        try:
            custom_labels = connection_connector(connection=self.connection).custom_field_labels()
        except Exception:  # noqa: BLE001 - labels are a nicety; a broken setting must not hide conflicts
            custom_labels = {}
        groups = selectors.conflict_group_list(connection=self.connection, custom_labels=custom_labels)
        terms = [term.casefold() for term in q.split()]
        if terms:
            def text(group) -> str:
                parts = [group.email] + [f"{m.remote_id} {m.remote_name} {m.remote_email}" for m in group.mappings]
                if group.person is not None:
                    parts.append(f"{group.person} {group.person.email}")
                return " ".join(parts).casefold()

            groups = [g for g in groups if all(term in text(g) for term in terms)]
        page = Paginator(groups, GROUPS_PER_PAGE).get_page(self.request.GET.get("page"))
        return {"page": page, "groups": page.object_list}


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
        return _employees_back_url(self.request, self.connection)


def _selection_text(*, changed: int, asked: int, including: bool) -> str:
    def records(count: int) -> str:
        return f"{count} record{'' if count == 1 else 's'}"

    if not changed:
        return (
            "Nothing changed: the selected records were included already."
            if including
            else "Nothing changed: the selected records were excluded already."
        )
    if including:
        text = (
            f"Included {records(changed)}: the next sync updates, links or creates "
            f"{'its person' if changed == 1 else 'their people'}."
        )
    else:
        text = (
            f"Excluded {records(changed)}: syncs skip {'it' if changed == 1 else 'them'} and create or change "
            "nobody for them; people linked to them stay as they are."
        )
    if already := asked - changed:
        state = "included" if including else "excluded"
        text += f" {records(already)} {'was' if already == 1 else 'were'} {state} already."
    return text


def _employees_back_url(request: HttpRequest, connection) -> str:
    default = reverse("connections:employees", args=[connection.pk])
    candidate = safe_next(request) or ""
    # Only back to this connection's Employees tab (with its query string).
    return candidate if candidate.split("?", 1)[0] == default else default


class ConflictGroupResolveView(ConnectionTabMixin, View):
    """POST: settle one group of colliding records (keep one, ignore or
    create the others), after a confirmation when a linked record is
    ignored, which releases its person."""

    http_method_names = ["post"]
    confirm_template = "mappings/conflict_confirm.html"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        back = _employees_back_url(request, self.connection)
        form = ConflictGroupResolveForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(back)
        data = form.cleaned_data
        members = list(
            EmployeeMapping.objects.filter(connection=self.connection, pk__in=data["members"])
            .select_related("person")
            .order_by("remote_id", "pk")
        )
        kept = next((m for m in members if m.pk == data["keep"]), None)
        released = [
            m for m in members
            if m is not kept and m.person_id is not None and data["others"] == services.OTHERS_IGNORE
        ]
        if released and not data["confirm"]:
            context = self.get_context_data(
                members=members, kept=kept, released=released, others=data["others"], back=back,
                member_ids=",".join(str(m.pk) for m in members),
            )
            return render(request, self.confirm_template, context)
        try:
            result = services.conflict_group_resolve(
                connection=self.connection,
                mapping_ids=data["members"],
                keep_id=data["keep"],
                others=data["others"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(back)
        messages.success(request, _resolution_text(result))
        return redirect(back)


def _label(mapping: EmployeeMapping) -> str:
    # With the id: the records of a group often have the same name.
    return f"{mapping.remote_name} (id {mapping.remote_id})" if mapping.remote_name else f"the record with id {mapping.remote_id}"


def _resolution_text(result: services.ConflictResolution) -> str:
    sentences = []
    if result.kept is not None and result.person is not None:
        if result.linked:
            sentences.append(f"Linked {_label(result.kept)} to {result.person}.")
        elif result.kept.person_id is None:
            sentences.append(f"Created {result.person} from {_label(result.kept)}.")
        else:
            sentences.append(f"Kept {_label(result.kept)} linked to {result.person}.")
    if result.ignored:
        names = ", ".join(_label(m) for m in result.ignored)
        sentences.append(f"Ignored {names}: syncs leave {'it' if len(result.ignored) == 1 else 'them'} out.")
    for person in result.created:
        sentences.append(f"Created {person}.")
    if result.without_email:
        names = ", ".join(str(p) for p in result.without_email)
        sentences.append(
            f"{names} {'has' if len(result.without_email) == 1 else 'have'} no email yet: the source gives "
            "the same address to more than one person, so syncs report these records as conflicts until "
            "it is corrected there."
        )
    return " ".join(sentences) or "Nothing to change."


class DepotMappingView(ConnectionTabMixin, TemplateView):
    """Every remote location with a depot picker; one save for the page."""

    template_name = "mappings/depots.html"
    active_tab = "depots"

    def _form(self, data=None) -> DepotMappingsForm:
        mappings = (
            DepotMapping.objects.filter(connection=self.connection)
            .only("id", "remote_location_id", "remote_name", "depot_id", "matched_by_name")
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
            saved = services.depot_mappings_save(
                connection=self.connection,
                depot_ids=form.depot_ids(),
                new_depot_names=form.new_depot_names(),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return self.render_to_response(self.get_context_data(form=form))
        total, mapped = len(form.mappings), saved.mapped
        text = f"Saved: {mapped} location{'' if mapped == 1 else 's'} mapped."
        if mapped < total:
            text += f" {total - mapped} not mapped yet."
        for typed, depot in saved.matched:
            text += f" “{typed}” is the name of an existing depot, so {depot} was used."
        if saved.created:
            text += f" New depot{'' if len(saved.created) == 1 else 's'}: {', '.join(saved.created)}."
        messages.success(request, text)
        return redirect("connections:depots", pk=self.connection.pk)
