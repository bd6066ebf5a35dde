"""Settings for a CSV file connection, and its column-mapping page's form.

The field names are also the ``--set`` keys of ``manage.py connections``.
Each normaliser below raises ValueError with a sentence for the admin; the
connector calls the same functions at run time, so a setting that was valid
when saved but no longer is (``HRSYNC_ALLOW_LOCAL_FILES`` turned off) is
refused with the same words.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from django import forms
from django.conf import settings

from connections.previews import person_field_label
from connectors.base import ColumnLayout, address_split, setting_clean
from connectors.http import insecure_loopback_allowed
from connectors.outbound import is_local_host
from connectors.csv_file import columns as column_rules
from connectors.csv_file import ssh

DEFAULT_PORTS = {"sftp": 22, "https": 443, "http": 80}

#: Setting value → the character the csv module uses (None: detect it).
DELIMITERS: dict[str, str | None] = {"auto": None, ",": ",", ";": ";", "|": "|", "tab": "\t"}
_DELIMITER_ALIASES = {
    "": "auto", "detect": "auto", "comma": ",", "semicolon": ";", "pipe": "|",
    "\t": "tab", "\\t": "tab", "tabs": "tab",
}
DELIMITER_CHOICES = [
    ("auto", "Detect automatically"),
    (",", "Comma ,"),
    (";", "Semicolon ;"),
    ("|", "Pipe |"),
    ("tab", "Tab"),
]

#: Setting value → Python codec. "utf-8" strips a byte order mark if there is one.
ENCODINGS: dict[str, str] = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "cp1252": "cp1252"}
ENCODING_LABELS = {"utf-8": "UTF-8", "latin-1": "Latin-1", "cp1252": "Windows-1252"}
_ENCODING_ALIASES = {
    "": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "utf8-sig": "utf-8",
    "latin1": "latin-1", "iso-8859-1": "latin-1", "iso8859-1": "latin-1",
    "windows-1252": "cp1252", "win-1252": "cp1252", "ansi": "cp1252",
}
ENCODING_CHOICES = [
    ("utf-8", "UTF-8 (with or without BOM)"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
    ("cp1252", "Windows-1252"),
]

DEFAULT_QUOTECHAR = '"'
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
#: Friendly date tokens an admin may type instead of strftime codes.
_DATE_TOKENS = [("YYYY", "%Y"), ("YY", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("DD", "%d")]


@dataclass(frozen=True, slots=True)
class FileAddress:
    """Where the file is. ``path`` is percent-decoded; ``url`` is what an
    HTTPS request is sent to. Nothing here is secret (no user-info allowed)."""

    scheme: str  # "sftp", "https", "http" (loopback only) or "file"
    host: str
    port: int | None
    path: str
    url: str

    @property
    def where(self) -> str:
        """``host[:port]/path`` (no scheme): for messages and logs."""
        if self.scheme == "file":
            return f"this server's {self.path}"
        port = "" if self.port in (None, DEFAULT_PORTS.get(self.scheme)) else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = self.path if self.path.startswith("/") else f"/~/{self.path}"
        return f"{host}{port}{path}"

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def local_files_allowed() -> bool:
    """``file://`` addresses are for trying hrsync out and for tests: on in
    the embedded default, off in a deployment unless HRSYNC_ALLOW_LOCAL_FILES."""
    return bool(getattr(settings, "HRSYNC_ALLOW_LOCAL_FILES", False))


def parse_uri(value: str) -> FileAddress:
    """The file's address, validated. Error messages never repeat the URI
    (it might carry a password someone typed into it)."""
    text = str(value or "").strip()
    example = "such as sftp://files.example.com/exports/staff.csv or https://hr.example.com/staff.csv"
    if not text:
        raise ValueError(f"Enter the full address of the file, {example}.")
    parts = address_split(text, invalid=f"Enter a valid address, {example}.")
    port = parts.port
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "Do not put a user name or password in the address; use the Username and "
            "Password fields."
        )

    if scheme == "file":
        if not local_files_allowed():
            raise ValueError(
                "Local files (file://) are not allowed on this server; use sftp:// or https://. "
                "(An operator can allow them with HRSYNC_ALLOW_LOCAL_FILES.)"
            )
        if host not in ("", "localhost"):
            raise ValueError("A file:// address names a file on this server: file:///path/to/staff.csv.")
        path = unquote(parts.path)
        if not path.startswith("/") or path.endswith("/"):
            raise ValueError("A file:// address needs the absolute path of a file: file:///path/to/staff.csv.")
        return FileAddress("file", "", None, path, f"file://{parts.path}")

    insecure_ok = scheme == "http" and is_local_host(host) and insecure_loopback_allowed()
    if scheme not in ("sftp", "https") and not insecure_ok:
        raise ValueError(f"The address must start with sftp:// or https://, {example}.")
    if not host:
        raise ValueError(f"The address has no host name, {example}.")
    if parts.fragment:
        raise ValueError("The address cannot have a fragment (#…).")
    if not parts.path or parts.path.endswith("/"):
        raise ValueError(f"The address must end with the file's name, {example}.")
    port = port or DEFAULT_PORTS[scheme]
    if scheme == "sftp":
        if parts.query:
            raise ValueError("An sftp:// address cannot have a query (?…).")
        path = unquote(parts.path)
        # sftp://host/~/staff.csv: a path relative to the account's home folder.
        if path.startswith("/~/"):
            path = path[3:]
        return FileAddress("sftp", host, port, path, "")
    netloc = parts.netloc
    return FileAddress(scheme, host, port, unquote(parts.path),
                       f"{scheme}://{netloc}{parts.path}" + (f"?{parts.query}" if parts.query else ""))


def normalise_uri(value: str) -> str:
    text = str(value or "").strip()
    parse_uri(text)
    return text


def normalise_delimiter(value: Any) -> str:
    text = str(value if value is not None else "")
    key = text if text in DELIMITERS else _DELIMITER_ALIASES.get(text.strip().lower(), text.strip().lower())
    if key not in DELIMITERS:
        raise ValueError("Choose the field separator: auto, \",\", \";\", \"|\" or tab.")
    return key


def normalise_encoding(value: Any) -> str:
    text = str(value or "").strip().lower().replace("_", "-")
    key = text if text in ENCODINGS else _ENCODING_ALIASES.get(text, text)
    if key not in ENCODINGS:
        raise ValueError("Choose the encoding: utf-8, latin-1 or cp1252 (Windows-1252).")
    return key


def normalise_quotechar(value: Any) -> str:
    """One character, or "none" (fields are never quoted)."""
    text = str(value if value is not None else "")
    if text == "":
        return DEFAULT_QUOTECHAR
    if text.strip().lower() == "none":
        return "none"
    if len(text) != 1 or text in "\r\n" or text.isalnum():
        raise ValueError('The quote character is one character, such as " or \', or "none".')
    return text


def normalise_date_format(value: Any) -> str:
    """A strftime format; DD/MM/YYYY-style tokens are accepted and translated."""
    text = str(value or "").strip()
    if not text or text.lower() in {"iso", "iso-8601", "iso8601"}:
        return DEFAULT_DATE_FORMAT
    if "%" not in text:
        for token, code in _DATE_TOKENS:
            text = text.replace(token, code)
    has_day = "%d" in text
    has_month = any(code in text for code in ("%m", "%b", "%B"))
    has_year = any(code in text for code in ("%Y", "%y"))
    if not (has_day and has_month and has_year):
        raise ValueError(
            "The date format needs a day, a month and a year, such as %d/%m/%Y (or DD/MM/YYYY)."
        )
    sample = dt.date(2001, 2, 3)
    try:
        if dt.datetime.strptime(sample.strftime(text), text).date() != sample:
            raise ValueError
    except ValueError:
        raise ValueError("The date format cannot be read back reliably; use one such as %d/%m/%Y.") from None
    return text


def human_date_format(fmt: str) -> str:
    """``%d/%m/%Y`` → ``DD/MM/YYYY``, for messages."""
    text = fmt
    for token, code in reversed(_DATE_TOKENS):
        text = text.replace(code, token)
    return text


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


class CsvFileConfigForm(forms.Form):
    uri = forms.CharField(
        max_length=2000,
        label="File address",
        help_text=(
            "The full address of the file: sftp://host[:port]/path/staff.csv or "
            "https://host[:port]/path/staff.csv. sftp://host/~/staff.csv is relative to the "
            "account's home folder."
        ),
    )
    username = forms.CharField(
        required=False,
        max_length=200,
        label="Username",
        help_text="SFTP: required. HTTPS: only if the web server asks for a login (HTTP Basic).",
    )
    password = forms.CharField(
        required=False,
        max_length=500,
        label="Password",
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )
    private_key = forms.CharField(
        required=False,
        max_length=20000,
        label="Private key (SFTP)",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="OpenSSH or PEM; Ed25519, ECDSA or RSA. Instead of, or as well as, the password.",
    )
    passphrase = forms.CharField(
        required=False,
        max_length=500,
        label="Key passphrase",
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Only if the private key is encrypted.",
    )
    host_key = forms.CharField(
        required=False,
        max_length=20000,
        label="Pinned host key (SFTP)",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
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
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
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
        help_text="Such as %d/%m/%Y or DD/MM/YYYY. ISO dates (2024-01-31) are always accepted.",
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
    return _TARGET_LABELS.get(target) or person_field_label(target)


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

    def values(self) -> dict[str, str]:
        """The connector settings the page owns (``ColumnMapped``).
        The manager and status columns are in ``columns``, so the separate
        settings are cleared rather than left to contradict them."""
        return {
            "columns": json.dumps(self.columns_value, ensure_ascii=False),
            "key_column": self.cleaned_data["key_column"],
            "manager_column": "",
            "status_column": "",
            "all_active": "true" if self.cleaned_data["status_source"] == "all_active" else "false",
        }
