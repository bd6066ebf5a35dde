"""An employee file sent as CSV, for IT teams whose HR system exports nothing else.

It is posted to the same endpoint as the XML employee file and means the
same: every active employee, one a row, keyed by employee id (text, so
"00042" keeps its zeros). It is read with the CSV file connector's reader and
column mapping (``connectors.csv_file``), not a second CSV parser:

* the header row names the columns; the connection's ``csv_columns`` maps
  them ({header: field}); without one, headers named as the XML elements
  (``forename``, ``surname``, ``employee_id``, ``employee_type``,
  ``department``, ``start_date``, ``country``, ``email``; case, spaces and
  underscores aside) map as the XML file's elements do, so a CSV with the
  XML's names needs no setup;
* UTF-8, with or without a byte order mark; the separator is the
  ``csv_delimiter`` setting (or detected, with "auto");
* dates are YYYY-MM-DD, as in the XML file.

A file that cannot be read as a whole (no header, no employee id column, not
UTF-8, a quote that never closes) is refused as the XML reader refuses one:
``UploadRejected`` with the line, and nothing changes. A bad row (an empty
id, a bad date, a ragged row) is that row's error, as in a CSV file
connection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from connectors.base import ConnectorError, RemoteEmployee
from connectors.csv_file import columns as column_rules
from connectors.csv_file.reader import CsvTable
from connectors.csv_file.settings import DELIMITERS
from connectors.xml_upload.parsing import EMPLOYEE_ELEMENTS, EMPLOYEE_REQUIRED, UploadProblem, UploadRejected
from connectors.xml_upload.settings import CSV_KEY_TARGET, DEFAULT_CSV_DELIMITER

#: UTF-8, a byte order mark stripped when there is one.
CODEC = "utf-8-sig"
DATE_FORMAT = "%Y-%m-%d"
DATE_FORMAT_LABEL = "YYYY-MM-DD"

#: Each XML element → the field its column fills without a ``csv_columns``
#: setting, as the XML reader fills it; the connection's location element
#: fills the location (``department`` fills nothing else).
_ELEMENT_TARGETS = {
    "forename": "first_name",
    "surname": "last_name",
    "employee_id": CSV_KEY_TARGET,
    "employee_type": "custom.employee_type",
    "start_date": "hire_date",
    "country": "custom.country",
    "email": "email",
}
_LINE = re.compile(r"\bline (\d+)", re.IGNORECASE)
_NOT_UTF8 = re.compile(r"^Line (\d+) is not valid UTF-8")


def default_csv_columns(*, location_element: str) -> dict[str, str]:
    """The mapping of a CSV whose headers are the XML element names."""
    # In the XML file's order, for messages.
    return {
        element: "location" if element == location_element else _ELEMENT_TARGETS[element]
        for element in EMPLOYEE_ELEMENTS
        if element == location_element or element in _ELEMENT_TARGETS
    }


def _simple(name: str) -> str:
    # "Employee ID", "employee_id" and "EmployeeId" name the same column.
    return re.sub(r"[^a-z0-9]", "", str(name).casefold())


def _header_problem(table: CsvTable, message: str) -> UploadRejected:
    return UploadRejected(
        f"The CSV employee file was refused. {message}",
        [UploadProblem(line=table.header_line or None, employee_id="", message=message)],
    )


def _columns_for(table: CsvTable, *, columns: Mapping[str, str], location_element: str) -> dict[str, str]:
    """The mapping to read this file with: the setting, or the XML element
    names found in its header (the required ones must be there)."""
    if columns:
        return dict(columns)
    header = table.header or []
    by_name = {}
    for name in header:
        by_name.setdefault(_simple(name), name)
    wanted = default_csv_columns(location_element=location_element)
    missing = [element for element in EMPLOYEE_REQUIRED if _simple(element) not in by_name]
    if missing:
        shown = ", ".join(f"'{name.strip()}'" for name in header[:30]) + ("…" if len(header) > 30 else "")
        raise _header_problem(
            table,
            f"The header row (line {table.header_line}) has no {', '.join(missing)} column"
            f"{'s' if len(missing) > 1 else ''}. Name the columns as the XML file's elements "
            f"({', '.join(wanted)}), or map them in the connection's CSV columns setting. "
            f"Its columns are: {shown}.",
        )
    return {by_name[_simple(element)]: target for element, target in wanted.items() if _simple(element) in by_name}


def _rejected(exc: ConnectorError, *, header_line: int | None) -> UploadRejected:
    """The reader's refusal as the upload's; a problem of the header (a
    mapped column it lacks) is on the header's line."""
    message = exc.message
    if match := _NOT_UTF8.match(message):
        # The reader's advice names an encoding setting this connection does not have.
        message = (
            f"Line {match.group(1)} is not valid UTF-8. Save the file as CSV UTF-8 (in Excel: "
            "\"CSV UTF-8 (Comma delimited)\") and upload it again."
        )
    line = _LINE.search(message)
    return UploadRejected(
        f"The CSV employee file was refused. {message}",
        [UploadProblem(line=int(line.group(1)) if line else header_line, employee_id="", message=message)],
    )


def csv_employee_file_read(
    path: str | os.PathLike,
    *,
    columns: Mapping[str, str],
    delimiter: str = DEFAULT_CSV_DELIMITER,
    location_element: str = "department",
) -> list[RemoteEmployee]:
    """Every employee of the CSV employee file at ``path``, in file order,
    shaped as ``parsing.employee_file_read`` shapes the XML file's.

    ``columns``: the ``csv_columns`` setting ({} for the XML element names);
    ``delimiter``: the ``csv_delimiter`` setting. Raises UploadRejected for a
    file that cannot be read as a whole; OSError when it cannot be opened.
    """
    default = not columns
    header_line = None
    with open(path, "rb") as stream:
        try:
            table = CsvTable(
                stream, delimiter=DELIMITERS[delimiter], codec=CODEC, quotechar='"', has_header=True
            )
            header_line = table.header_line
            mapping = _columns_for(table, columns=columns, location_element=location_element)
            plan = column_rules.resolve_columns(
                header=table.header,
                width=table.width,
                columns=mapping,
                key_column="",
                manager_column="",
                status_column="",
                all_active=True,
                date_format=DATE_FORMAT,
                date_format_label=DATE_FORMAT_LABEL,
            )
            employees = []
            for line, row in table.rows():
                record = plan.record(line, row)
                # The file lists active employees only, spelled as the XML file's are.
                record.status = "active"
                if default and location_element in ("employee_type", "country"):
                    # The XML file keeps these as custom fields even when they name the location.
                    record.custom[location_element] = record.location_id
                employees.append(record)
        except ConnectorError as exc:
            raise _rejected(exc, header_line=header_line) from None
    if not employees:
        raise _header_problem(
            table, "The file has a header row but no employees; an employee file lists every active employee."
        )
    return employees
