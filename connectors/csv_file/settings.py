"""A CSV file connection's typed settings, and the normalisers its form and
the stored settings share. Each normaliser raises ValueError with a
sentence for the admin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from django import forms
from django.conf import settings

from connectors.base import ConnectorError, ConnectorSettings, address_split
from connectors.csv_file import columns as column_rules
from connectors.http import insecure_loopback_allowed
from connectors.outbound import is_local_host

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


@dataclass(frozen=True, slots=True)
class CsvFileSettings(ConnectorSettings):
    """Where the file is, how to log in, how to read it and how its columns
    map, as the reader takes them. Secrets stay out of ``repr``."""

    uri: str
    address: FileAddress
    username: str = ""
    password: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)
    passphrase: str = field(default="", repr=False)
    host_key: str = ""
    ca_bundle: str = ""
    delimiter: str | None = None  # the separator character; None: detect it
    codec: str = ENCODINGS["utf-8"]  # a Python codec
    quotechar: str | None = DEFAULT_QUOTECHAR  # None: fields are never quoted
    has_header: bool = True
    date_format: str = DEFAULT_DATE_FORMAT
    columns: Mapping[str, str] = field(default_factory=dict)  # {} : from the header names
    key_column: str = ""
    manager_column: str = ""
    status_column: str = ""
    all_active: bool = False

    @classmethod
    def from_stored(cls, *, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> CsvFileSettings:
        uri = str(config.get("uri") or "")
        try:
            address = parse_uri(uri)
        except ValueError as exc:
            raise ConnectorError(
                f"The file address in the connection settings is not valid: {exc}", permanent=True
            ) from None
        quotechar = _stored(config, "quotechar", normalise_quotechar, DEFAULT_QUOTECHAR)
        return cls(
            uri=uri,
            address=address,
            username=str(config.get("username") or ""),
            password=str(secrets.get("password") or ""),
            private_key=str(secrets.get("private_key") or ""),
            passphrase=str(secrets.get("passphrase") or ""),
            host_key=str(config.get("host_key") or ""),
            ca_bundle=str(config.get("ca_bundle") or ""),
            delimiter=DELIMITERS[_stored(config, "delimiter", normalise_delimiter, "auto")],
            codec=ENCODINGS[_stored(config, "encoding", normalise_encoding, "utf-8")],
            quotechar=None if quotechar == "none" else quotechar,
            has_header=_stored_flag(config.get("has_header", True)),
            date_format=_stored(config, "date_format", normalise_date_format, DEFAULT_DATE_FORMAT),
            columns=_stored(config, "columns", column_rules.normalise_columns, {}),
            key_column=str(config.get("key_column") or ""),
            manager_column=str(config.get("manager_column") or ""),
            status_column=str(config.get("status_column") or ""),
            all_active=_stored_flag(config.get("all_active", False)),
        )


def _stored(config: Mapping[str, Any], name: str, normalise: Any, default: Any) -> Any:
    value = config.get(name)
    if value in (None, ""):
        return default
    try:
        return normalise(value)
    except ValueError as exc:
        raise ConnectorError(f"The {name.replace('_', ' ')} setting is not valid: {exc}", permanent=True) from None


def _stored_flag(value: Any) -> bool:
    # The form stores a tick box as a boolean; JSON written by hand is read as the tick box reads it.
    return forms.BooleanField(required=False).to_python(value)
