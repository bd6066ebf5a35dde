"""The form of an XML upload connection's settings (its rules are in settings.py)."""

from __future__ import annotations

from django import forms

from connectors.base import setting_clean
from connectors.xml_upload.settings import (
    DEFAULT_LOCATION_ELEMENT,
    DEFAULT_MAX_UPLOAD_MB,
    LOCATION_ELEMENTS,
    MAX_UPLOAD_MB,
    MIN_UPLOAD_MB,
    normalise_contacts,
    normalise_location_element,
    normalise_max_upload_mb,
)


class XmlUploadConfigForm(forms.Form):
    location_element = forms.ChoiceField(
        label="Location element",
        choices=list(LOCATION_ELEMENTS.items()),
        initial=DEFAULT_LOCATION_ELEMENT,
        required=False,
        help_text=(
            "Which element of the employee file names a person's location; map its values to depots "
            "on the Depots tab."
        ),
    )
    contacts = forms.CharField(
        label="Contacts",
        required=False,
        max_length=2000,
        help_text="Email addresses, separated by commas, told when a file fails, is blocked or partly fails.",
    )
    max_upload_mb = forms.IntegerField(
        label="Largest file (MB)",
        required=False,
        initial=DEFAULT_MAX_UPLOAD_MB,
        min_value=MIN_UPLOAD_MB,
        max_value=MAX_UPLOAD_MB,
        help_text=f"A larger upload is refused before it is read. Default {DEFAULT_MAX_UPLOAD_MB}.",
    )

    def clean_location_element(self) -> str:
        return setting_clean(self, "location_element", normalise_location_element)

    def clean_contacts(self) -> str:
        return setting_clean(self, "contacts", normalise_contacts, optional=True)

    def clean_max_upload_mb(self) -> int:
        return setting_clean(self, "max_upload_mb", normalise_max_upload_mb)
