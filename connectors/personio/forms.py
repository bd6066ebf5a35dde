"""The form of a Personio connection's settings (its rules are in settings.py).

The field names are also the ``--set`` keys of ``manage.py connections``
(a credentials file there is ``--set credentials_file=PATH``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.files import File
from django.utils.html import format_html, format_html_join

from connectors import outbound
from connectors.base import ConnectorError, FormSection, setting_clean
from connectors.personio.settings import (
    ABSENCE_CHOICES,
    ABSENCES_OFF,
    DEFAULT_BASE_URL,
    DEFAULT_DAYS_AHEAD,
    DEFAULT_DAYS_BACK,
    DEFAULT_HEADER_ID,
    MAX_WINDOW_DAYS,
    credentials_parse,
    normalise_absences,
    normalise_attribute_key,
    normalise_base_url,
    normalise_days,
    normalise_full_sync_at,
    normalise_header_id,
)

if TYPE_CHECKING:
    from connectors.base import Connector

#: A credentials file is a few lines; anything bigger is not one.
MAX_CREDENTIALS_FILE_BYTES = 64 * 1024


class CredentialsFileInput(forms.FileInput):
    """A file input whose file may also arrive in the form's data: the
    settings services bind the form with data alone, so the page and the
    command line pass the uploaded file there."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        upload = super().value_from_datadict(data, files, name)
        if upload is None:
            value = data.get(name)
            upload = value if isinstance(value, File) else None
        return upload


