"""The one way hrsync writes CSV for people to open: the run report download
and ``people export --format csv`` both go through ``csv_lines``.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(…)`` leaks data, ``=cmd|…`` runs programs), and values
come from HR systems anyone may have typed into. Such a cell is written with a
leading ``'``, which spreadsheets read as "this is text" (OWASP's advice).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

#: A spreadsheet evaluates a cell whose text starts with one of these.
FORMULA_STARTS = ("=", "+", "-", "@")
#: Spreadsheets trim these (and spaces) on import, so they may hide a formula,
#: and a cell starting with them is neutralised whatever follows.
CONTROL_STARTS = ("\t", "\r")


def csv_safe_cell(value: Any) -> Any:
    """``value`` as one CSV cell a spreadsheet shows rather than runs.

    Numbers (``int``/``float``) are written as they are: a spreadsheet reads
    ``-3`` as the number it is, never as a formula. Text is defused when it
    starts with a formula character, also after leading whitespace, since
    spreadsheets may trim it. Empty is ``""``, yes/no are ``true``/``false``,
    lists and objects are JSON.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict | list | tuple):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    if text.startswith(CONTROL_STARTS) or text.lstrip().startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Line:
    """A file whose ``write`` hands the line back, so rows stream one by one."""

    def write(self, line: str) -> str:
        return line


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Each row as one line of CSV (``\\n``-terminated), every cell made safe."""
    # Python 3.11's writer quotes a cell only for the characters of its line
    # terminator: writing with \r\n quotes a value holding either, so a stray
    # CR can never split a row; the line then ends with \n alone.
    writer = csv.writer(_Line(), lineterminator="\r\n")
    for row in rows:
        yield writer.writerow([csv_safe_cell(value) for value in row])[:-2] + "\n"
