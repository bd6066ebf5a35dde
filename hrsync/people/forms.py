"""Forms of the people pages. They validate input; the services write."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from hrsync.people.models import Depot, Person
from hrsync.people.services import EDITABLE_FIELDS
from hrsync.search import SearchForm

#: The depot filter's value for "people without a depot".
NO_DEPOT = "none"


class PersonFilterForm(SearchForm):
    """The directory's search box and filters (all optional, GET)."""

    depot = forms.ChoiceField(label="Depot", required=False)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All statuses"), *Person.Status.choices]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = "Name, email or employee reference"
        depots = Depot.objects.values_list("pk", "name")
        self.fields["depot"].choices = [
            ("", "All depots"),
            (NO_DEPOT, "No depot"),
            *((str(pk), name) for pk, name in depots),
        ]

    def filters(self) -> dict[str, str]:
        """The valid filters; an invalid one (a stale depot id) is ignored."""
        self.is_valid()
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class PersonForm(forms.ModelForm):
    """A person's own fields: every editable field their connection does not own."""

    manager = forms.ModelChoiceField(
        queryset=Person.objects.all(),
        required=False,
        label="Manager",
        # A select would list the whole directory; the page's picker fills the id.
        widget=forms.NumberInput(attrs={"min": 1, "data-person-picker": "manager"}),
        help_text="The manager's person id: search for them below the field.",
        error_messages={"invalid_choice": "There is no person with that id."},
    )

    class Meta:
        model = Person
        fields = EDITABLE_FIELDS
        widgets = {
            "date_of_birth": _DateInput(),
            "hire_date": _DateInput(),
            "termination_date": _DateInput(),
        }

    def __init__(self, *args: Any, owned: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in owned:
            self.fields.pop(name, None)
        if "depot" in self.fields:
            self.fields["depot"].empty_label = "No depot"