class AttributeInput(forms.TextInput):
    """A text box for a Personio attribute key, offering the keys these
    credentials may read (``attributes``: key → label) as a datalist."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"spellcheck": "false", "autocomplete": "off", **(attrs or {})})
        self.attributes: dict[str, str] = {}

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        if not self.attributes:
            return super().render(name, value, attrs, renderer)
        list_id = f"{(attrs or {}).get('id') or name}-attributes"
        box = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join(
            "", '<option value="{}">{}</option>', ((key, f"{label} ({key})") for key, label in self.attributes.items())
        )
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)


class PersonioConfigForm(forms.Form):
    sections = (
        FormSection(
            "Connection",
            ("client_id", "client_secret", "credentials_file", "base_url", "partner_id", "app_id"),
            help="Create API credentials in Personio under Settings > Integrations > API credentials, "
            "and let them read the employee attributes hrsync syncs (and time-offs, for absences).",
        ),
        FormSection(
            "People",
            ("employee_number_attribute", "include_new", "use_hire_date", "use_last_working_day"),
            help="Other attributes can fill person fields: map them under Fields on the connection's "
            "Settings tab (or manage.py connections set … --set field_map.<field>=<attribute>).",
        ),
        FormSection(
            "Absences",
            ("absences", "absence_days_back", "absence_days_ahead", "only_approved_absences"),
        ),
        FormSection("Schedule", ("full_sync_at",)),
    )

    # Required, yet filled by a credentials file when one is uploaded
    # (``_credentials_fill`` runs before the fields are checked).
    client_id = forms.CharField(
        max_length=200,
        label="Client ID",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
        error_messages={"required": "Enter the client ID of the Personio API credentials, "
                        "or upload their credentials file."},
    )
    client_secret = forms.CharField(
        max_length=500,
        label="Client secret",
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        error_messages={"required": "Enter the client secret of the Personio API credentials, "
                        "or upload their credentials file."},
    )
    credentials_file = forms.FileField(
        required=False,
        label="Or: credentials file",
        widget=CredentialsFileInput(),
        help_text="The file with the client ID and client secret, instead of typing them (text or JSON). "
        "hrsync keeps the two values, not the file.",
    )
    base_url = forms.CharField(
        required=False,
        max_length=500,
        label="API address",
        initial=DEFAULT_BASE_URL,
        help_text=f"Leave {DEFAULT_BASE_URL} unless Personio gave you another address.",
    )
    partner_id = forms.CharField(
        required=False,
        max_length=100,
        label="Partner ID",
        initial=DEFAULT_HEADER_ID,
        help_text=f"Sent to Personio with every request (X-Personio-Partner-ID). Keep {DEFAULT_HEADER_ID} "
        "unless Personio gave your organisation its own, in capitals such as ACME_HR.",
    )
    app_id = forms.CharField(
        required=False,
        max_length=100,
        label="App ID",
        initial=DEFAULT_HEADER_ID,
        help_text=f"Sent with every request (X-Personio-App-ID). Keep {DEFAULT_HEADER_ID} unless "
        "Personio gave you another, in capitals.",
    )
    employee_number_attribute = forms.CharField(
        required=False,
        max_length=100,
        label="Employee number attribute",
        widget=AttributeInput(),
        help_text="Personio has no standard employee number: enter the attribute that holds yours, "
        "such as dynamic_21 (the list shows the attributes these credentials may read). "
        "Leave blank if you do not use one.",
    )
    include_new = forms.BooleanField(
        required=False,
        initial=True,
        label="Sync people found for the first time",
        help_text="Off: new people from Personio wait on the Employees tab, not synced, "
        "until you include them.",
    )
    use_hire_date = forms.BooleanField(
        required=False,
        initial=False,
        label="Give access from the hire date",
        help_text="People whose hire date is in the future are onboarding, without a login, until that day.",
    )
    use_last_working_day = forms.BooleanField(
        required=False,
        initial=False,
        label="Lock access after the last working day",
        help_text="A person's login is locked the day after their last working day in Personio.",
    )
    absences = forms.ChoiceField(
        required=False,
        choices=ABSENCE_CHOICES,
        initial=ABSENCES_OFF,
        label="Absences",
    )
    absence_days_back = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_WINDOW_DAYS,
        initial=DEFAULT_DAYS_BACK,
        label="Days back",
        help_text=f"How far into the past absences are synced (default {DEFAULT_DAYS_BACK}).",
    )
    absence_days_ahead = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_WINDOW_DAYS,
        initial=DEFAULT_DAYS_AHEAD,
        label="Days ahead",
        help_text=f"How far into the future absences are synced (default {DEFAULT_DAYS_AHEAD}).",
    )
    only_approved_absences = forms.BooleanField(
        required=False,
        initial=False,
        label="Only approved absences",
        help_text="Pending and rejected absences are left out.",
    )
    full_sync_at = forms.CharField(
        required=False,
        max_length=5,
        initial="06:30",
        label="Full sync at",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "06:30"}),
        help_text="With background sync, everyone is read once a day at this time (HH:MM); the syncs in "
        "between read only the people Personio changed.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._credentials_problem = ""
        if self.is_bound:
            self._credentials_fill()

    def _credentials_fill(self) -> None:
        """A credentials file fills the client ID and secret: it wins over
        what the boxes hold, so a new file replaces saved credentials."""
        name = self.add_prefix("credentials_file")
        upload = self.fields["credentials_file"].widget.value_from_datadict(self.data, self.files, name)
        if upload is None:
            return
        try:
            values = credentials_parse(_upload_text(upload))
        except ValueError as exc:
            self._credentials_problem = str(exc)
            return
        data = self.data.copy()
        for field_name, value in values.items():
            data[self.add_prefix(field_name)] = value
        self.data = data

    # -- one field at a time ----------------------------------------------

    def clean_credentials_file(self) -> None:
        if self._credentials_problem:
            raise forms.ValidationError(self._credentials_problem, code="invalid")
        return None  # its values are in the two fields; the file itself is not kept

    def clean_client_id(self) -> str:
        return (self.cleaned_data.get("client_id") or "").strip()

    def clean_client_secret(self) -> str:
        return (self.cleaned_data.get("client_secret") or "").strip()

    def clean_base_url(self) -> str:
        return setting_clean(self, "base_url", normalise_base_url)

    def clean_partner_id(self) -> str:
        return setting_clean(self, "partner_id", normalise_header_id)

    def clean_app_id(self) -> str:
        return setting_clean(self, "app_id", normalise_header_id)

    def clean_employee_number_attribute(self) -> str:
        return setting_clean(self, "employee_number_attribute", normalise_attribute_key, optional=True)

    def clean_absences(self) -> str:
        return setting_clean(self, "absences", normalise_absences)

    def clean_absence_days_back(self) -> int:
        return setting_clean(self, "absence_days_back", lambda v: normalise_days(v, default=DEFAULT_DAYS_BACK))

    def clean_absence_days_ahead(self) -> int:
        return setting_clean(self, "absence_days_ahead", lambda v: normalise_days(v, default=DEFAULT_DAYS_AHEAD))

    def clean_full_sync_at(self) -> str:
        return setting_clean(self, "full_sync_at", normalise_full_sync_at)

    # -- on an existing connection's pages ---------------------------------

    def source_offer(self, *, connector: Connector | None) -> None:
        """Offer the attributes these credentials may read (Personio's
        ``GET /v1/company/employees/attributes``) in the employee number
        box. When they cannot be read, the box stays plain and its help
        says why: the Settings page never fails because Personio does."""
        widget = self.fields["employee_number_attribute"].widget
        if connector is None or not hasattr(connector, "attribute_labels"):
            return
        try:
            # A settings page opens in a few seconds, whatever Personio does: the
            # list is a convenience, a Test connection is where to wait.
            with outbound.deadline(
                seconds=min(ATTRIBUTE_LIST_SECONDS, settings.HRSYNC_WEB_CHECK_SECONDS),
                then="Type the attribute's key instead.",
            ):
                labels = connector.attribute_labels()
        except ConnectorError as exc:
            # A permanent error (credentials refused) is the admin's to fix; a
            # slow or busy Personio is not, and "try again at the next sync"
            # would be a strange thing to read on a form.
            why = (
                exc.message
                if exc.permanent
                else "Personio did not answer in time. Type the attribute's key, such as dynamic_21."
            )
            self.fields["employee_number_attribute"].help_text = (
                f"{self.fields['employee_number_attribute'].help_text} "
                f"(hrsync could not list the attributes: {why})"
            )
            return
        widget.attributes = dict(labels)


#: The longest a Settings page waits for Personio's list of attributes.
ATTRIBUTE_LIST_SECONDS = 5


def _upload_text(upload: Any) -> str:
    """The uploaded file as text. Raises ValueError (never quoting it)."""
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_CREDENTIALS_FILE_BYTES:
        raise ValueError("The credentials file is too big to be one; upload the few lines Personio gave you.")
    upload.seek(0)
    raw = upload.read(MAX_CREDENTIALS_FILE_BYTES + 1)
    upload.seek(0)
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("The credentials file is not a text or JSON file.") from None


__all__ = ["PersonioConfigForm"]
