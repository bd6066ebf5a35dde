"""The form of an XML upload connection's settings (its rules are in settings.py)."""

from __future__ import annotations

from django import forms

from connectors.base import setting_clean
from connectors.xml_upload.settings import (
    CSV_DELIMITER_CHOICES,
    CSV_TARGETS,
    DEFAULT_CSV_DELIMITER,
    DEFAULT_LOCATION_ELEMENT,
    DEFAULT_MAX_UPLOAD_MB,
    LOCATION_ELEMENTS,
    MAX_UPLOAD_MB,
    MIN_UPLOAD_MB,
    normalise_contacts,
    normalise_csv_columns,
    normalise_csv_delimiter,
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

    csv_columns = forms.JSONField(
        label="CSV columns",
        required=False,
        initial={},
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=(
            "For an employee file sent as CSV (text/csv): header → person field, such as "
            '{"Staff No": "employee_reference", "First Name": "first_name", "Team": "location"}. '
            "Fields: " + ", ".join(CSV_TARGETS) + ", custom.<key>; map one column to employee_reference. "
            "Leave empty when the headers are the XML element names (forename, surname, employee_id, …)."
        ),
    )
    csv_delimiter = forms.ChoiceField(
        label="CSV field separator",
        choices=CSV_DELIMITER_CHOICES,
        initial=DEFAULT_CSV_DELIMITER,
        required=False,
        help_text="The separator of an employee file sent as CSV. Files are read as UTF-8, with or without a BOM.",
    )

    def clean_location_element(self) -> str:
        return setting_clean(self, "location_element", normalise_location_element)

    def clean_contacts(self) -> str:
        return setting_clean(self, "contacts", normalise_contacts, optional=True)

    def clean_max_upload_mb(self) -> int:
        return setting_clean(self, "max_upload_mb", normalise_max_upload_mb)

    def clean_csv_columns(self) -> dict[str, str]:
        return setting_clean(self, "csv_columns", normalise_csv_columns)

    def clean_csv_delimiter(self) -> str:
        return setting_clean(self, "csv_delimiter", normalise_csv_delimiter)
