"""The form of a CSV file connection's settings, and its column-mapping page's form.

The field names are also the ``--set`` keys of ``manage.py connections``.
The normalisers are in settings.py: the stored settings go through the same
ones, so a setting that was valid when saved but no longer is
(``HRSYNC_ALLOW_LOCAL_FILES`` turned off) is refused with the same words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from django import forms
from django.utils.html import format_html

from connectors.base import ColumnLayout, FormSection, setting_clean
from connectors.csv_file import columns as column_rules
from connectors.csv_file import ssh
from connectors.csv_file.settings import (
    DEFAULT_DATE_FORMAT,
    DEFAULT_QUOTECHAR,
    DELIMITER_CHOICES,
    ENCODING_CHOICES,
    local_files_allowed,
    normalise_date_format,
    normalise_delimiter,
    normalise_encoding,
    normalise_quotechar,
    normalise_uri,
    parse_uri,
)
from hrsync.people.labels import field_label


class _AliasChoiceField(forms.ChoiceField):
    """A select that also accepts the spellings an admin types on the command line."""

    def __init__(self, *, normalise, **kwargs: Any) -> None:
        self._normalise = normalise
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        try:
            return self._normalise(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


#: The choice of ``ChoiceOrOtherSelect`` that means "the text box says it".
OTHER_CHOICE = "other"

#: Common date formats, shown as a date an admin recognises.
DATE_FORMAT_CHOICES = [
    ("%Y-%m-%d", "2024-01-31 (YYYY-MM-DD)"),
    ("%d/%m/%Y", "31/01/2024 (DD/MM/YYYY)"),
    ("%m/%d/%Y", "01/31/2024 (MM/DD/YYYY)"),
    ("%d.%m.%Y", "31.01.2024 (DD.MM.YYYY)"),
    ("%d-%m-%Y", "31-01-2024 (DD-MM-YYYY)"),
    ("%d/%m/%y", "31/01/24 (DD/MM/YY)"),
    ("%d %b %Y", "31 Jan 2024 (D MMM YYYY)"),
    ("%d %B %Y", "31 January 2024 (D MMMM YYYY)"),
]


class ChoiceOrOtherSelect(forms.Select):
    """A select of common values and "Other…", with a text box for the rare
    value the list lacks. It posts one value, as a text box would: the
    choice, or the text when "Other…" is chosen; so the services and the
    command line set the setting as plain text. Without JavaScript the text
    box is always shown; connection-setup.js shows it only for "Other…"."""

    other_suffix = "_other"

    def __init__(self, *, choices: list[tuple[str, str]], other_label: str, attrs: dict | None = None) -> None:
        super().__init__(attrs={**(attrs or {}), "data-other-select": ""},
                         choices=[*choices, (OTHER_CHOICE, "Other…")])
        self.other_label = other_label

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        choice = data.get(name)
        if choice == OTHER_CHOICE:
            return data.get(name + self.other_suffix, "")
        return choice

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        text = "" if value is None else str(value)
        listed = text in {choice for choice, _label in self.choices} and text != OTHER_CHOICE
        select = super().render(name, text if listed else OTHER_CHOICE, attrs, renderer)
        other_id = f"{(attrs or {}).get('id') or name}{self.other_suffix}"
        box = forms.TextInput(attrs={"id": other_id, "spellcheck": "false"}).render(
            name + self.other_suffix, "" if listed else text, renderer=renderer
        )
        return format_html('{}<span class="other-value" data-other-value><label for="{}">{}</label>{}</span>',
                           select, other_id, self.other_label, box)


#: ``data-schemes``: the addresses a field is for (connection-setup.js hides it for the others).
SFTP_ONLY = {"data-schemes": "sftp"}
HTTPS_ONLY = {"data-schemes": "https"}
SIGN_IN = {"data-schemes": "sftp https"}


class CsvFileConfigForm(forms.Form):
    #: What the pages show, grouped. The column settings (``columns``,
    #: ``key_column``, …) are left to the Column mapping page; the command
    #: line sets them too.
    sections = (
        FormSection(
            "Where the file is",
            ("uri", "host_key", "ca_bundle"),
            help="Fields marked SFTP are for an sftp:// address, those marked HTTPS for an https:// address.",
        ),
        FormSection(
            "How to sign in",
            ("username", "password", "private_key", "passphrase"),
            help="An SFTP server needs a username and a password or private key. A web server (HTTPS) "
            "needs them only if it asks for a login.",
        ),
        FormSection(
            "How the file is written",
            ("delimiter", "encoding", "quotechar", "has_header", "date_format"),
        ),
    )

    uri = forms.CharField(
        max_length=2000,
        label="File address",
        widget=forms.TextInput(attrs={
            "data-scheme-source": "", "spellcheck": "false", "placeholder": "sftp://files.example.com/exports/staff.csv",
        }),
    )
    username = forms.CharField(
        required=False,
        max_length=200,
        label="Username",
        help_text="SFTP: required. HTTPS: only if the web server asks for a login (HTTP Basic).",
        widget=forms.TextInput(attrs=SIGN_IN),
    )
    username.required_when = "an SFTP address"
    password = forms.CharField(
        required=False,
        max_length=500,
        label="Password",
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs=SIGN_IN),
    )
    private_key = forms.CharField(
        required=False,
        max_length=20000,
        label="Private key (SFTP)",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", **SFTP_ONLY}),
        help_text="OpenSSH or PEM; Ed25519, ECDSA or RSA. Instead of, or as well as, the password.",
    )
    passphrase = forms.CharField(
        required=False,
        max_length=500,
        label="Key passphrase (SFTP)",
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs=SFTP_ONLY),
        help_text="Only if the private key is encrypted.",
    )
    host_key = forms.CharField(
        required=False,
        max_length=20000,
        label="Pinned host key (SFTP)",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", **SFTP_ONLY}),
        help_text=(
            "The SFTP server's key: a known_hosts line (host ssh-ed25519 AAAA…) or its "
            "SHA256:… fingerprint. hrsync never connects to a server whose key is not pinned; "
            "Test shows the key the server offers."
        ),
    )
    ca_bundle = forms.CharField(
        required=False,
        max_length=200000,
        label="CA bundle (HTTPS)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", **HTTPS_ONLY}),
        help_text=(
            "Only for a server with a private or self-signed certificate: its CA certificate(s), "
            "PEM (-----BEGIN CERTIFICATE-----…)."
        ),
    )
    delimiter = _AliasChoiceField(
        normalise=normalise_delimiter,
        choices=DELIMITER_CHOICES,
        initial="auto",
        required=False,
        label="Field separator",
    )
    encoding = _AliasChoiceField(
        normalise=normalise_encoding,
        choices=ENCODING_CHOICES,
        initial="utf-8",
        required=False,
        label="Encoding",
    )
    quotechar = forms.CharField(
        required=False,
        max_length=4,
        strip=False,
        initial=DEFAULT_QUOTECHAR,
        label="Quote character",
        help_text='Usually ". "none" if fields are never quoted.',
    )
    has_header = forms.BooleanField(
        required=False,
        initial=True,
        label="The file has a header row",
        help_text="Untick when the first row is already a person; then map columns by position (1, 2, 3…).",
    )
    date_format = forms.CharField(
        required=False,
        max_length=50,
        initial=DEFAULT_DATE_FORMAT,
        label="Date format",
        widget=ChoiceOrOtherSelect(choices=DATE_FORMAT_CHOICES, other_label="Other format"),
        help_text=(
            "How the file writes 31 January 2024. ISO dates (2024-01-31) are always accepted as well. "
            "For another format choose Other and type it, such as YYYY/DD/MM."
        ),
    )
    columns = forms.JSONField(
        required=False,
        initial={},
        label="Columns",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=(
            'Column (header name, or position 1, 2, 3…) → person field, such as '
            '{"Forename": "first_name", "Staff No": "employee_reference", "Shoe size": "custom.shoe_size"}. '
            "Fields: " + ", ".join(column_rules.TARGETS) + ", custom.<key>. "
            "Leave empty to map by the header names automatically."
        ),
    )
    key_column = forms.CharField(
        required=False,
        max_length=300,
        label="Unique key column",
        help_text=(
            "The column that identifies a person: the employee id, or the email when the file "
            "has none. Default: the column mapped to employee_reference, else email."
        ),
    )
    manager_column = forms.CharField(
        required=False,
        max_length=300,
        label="Manager column",
        help_text="A column holding the manager's unique key (optional).",
    )
    status_column = forms.CharField(
        required=False,
        max_length=300,
        label="Status column",
        help_text="Its values go through the status map. Or tick “Everyone in the file is active”.",
    )
    all_active = forms.BooleanField(
        required=False,
        initial=False,
        label="Everyone in the file is active",
        help_text="The file lists active people only; whoever is missing from it has left.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # file:// is named only where this server accepts it (HRSYNC_ALLOW_LOCAL_FILES).
        local = " or, on this server, file:///path/staff.csv (a file on the server itself)"
        self.fields["uri"].help_text = (
            "The full address of the file: sftp://host[:port]/path/staff.csv, "
            f"https://host[:port]/path/staff.csv{local if local_files_allowed() else ''}. "
            "sftp://host/~/staff.csv is relative to the account's home folder."
        )

    # -- one field at a time ------------------------------------------------

    def clean_uri(self) -> str:
        return setting_clean(self, "uri", normalise_uri)

    def clean_quotechar(self) -> str:
        return setting_clean(self, "quotechar", normalise_quotechar)

    def clean_date_format(self) -> str:
        return setting_clean(self, "date_format", normalise_date_format)

    def clean_host_key(self) -> str:
        return setting_clean(self, "host_key", ssh.normalise_host_pin, optional=True)

    def clean_ca_bundle(self) -> str:
        text = (self.cleaned_data.get("ca_bundle") or "").strip()
        if text and "-----BEGIN CERTIFICATE-----" not in text:
            raise forms.ValidationError(
                "The CA bundle must be PEM certificate(s), starting -----BEGIN CERTIFICATE-----.",
                code="invalid",
            )
        return text + "\n" if text else ""

    def clean_columns(self) -> dict[str, str]:
        return setting_clean(self, "columns", column_rules.normalise_columns)

    def clean_key_column(self) -> str:
        return (self.cleaned_data.get("key_column") or "").strip()

    def clean_manager_column(self) -> str:
        return (self.cleaned_data.get("manager_column") or "").strip()

    def clean_status_column(self) -> str:
        return (self.cleaned_data.get("status_column") or "").strip()

    # -- together -----------------------------------------------------------

    def clean(self) -> dict:
        cleaned = super().clean()
        address = None
        if not self.has_error("uri") and cleaned.get("uri"):
            address = parse_uri(cleaned["uri"])
        if address is not None and address.scheme == "sftp" and not cleaned.get("username"):
            self.add_error("username", "An SFTP login needs a username.")

        # The private key is checked when it is typed in. (A blank one on the
        # settings page keeps the stored key, which is not in this form.)
        key_text = cleaned.get("private_key") or ""
        if key_text.strip():
            try:
                ssh.load_private_key(key_text, cleaned.get("passphrase") or "", passphrase_optional=True)
            except ssh.KeyProblem as exc:
                self.add_error("passphrase" if exc.about_passphrase else "private_key", str(exc))

        if not self.has_error("columns"):
            try:
                column_rules.check_settings(
                    columns=cleaned.get("columns") or {},
                    has_header=bool(cleaned.get("has_header")),
                    key_column=cleaned.get("key_column") or "",
                    manager_column=cleaned.get("manager_column") or "",
                    status_column=cleaned.get("status_column") or "",
                    all_active=bool(cleaned.get("all_active")),
                )
            except column_rules.SettingProblem as exc:
                self.add_error(exc.field, str(exc))
        return cleaned


# -- the column-mapping page -------------------------------------------------------

#: A row's choice for "a custom field"; its key is typed beside it.
CUSTOM_TARGET = "custom"
CUSTOM_PREFIX = column_rules.CUSTOM_PREFIX
_TARGET_LABELS = {
    "location": "Location (depot)",
    "manager": "Manager (their unique key)",
    "status": "Status (through the status map)",
}


def target_label(target: str) -> str:
    """"first_name" → "First name"; "custom.shoe_size" → "custom field “shoe_size”"."""
    if target.startswith(CUSTOM_PREFIX):
        return f"custom field “{target[len(CUSTOM_PREFIX):]}”"
    return _TARGET_LABELS.get(target) or field_label(target)


class ColumnMappingForm(forms.Form):
    """Each column of the source → a person field, a custom field or nothing;
    which column is the unique key; where the status comes from.

    The rows' fields are ``target_<n>`` and ``custom_<n>`` for the n-th
    column of ``layout``. ``key_column`` is a radio in each row: a browser
    sends one, and a request with two is refused rather than half-applied.
    """

    key_column = forms.MultipleChoiceField(
        label="Unique key column",
        error_messages={
            "required": "Choose the unique key column: the employee id, or the email when the file has none.",
            "invalid_choice": "Choose the unique key column from the file's columns.",
        },
    )
    #: The columns the page showed: the file may have changed since, and a
    #: row's choice must never land on another column.
    seen_columns = forms.CharField(widget=forms.HiddenInput, required=False)
    status_source = forms.ChoiceField(
        label="Status",
        widget=forms.RadioSelect,
        choices=[
            ("column", "From the column mapped to Status (its values go through the status map)"),
            ("all_active", "Everyone in the file is active"),
        ],
        error_messages={"required": "Choose where each person's status comes from."},
    )

    def __init__(self, *args: Any, layout: ColumnLayout, targets: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.layout = layout
        choices = [("", "— ignore —"), *[(t, target_label(t)) for t in targets], (CUSTOM_TARGET, "Custom field…")]
        for i, column in enumerate(layout.columns):
            target, custom = column.target, ""
            if target.startswith(CUSTOM_PREFIX):
                target, custom = CUSTOM_TARGET, target[len(CUSTOM_PREFIX):]
            elif target not in targets:
                target = ""
            self.fields[f"target_{i}"] = forms.ChoiceField(
                label=f"{column.label} maps to", choices=choices, required=False, initial=target,
                widget=forms.Select(attrs={"data-target-select": ""}),
            )
            self.fields[f"custom_{i}"] = forms.CharField(
                label=f"Custom field key for {column.label}", required=False, max_length=100, initial=custom,
                widget=forms.TextInput(attrs={"placeholder": "such as shoe_size", "spellcheck": "false"}),
            )
        self.fields["key_column"].choices = [(column.ref, column.label) for column in layout.columns]
        self.fields["key_column"].initial = [layout.key] if layout.key else []
        self.fields["status_source"].initial = "all_active" if layout.all_active else "column"

    @property
    def columns_signature(self) -> str:
        """What ``seen_columns`` must say; rendered as it is now, also when a
        post with an older one is shown again."""
        return json.dumps([column.ref for column in self.layout.columns], ensure_ascii=False)

    def rows(self) -> Iterator[dict[str, Any]]:
        """One row per column, for the template."""
        keys = self["key_column"].value() or []
        for i, column in enumerate(self.layout.columns):
            yield {
                "index": i,
                "column": column,
                "target": self[f"target_{i}"],
                "custom": self[f"custom_{i}"],
                "is_key": column.ref in keys,
            }

    def clean_key_column(self) -> str:
        chosen = self.cleaned_data["key_column"]
        if len(chosen) > 1:
            raise forms.ValidationError(f"Choose one unique key column, not {len(chosen)}.")
        return chosen[0]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        mapped: dict[str, str] = {}  # target → the label of the column mapped to it
        self.columns_value: dict[str, str] = {}
        if cleaned.get("seen_columns") != self.columns_signature:
            raise forms.ValidationError(
                "The file's columns have changed since this page was opened: check the mapping below "
                "and save again."
            )
        for i, column in enumerate(self.layout.columns):
            target = cleaned.get(f"target_{i}") or ""
            if target == CUSTOM_TARGET:
                key = (cleaned.get(f"custom_{i}") or "").strip()
                if not key:
                    self.add_error(f"custom_{i}", "Enter the custom field's key, such as shoe_size.")
                    continue
                target = CUSTOM_PREFIX + key
            if not target:
                continue
            if target in mapped:
                self.add_error(
                    f"target_{i}",
                    f"“{mapped[target]}” is already mapped to {target_label(target)}: map each field from "
                    "one column.",
                )
                continue
            mapped[target] = column.label
            self.columns_value[column.ref] = target
        if not mapped and not self.errors:
            self.add_error(None, "Map at least one column to a person field.")
        source = cleaned.get("status_source")
        if source == "all_active" and "status" in mapped:
            self.add_error(
                "status_source",
                f"“{mapped['status']}” is mapped to Status, so not everyone in the file is active: "
                "take the status from it, or set that column to “ignore”.",
            )
        elif source == "column" and "status" not in mapped:
            self.add_error("status_source", "Map a column to Status, or choose “Everyone in the file is active”.")
        return cleaned

    def settings(self) -> dict[str, Any]:
        """The connector settings the page owns (``ColumnMapped``), typed.
        The manager and status columns are in ``columns``, so the separate
        settings are cleared rather than left to contradict them."""
        return {
            "columns": self.columns_value,
            "key_column": self.cleaned_data["key_column"],
            "manager_column": "",
            "status_column": "",
            "all_active": self.cleaned_data["status_source"] == "all_active",
        }
