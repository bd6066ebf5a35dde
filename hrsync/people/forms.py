"""Forms of the people pages. They validate input; the services write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core import validators
from django.forms.models import fields_for_model, model_to_dict

from connectors.base import iso_date
from hrsync.people import rules
from hrsync.people.models import Absence, Depot, Person
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


class _SyncDateField(forms.DateField):
    """A date read as a sync reads one (``connectors.base.iso_date``) and
    refused in the sync's words."""

    widget = _DateInput

    def to_python(self, value: Any) -> dt.date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        parsed = iso_date(text)
        if parsed is None:
            raise forms.ValidationError(rules.date_problem(label=str(self.label), text=text), code="invalid")
        return parsed


#: Checked by the person services with the sync's rules and words
#: (``hrsync.people.rules``), not by Django's own validators here: one rule,
#: one message, whether a value comes from a sync or from this form.
_SERVICE_CHECKED = (validators.MaxLengthValidator, validators.ProhibitNullCharactersValidator)


class PersonForm(forms.Form):
    """A person's own fields: every editable field their connection does not own.

    It reads what was typed (numbers, dates, choices); the person services
    (``person_create``, ``person_update``) check the values by the sync's
    rules and save them.
    """

    def __init__(
        self, data: Any = None, *, instance: Person | None = None, owned: Iterable[str] = (), **kwargs: Any
    ) -> None:
        if instance is not None:
            kwargs.setdefault("initial", model_to_dict(instance, fields=EDITABLE_FIELDS))
        super().__init__(data, **kwargs)
        self.fields.update(
            fields_for_model(
                Person,
                fields=EDITABLE_FIELDS,
                field_classes={
                    "email": forms.CharField,
                    "date_of_birth": _SyncDateField,
                    "hire_date": _SyncDateField,
                    "termination_date": _SyncDateField,
                },
            )
        )
        self.fields["manager"] = forms.ModelChoiceField(
            queryset=Person.objects.all(),
            required=False,
            label="Manager",
            # A select would list the whole directory; the page's picker fills the id.
            widget=forms.NumberInput(attrs={"min": 1, "data-person-picker": "manager"}),
            help_text="The manager's person id: search for them below the field.",
            error_messages={"invalid_choice": "There is no person with that id."},
        )
        for name in owned:
            self.fields.pop(name, None)
        for field in self.fields.values():
            field.validators = [v for v in field.validators if not isinstance(v, _SERVICE_CHECKED)]
        if "email" in self.fields:
            self.fields["email"].widget.input_type = "email"
        if "job_title" in self.fields:
            # Up to 200 characters: a grid column would cut most of it off.
            self.fields["job_title"].wide = True
        # A person needs a first or a last name (the services check it): neither is optional.
        for name, other in (("first_name", "last name"), ("last_name", "first name")):
            if name in self.fields:
                self.fields[name].required_when = f"there is no {other}"
        if "depot" in self.fields:
            self.fields["depot"].empty_label = "No depot"


class AbsenceForm(forms.Form):
    """Add absence (the person page): checked by ``absence_create``, which
    refuses in words what a date field cannot tell (end before start, a
    duplicate, a date years away)."""

    type_name = forms.CharField(label="Type", max_length=200, help_text="Such as Holiday or Sick leave.")
    start_date = _SyncDateField(label="First day")
    end_date = _SyncDateField(label="Last day")
    half_day_start = forms.BooleanField(label="Half day on the first day", required=False)
    half_day_end = forms.BooleanField(label="Half day on the last day", required=False)
    status = forms.ChoiceField(label="Status", choices=Absence.Status.choices, initial=Absence.Status.APPROVED)
    comment = forms.CharField(label="Comment", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, type_names: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["comment"].wide = True
        self.type_names = list(type_names)
        if self.type_names:
            # The types absences already have: the browser offers them as the admin types.
            self.fields["type_name"].widget.attrs["list"] = "absence-types"
