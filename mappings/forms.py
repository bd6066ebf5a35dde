"""Forms of the Employees and Depots tabs. They validate input; the services act."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms

from hrsync.people.models import Depot, Person
from mappings.models import DepotMapping


class EmployeeMappingActionForm(forms.Form):
    """One action on one remote record. ``person`` takes an id or an email, so
    the picker works with a plain text field when JavaScript is off."""

    ACTIONS = (
        ("link", "Link to a person"),
        ("unlink", "Unlink"),
        ("ignore", "Ignore / stop ignoring"),
        ("create", "Create a new person"),
    )

    action = forms.ChoiceField(choices=ACTIONS)
    person = forms.CharField(
        required=False,
        max_length=254,
        label="Person",
        help_text="Type a name or email to search, or enter the person's id.",
    )
    ignored = forms.TypedChoiceField(
        choices=(("1", "Ignore"), ("0", "Stop ignoring")),
        coerce=lambda value: value == "1",
        required=False,
        empty_value=True,
    )
    confirm = forms.BooleanField(required=False)

    def clean_person(self) -> Person | None:
        raw = self.cleaned_data.get("person", "").strip()
        if not raw:
            return None
        # The picker fills in "Name <email>"; the bare email or id works too.
        if raw.endswith(">") and "<" in raw:
            raw = raw.rsplit("<", 1)[1].rstrip(">").strip()
        if raw.isdigit():
            person = Person.objects.filter(pk=int(raw)).first()
        else:
            person = Person.objects.filter(email__iexact=raw).first() if raw else None
        if person is None:
            raise forms.ValidationError(f"No person has the id or email '{raw}'.")
        return person

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "link" and not cleaned.get("person") and "person" not in self.errors:
            self.add_error("person", "Choose the person to link this record to.")
        return cleaned


class DepotMappingsForm(forms.Form):
    """Every remote location of a connection on one page: a depot picker and
    a "new depot" name per location, saved together."""

    def __init__(
        self, *args, mappings: Iterable[DepotMapping], depots: Iterable[Depot], **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mappings = list(mappings)
        choices = [("", "— not mapped —")] + [
            (str(d.pk), d.name if d.active else f"{d.name} (inactive)") for d in depots
        ]
        self.rows = []
        for mapping in self.mappings:
            label = mapping.remote_name or mapping.remote_location_id
            depot_field = f"depot_{mapping.pk}"
            new_field = f"new_{mapping.pk}"
            self.fields[depot_field] = forms.ChoiceField(
                choices=choices,
                required=False,
                label=f"Depot for {label}",
                initial=str(mapping.depot_id or ""),
            )
            self.fields[new_field] = forms.CharField(
                required=False,
                max_length=Depot._meta.get_field("name").max_length,
                label=f"New depot for {label}",
            )
            self.rows.append((mapping, depot_field, new_field))

    def bound_rows(self):
        """(mapping, depot bound field, new-depot bound field) per location."""
        return [(mapping, self[depot], self[new]) for mapping, depot, new in self.rows]

    def depot_ids(self) -> dict[int, int | None]:
        return {
            mapping.pk: int(self.cleaned_data[depot]) if self.cleaned_data.get(depot) else None
            for mapping, depot, _new in self.rows
        }

    def new_depot_names(self) -> dict[int, str]:
        return {
            mapping.pk: self.cleaned_data[new].strip()
            for mapping, _depot, new in self.rows
            if self.cleaned_data.get(new, "").strip()
        }


class ConflictGroupResolveForm(forms.Form):
    """One group of colliding records settled at once: which record to keep,
    and what happens to the others. ``members`` are the ids the page showed,
    so a group that changed meanwhile is refused rather than half-settled."""

    OTHERS = (
        ("ignore", "Ignore the other records"),
        ("create", "Create a new person from each of the other records"),
    )

    members = forms.CharField(widget=forms.HiddenInput)
    keep = forms.CharField(required=False)
    others = forms.ChoiceField(choices=OTHERS, initial="ignore")
    confirm = forms.BooleanField(required=False)

    def clean_members(self) -> list[int]:
        raw = [part.strip() for part in self.cleaned_data["members"].split(",") if part.strip()]
        if not raw or not all(part.isdigit() for part in raw):
            raise forms.ValidationError("These records are no longer shown. Look at them again below.")
        return [int(part) for part in raw]

    def clean_keep(self) -> int | None:
        raw = self.cleaned_data.get("keep", "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            raise forms.ValidationError("Choose one of the records of this group to keep.")
        return int(raw)


class _RemoteIdsField(forms.Field):
    """Every value of a repeated field (checkboxes, hidden inputs), in order,
    once each."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        return list(dict.fromkeys(v for v in (value or []) if isinstance(v, str) and v))


class EmployeeSelectionForm(forms.Form):
    """The Employees tab's bulk selection: include or exclude the ticked
    records, or every record of the page shown (``all_on_page`` with the
    page's ids), so it works without JavaScript."""

    OPERATIONS = (("include", "Include selected in syncs"), ("exclude", "Exclude selected from syncs"))

    operation = forms.ChoiceField(choices=OPERATIONS)
    selected = _RemoteIdsField(required=False)
    page_ids = _RemoteIdsField(required=False)
    all_on_page = forms.BooleanField(required=False, label="All records on this page")

    def clean(self):
        cleaned = super().clean()
        ids = list(cleaned.get("selected") or [])
        if cleaned.get("all_on_page"):
            ids = list(dict.fromkeys([*(cleaned.get("page_ids") or []), *ids]))
        if not ids and "operation" not in self.errors:
            raise forms.ValidationError(
                "Select the records first: tick their boxes, or tick All records on this page."
            )
        cleaned["remote_ids"] = ids
        return cleaned
