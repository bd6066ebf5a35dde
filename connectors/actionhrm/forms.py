"""Settings for an ActionHRM connection."""

from __future__ import annotations

import re

from django import forms

from connectors.base import address_split, setting_clean
from connectors.http import insecure_loopback_allowed
from connectors.outbound import is_local_host

DEFAULT_LOCATIONS_PATH = "/api/v1/locations"
DEFAULT_EMPLOYEES_PATH = "/api/v1/employees"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
VENDOR_DOMAIN = "actionhrm.com"

_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalise_subdomain(value: str) -> str:
    """``"my-company"`` from ``"my-company"``, ``"My-Company.actionhrm.com"``
    or ``"https://my-company.actionhrm.com/"``.

    Raises ValueError with a sentence for the admin when it is not a bare DNS
    label on actionhrm.com.
    """
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].rstrip(".")
    if "@" in text or ":" in text:
        raise ValueError(
            "Enter only the sub-domain, such as my-company (without a user name or port)."
        )
    suffix = "." + VENDOR_DOMAIN
    if text.endswith(suffix):
        text = text[: -len(suffix)]
    if not _DNS_LABEL.fullmatch(text):
        if "." in text:
            raise ValueError(
                f"Enter only the sub-domain, such as my-company for "
                f"my-company.{VENDOR_DOMAIN}. For an address elsewhere, use Base URL."
            )
        raise ValueError(
            "A sub-domain uses only letters, digits and hyphens (not at the start or end), "
            "at most 63 characters, such as my-company."
        )
    return text


def normalise_base_url(value: str) -> str:
    """An https URL with a host and no user-info, query or fragment; no trailing slash.

    (Plain http is accepted only for a loopback host when
    ``insecure_loopback_allowed()``: a stand-in server in development and tests.)

    The error messages never repeat the URL (it might carry a password).
    """
    text = value.strip()
    parts = address_split(text, invalid="Enter a valid URL, such as https://my-company.actionhrm.com.")
    scheme = parts.scheme.lower()
    insecure_ok = (
        scheme == "http"
        and is_local_host(parts.hostname or "")
        and insecure_loopback_allowed()
    )
    if scheme != "https" and not insecure_ok:
        raise ValueError("The base URL must start with https://.")
    if not parts.hostname:
        raise ValueError("Enter a valid URL, such as https://my-company.actionhrm.com.")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "Do not put a user name or password in the base URL; "
            "use the API username and password fields."
        )
    if parts.query or parts.fragment:
        raise ValueError("The base URL cannot have a query (?…) or fragment (#…).")
    return f"{scheme}://{parts.netloc}{parts.path}".rstrip("/")


def normalise_path(value: str, default: str) -> str:
    text = value.strip()
    if not text:
        return default
    if "://" in text or text.startswith("//"):
        raise ValueError("Enter a path such as /api/v1/employees, not a full URL.")
    if any(ch.isspace() for ch in text):
        raise ValueError("A path cannot contain spaces.")
    return text if text.startswith("/") else "/" + text


class ActionHRMConfigForm(forms.Form):
    subdomain = forms.CharField(
        required=False,
        max_length=255,
        label="Sub-domain",
        help_text=(
            f"The part before .{VENDOR_DOMAIN} in your ActionHRM address, such as my-company."
        ),
    )
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
