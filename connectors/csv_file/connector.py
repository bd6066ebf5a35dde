"""CSV file: the whole roster as a CSV file on an SFTP or web server.

Many HR systems can only export a file. The admin points hrsync at it
(``uri``) and maps its columns to person fields; every sync downloads it,
parses it as it arrives and yields one RemoteEmployee per row. The file is
the whole roster (``full_snapshot``): whoever is missing from it has left,
subject to the safeguard.

* Where: ``sftp://host[:port]/path``, ``https://host[:port]/path``, or
  ``file:///path`` when HRSYNC_ALLOW_LOCAL_FILES is on (transport.py).
* SFTP trusts only a pinned host key (ssh.py); HTTPS verifies certificates
  against the system CAs or the connection's CA bundle.
* Format: separator (or auto-detect), encoding, quote character, header row
  or not, date format (reader.py).
* Columns: header name or position → person field / custom.<key>, the unique
  key, a manager column holding the manager's unique key, and a status
  column (through the status map) or "everyone is active" (columns.py).

A bad row (no key, a bad date, a ragged row) is a row error with its line
number; the file as a whole failing (no such file, a missing mapped column,
the wrong separator or encoding, a quote that never closes) stops the run
before anything changes.
Locations are the distinct values of the location column; reading them is a
second pass over the file, so scope=employees reads it once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from typing import Any, ClassVar

from connectors.base import (
    STANDARD_STATUS_MAP,
    Check,
    CheckOffer,
    ColumnLayout,
    ColumnMapped,
    Connector,
    ConnectorError,
    ConnectorPage,
    HostKeyOffer,
    HostKeyPinning,
    RemoteEmployee,
    RemoteLocation,
    SourceColumn,
)
from connectors.csv_file import columns as column_rules
from connectors.csv_file.columns import ColumnPlan, header_key, resolve_columns, suggest_columns
from connectors.csv_file.forms import CsvFileConfigForm
from connectors.csv_file.settings import CsvFileSettings, FileAddress, human_date_format
from connectors.csv_file.reader import CsvTable
from connectors.csv_file.transport import open_stream, sftp_fetch_host_key

logger = logging.getLogger(__name__)

PREVIEW_ROWS = 10


class CsvFileConnector(HostKeyPinning, ColumnMapped, Connector):
    kind = "csv_file"
    label = "CSV file (SFTP/HTTPS)"
    description = "Reads a CSV file of employees from an SFTP server or an HTTPS address on every sync."
    config_form = CsvFileConfigForm
    settings_class = CsvFileSettings
    settings: CsvFileSettings
    secret_fields = ("password", "private_key", "passphrase")
    streams = frozenset({"employees", "locations"})
    full_snapshot = True
    check_preview = True
    locations_in_records = True
    column_targets = column_rules.TARGETS
    pages = (
        ConnectorPage(
            label="Column mapping",
            url_name="columns",
            settings_help="Choose which person field each column fills on the {link} page, from the file's own "
            "header.",
            next_step=True,
        ),
    )
    default_status_map: ClassVar[dict[str, str]] = {
        **STANDARD_STATUS_MAP,
        "Leaver": "terminated",
        "Left": "terminated",
    }
    #: Per connection: the mapped person fields. With automatic columns
    #: nobody knows them until the header is read, so until then (the Person
    #: form asking which fields are read-only) every field a file could fill
    #: counts as owned; reading the file narrows it for the planner.
    provides: frozenset[str] = frozenset({*RemoteEmployee.PERSON_FIELDS, "depot", "manager"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            columns = self.settings.columns
        except ConnectorError:
            columns = {}  # reported when the file is read
        if columns:
            self.provides = self._explicit_provides(columns)

    def _explicit_provides(self, columns: Mapping[str, str]) -> frozenset[str]:
        owned = {t for t in columns.values() if t in RemoteEmployee.PERSON_FIELDS}
        if "location" in columns.values():
            owned.add("depot")
        if "manager" in columns.values() or self.settings.manager_column:
            owned.add("manager")
        return frozenset(owned)

    # -- settings ----------------------------------------------------------

    def custom_field_labels(self) -> dict[str, str]:
        """The header of the column mapped to each custom field."""
        prefix = column_rules.CUSTOM_PREFIX
        return {
            target[len(prefix):]: header
            for header, target in (self.settings.columns or {}).items()
            if target.startswith(prefix) and not header.isdigit()
        }

    @property
    def address(self) -> FileAddress:
        return self.settings.address

    def describe(self) -> str:
        try:
            address = self.address
        except ConnectorError:
            return self.label
        return address.where if address.scheme == "file" else f"{address.scheme}://{address.where}"

    # -- reading -----------------------------------------------------------

    @contextmanager
    def _scrubbed(self) -> Iterator[None]:
        """Belt and braces: no message may carry a secret, even one a server
        echoed back (a web server sees the password, and could put it in its
        reason phrase)."""
        try:
            yield
        except ConnectorError as exc:
            message = self.scrub(exc.message)
            if message == exc.message:
                raise
            raise ConnectorError(message, permanent=exc.permanent) from None

    @contextmanager
    def _table(self) -> Iterator[CsvTable]:
        with self._scrubbed(), self._open_table() as table:
            yield table

    @contextmanager
    def _open_table(self) -> Iterator[CsvTable]:
        settings = self.settings
        opener = open_stream(
            settings.address,
            username=settings.username,
            password=settings.password,
            private_key=settings.private_key,
            passphrase=settings.passphrase,
            host_key=settings.host_key,
            ca_bundle=settings.ca_bundle,
            scrub=self.scrub,
        )
        with opener as stream:
            logger.info("Reading %s", self.describe())
            yield CsvTable(
                stream,
                delimiter=settings.delimiter,
                codec=settings.codec,
                quotechar=settings.quotechar,
                has_header=settings.has_header,
            )

    def _plan(self, table: CsvTable) -> ColumnPlan:
        settings = self.settings
        plan = resolve_columns(
            header=table.header,
            width=table.width,
            columns=settings.columns,
            key_column=settings.key_column,
            manager_column=settings.manager_column,
            status_column=settings.status_column,
            all_active=settings.all_active,
            date_format=settings.date_format,
            date_format_label=human_date_format(settings.date_format),
        )
        # The fields this file fills are the fields this connection owns
        # (read by the planner after the records are fetched).
        self.provides = plan.provides()
        return plan

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        with self._table() as table:
            plan = self._plan(table)
            for line, row in table.rows():
                yield plan.record(line, row)

    def fetch_locations(self) -> Iterator[RemoteLocation]:
        columns = self.settings.columns
        if columns and "location" not in columns.values():
            return  # nothing to read the file for
        with self._table() as table:
            plan = self._plan(table)
            if plan.location is None:
                return
            seen: set[str] = set()
            for _line, row in table.rows():
                value = plan.location_of(row)
                if value and value not in seen and len(value) <= column_rules.MAX_KEY_LENGTH:
                    seen.add(value)
                    yield RemoteLocation(remote_id=value, name=value)

    def check(self) -> Check:
        """Read the head of the file and show how its first rows map."""
        try:
            with self._table() as table:
                if table.header is None and not self.settings.columns:
                    # Readable, and nothing to map it by yet: the Column mapping page is next.
                    return Check(ok=True, message=(
                        f"Read {self.address.where}: {table.width} columns and no header row. Map them "
                        "by position on the Column mapping page before the first sync."
                    ))
                plan = self._plan(table)
                sample = [
                    plan.preview(plan.record(line, row), line)
                    for line, row in islice(table.rows(), PREVIEW_ROWS)
                ]
        except ConnectorError as exc:
            return Check(ok=False, message=exc.message, offer=self._pin_offer_after(exc))
        where = self.address.where
        noun = "column" if table.width == 1 else "columns"
        if not sample:
            return Check(ok=True, message=f"Read {where}: {table.width} {noun}, but no rows after the header.")
        return Check(ok=True, message=f"Read {where}: {table.width} {noun}; the first rows map as shown.",
                     sample=sample)

    # -- host key and columns, for the web UI -------------------------------

    def host_key_fetch(self) -> HostKeyOffer | None:
        """The key an sftp:// server offers now (None for https:// and file://)."""
        if self.address.scheme != "sftp":
            return None
        line, fingerprint = sftp_fetch_host_key(self.settings.uri)
        _host, key_type, _blob = line.split()
        return HostKeyOffer(fingerprint=fingerprint, key_type=key_type, pin=line, setting="host_key")

    def _pin_offer_after(self, error: ConnectorError) -> CheckOffer | None:
        # Only a host key failure (none pinned yet, a changed key, a pin that
        # does not parse) is fixed by pinning: ssh.py's messages for those all
        # say "host key", and only then is the server asked for its key again.
        try:
            if self.address.scheme != "sftp" or "host key" not in error.message.lower():
                return None
            offer = self.host_key_fetch()
        except ConnectorError:
            return None
        if offer is None:
            return None
        return CheckOffer(
            template="csv_file/_host_key_offer.html",
            values={"fingerprint": offer.fingerprint, "key_type": offer.key_type},
        )

    def column_headers(self) -> ColumnLayout:
        """The header (or, without one, the width) and first row of the file,
        with the saved mapping, or suggestions from the header names."""
        with self._table() as table:
            first = next(table.rows(), None)
        header, width = table.header, table.width
        names = list(header) if header is not None else [""] * width
        first_row = first[1] if first is not None else []
        keys = [header_key(name) for name in names]
        # A column is referred to by its name when that is unambiguous, else
        # by its position (no header, an empty or a repeated name).
        refs = [
            name if name.strip() and keys.count(keys[i]) == 1 else str(i + 1)
            for i, name in enumerate(names)
        ]

        def index_of(ref: str) -> int | None:
            ref = str(ref).strip()
            hits = [i for i, key in enumerate(keys) if key and key == header_key(ref)]
            if len(hits) == 1:
                return hits[0]
            if not hits and ref.isdigit() and 1 <= int(ref) <= width:
                return int(ref) - 1
            return None

        targets = [""] * width
        unmatched: list[str] = []
        saved = self.settings.columns
        if saved:
            for ref, target in saved.items():
                position = index_of(ref)
                if position is None:
                    unmatched.append(ref)
                else:
                    targets[position] = target
        elif header is not None:
            for name, target in suggest_columns(header).items():
                targets[names.index(name)] = target
        all_active = self.settings.all_active
        if all_active and not saved:
            targets = ["" if target == "status" else target for target in targets]
        for setting, target in (("manager_column", "manager"), ("status_column", "status")):
            ref = getattr(self.settings, setting)
            position = index_of(ref) if ref else None
            if ref and position is None:
                unmatched.append(ref)
            elif position is not None and not saved:
                # An explicit setting beats a suggestion from the header names.
                targets = ["" if t == target else t for t in targets]
                targets[position] = target
            elif position is not None and not targets[position] and target not in targets:
                targets[position] = target

        key = ""
        key_ref = self.settings.key_column
        if key_ref:
            position = index_of(key_ref)
            if position is None:
                unmatched.append(key_ref)
        else:
            position = next(
                (targets.index(t) for t in ("employee_reference", "email") if t in targets), None
            )
        if position is not None:
            key = refs[position]
        columns = tuple(
            SourceColumn(
                ref=refs[i],
                label=names[i].strip() or f"Column {i + 1}",
                example=first_row[i].strip() if i < len(first_row) else "",
                target=targets[i],
            )
            for i in range(width)
        )
        return ColumnLayout(
            columns=columns,
            key=key,
            all_active=all_active,
            suggested=not saved,
            unmatched=tuple(dict.fromkeys(unmatched)),
        )


__all__ = ["CsvFileConnector", "sftp_fetch_host_key"]
