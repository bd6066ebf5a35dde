"""The form of an ActionHRM connection's settings (its rules are in settings.py)."""

from __future__ import annotations

from django import forms

from connectors.actionhrm.settings import (
    DEFAULT_EMPLOYEES_PATH,
    DEFAULT_LOCATIONS_PATH,
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    VENDOR_DOMAIN,
    normalise_base_url,
    normalise_path,
    normalise_subdomain,
)
from connectors.base import setting_clean

class ActionHRMConfigForm(forms.Form):
    subdomain = forms.CharField(
        required=False,
        max_length=255,
        label="Sub-domain",
        help_text=(
            f"The part before .{VENDOR_DOMAIN} in your ActionHRM address, such as my-company. "
            "Needed unless you enter a base URL below."
        ),
    )
    # Not required by the field alone (a base URL replaces it), but not optional.
    subdomain.required_when = "there is no base URL"
    username = forms.CharField(max_length=200, label="API username")
    password = forms.CharField(
        max_length=500,
        label="API password",
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )
    base_url = forms.CharField(
        required=False,
        max_length=500,
        label="Base URL",
        help_text=(
            "Only if your ActionHRM is not at https://<sub-domain>.actionhrm.com. "
            "When set, it is used instead of the sub-domain."
        ),
    )
    locations_path = forms.CharField(
        required=False,
        max_length=300,
        initial=DEFAULT_LOCATIONS_PATH,
        help_text=f"Default {DEFAULT_LOCATIONS_PATH}.",
    )
    employees_path = forms.CharField(
        required=False,
        max_length=300,
        initial=DEFAULT_EMPLOYEES_PATH,
        help_text=f"Default {DEFAULT_EMPLOYEES_PATH}.",
    )
    per_page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PER_PAGE,
        initial=DEFAULT_PER_PAGE,
        label="Employees per page",
        help_text=f"Default {DEFAULT_PER_PAGE}.",
    )

    def clean_subdomain(self) -> str:
        return setting_clean(self, "subdomain", normalise_subdomain, optional=True)

    def clean_base_url(self) -> str:
        return setting_clean(self, "base_url", normalise_base_url, optional=True)

    def clean_locations_path(self) -> str:
        return self._clean_path("locations_path", DEFAULT_LOCATIONS_PATH)

    def clean_employees_path(self) -> str:
        return self._clean_path("employees_path", DEFAULT_EMPLOYEES_PATH)

    def clean_per_page(self) -> int:
        value = self.cleaned_data.get("per_page")
        return DEFAULT_PER_PAGE if value is None else value

    def _clean_path(self, name: str, default: str) -> str:
        return setting_clean(self, name, lambda value: normalise_path(value or "", default))

    def clean(self) -> dict:
        cleaned = super().clean()
        has_subdomain = bool(cleaned.get("subdomain"))
        has_base_url = bool(cleaned.get("base_url"))
        if not has_subdomain and not has_base_url and not (
            self.has_error("subdomain") or self.has_error("base_url")
        ):
            raise forms.ValidationError(
                "Enter the ActionHRM sub-domain (such as my-company), or a base URL.",
                code="required",
            )
        return cleaned
