"""The form of an accessplanit connection's settings (its rules are in settings.py).

The field names are also the ``--set`` keys of ``manage.py connections``:
``--set ownership.job_title=hrsync`` sets who wins for one field. The
connection stores the ownership as one dict (``ownership``), which the
per-field values change and fields not given keep.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from connectors.accessplanit.settings import (
    AUTH_API_KEY,
    AUTH_CHOICES,
    AUTH_PASSWORD,
    DEFAULT_USER_STATUSES,
    EXAMPLE_BASE_URL,
    OWNER_CHOICES,
    OWNERSHIP_PREFIX,
    PUSHABLE_FIELDS,
    normalise_auth_mode,
    normalise_base_url,
    normalise_companies,
    normalise_owner,
    normalise_ownership,
    normalise_user_statuses,
)
from connectors.base import FormSection, setting_clean


class OwnerField(forms.CharField):
    """Who wins for one person field, as a select on the page and
    ``hrsync``/``accessplanit`` on the command line (``normalise_owner``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, widget=forms.Select(choices=OWNER_CHOICES), **kwargs)

    def clean(self, value: Any) -> str:
        try:
            return normalise_owner(super().clean(value))
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class OwnershipField(forms.Field):
    """The stored ownership dict (or its JSON on the command line); the page
    does not show it: it shows one ``OwnerField`` per field."""

    widget = forms.HiddenInput

    def clean(self, value: Any) -> dict[str, str]:
        try:
            return normalise_ownership(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, dict) else value


def _owner_name(person_field: str) -> str:
    return f"{OWNERSHIP_PREFIX}{person_field}"


class AccessPlanItConfigForm(forms.Form):
    sections = (
        FormSection(
            "Connection",
            ("base_url", "auth_mode", "api_key", "username", "password"),
            help="Sign in with an API key from accessplanit, or with the username and password of an "
            "accessplanit user that may use the API.",
        ),
        FormSection("People", ("user_statuses", "companies", "push_users")),
        FormSection(
            "Who owns each field",
            tuple(_owner_name(name) for name in PUSHABLE_FIELDS),
            help="Ownership only matters when “Send user details to accessplanit” is on: a field hrsync "
            "owns is sent to accessplanit and never read back; a field accessplanit owns is read from it. "
            "With sending off, every field is read from accessplanit.",
        ),
        FormSection("Training", ("training",)),
    )

    base_url = forms.CharField(
        max_length=500,
        label="API address",
        help_text=f"The full address of your accessplanit API, such as {EXAMPLE_BASE_URL}.",
        error_messages={"required": f"Enter the address of your accessplanit API, such as {EXAMPLE_BASE_URL}."},
    )
    auth_mode = forms.CharField(
        required=False,
        initial=AUTH_API_KEY,
        label="Sign in with",
        widget=forms.Select(choices=AUTH_CHOICES),
    )
    api_key = forms.CharField(
        required=False,
        max_length=500,
        label="API key",
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="When signing in with an API key.",
    )
    username = forms.CharField(
        required=False,
        max_length=200,
        label="Username",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
        help_text="When signing in with a username and password.",
    )
    password = forms.CharField(
        required=False,
        max_length=500,
        label="Password",
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )
    user_statuses = forms.CharField(
        required=False,
        max_length=500,
        initial=",".join(DEFAULT_USER_STATUSES),
        label="User statuses read",
        help_text="accessplanit users in these statuses are read, separated by commas (default Enabled,New).",
    )
    companies = forms.CharField(
        required=False,
        max_length=2000,
        label="Companies",
        help_text="Only users whose main company is one of these accessplanit company IDs, separated by "
        "commas. Leave blank to read every company.",
    )
    push_users = forms.BooleanField(
        required=False,
        initial=False,
        label="Send user details to accessplanit",
        help_text="People this connection manages, and people in a depot mapped to an accessplanit company "
        "whom no other connection manages, get an accessplanit user; the fields hrsync owns are kept up "
        "to date there.",
    )
    ownership = OwnershipField(required=False, label="Ownership")
    training = forms.BooleanField(
        required=False,
        initial=True,
        label="Read training records",
        help_text="People's course bookings and awards are shown in hrsync, and course requests can be "
        "approved or rejected on the Training tab.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial = dict(self.initial)  # the caller's dict stays as it was
        # Imported here: connectors load before the apps whose models the labels read.
        from hrsync.people.labels import field_label

        try:
            stored = normalise_ownership(self.initial.get("ownership"))
        except ValueError:
            stored = normalise_ownership(None)
        for name in PUSHABLE_FIELDS:
            self.fields[_owner_name(name)].label = field_label(name)
            self.initial.setdefault(_owner_name(name), stored[name])

    def clean_base_url(self) -> str:
        return setting_clean(self, "base_url", normalise_base_url)

    def clean_auth_mode(self) -> str:
        return setting_clean(self, "auth_mode", normalise_auth_mode)

    def clean_username(self) -> str:
        return (self.cleaned_data.get("username") or "").strip()

    def clean_api_key(self) -> str:
        return (self.cleaned_data.get("api_key") or "").strip()

    def clean_user_statuses(self) -> str:
        return setting_clean(self, "user_statuses", normalise_user_statuses)

    def clean_companies(self) -> str:
        return setting_clean(self, "companies", normalise_companies)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        mode = cleaned.get("auth_mode")
        if mode == AUTH_API_KEY and not cleaned.get("api_key"):
            self.add_error(
                "api_key", "Enter the accessplanit API key, or choose to sign in with a username and password."
            )
        if mode == AUTH_PASSWORD:
            if not cleaned.get("username"):
                self.add_error("username", "Enter the username of the accessplanit user hrsync signs in as.")
            if not cleaned.get("password"):
                self.add_error("password", "Enter the password of the accessplanit user hrsync signs in as.")
        # One dict is stored: the per-field values given change it, the rest
        # keep their stored owner (the service drops the blanked fields).
        ownership = dict(cleaned.get("ownership") or normalise_ownership(None))
        for name in PUSHABLE_FIELDS:
            owner = cleaned.get(_owner_name(name))
            if owner:
                ownership[name] = owner
            cleaned[_owner_name(name)] = ""
        cleaned["ownership"] = ownership
        return cleaned


# One select per pushable field, named as ``--set`` spells it: a name with a
# dot cannot be a class attribute, so the fields join the declared ones here.
for _name in PUSHABLE_FIELDS:
    _field = OwnerField(label=_name.replace("_", " ").capitalize())  # field_label's, once the apps load
    AccessPlanItConfigForm.base_fields[_owner_name(_name)] = _field
    AccessPlanItConfigForm.declared_fields[_owner_name(_name)] = _field


__all__ = ["AccessPlanItConfigForm"]
