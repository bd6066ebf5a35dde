"""Reading a CSV file as it arrives, one record at a time.

The bytes are split into physical lines, each line is decoded on its own
(so an invalid byte is reported with its line number), and the lines are fed
to ``csv.reader``. Nothing holds more than one line (plus one read chunk) of
the file at a time, so a 500,000-row file streams through in constant memory.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Protocol

from connectors.base import ConnectorError

READ_SIZE = 64 * 1024
#: A "line" longer than this is not CSV (or its quotes are broken).
MAX_LINE_BYTES = 4 * 1024 * 1024
#: A quoted value may hold line breaks (an address, a note), but one running
#: past this many lines is a stray quote swallowing the records after it.
MAX_QUOTED_LINES = 50
# csv's own field limit (128 KB by default) would fail the whole file on one
# long value in a well-formed row. The reader's bounds above are the real
# ones: no field is longer than a line or a quoted value may be, so a long
# value reaches the column mapping (a row error), and a runaway quote is
# stopped where it opened (a file error).
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))
#: Separators auto-detection chooses between, in order of preference on a tie.
CANDIDATES = (",", ";", "\t", "|")
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "latin-1": "Latin-1", "cp1252": "Windows-1252"}


class BinaryStream(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class IteratorStream:
    """A read-only binary stream over an iterator of byte chunks (a download
    arriving piece by piece). ``read(n)`` returns at most ``n`` bytes, and
    b"" at the end."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            data, self._buffer = self._buffer + b"".join(self._chunks), b""
            return data
        while not self._buffer:
            try:
                self._buffer = bytes(next(self._chunks))
            except StopIteration:
                return b""
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def separator_name(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else f"'{delimiter}'"


def physical_lines(
    stream: BinaryStream, *, read_size: int = READ_SIZE, max_line: int = MAX_LINE_BYTES
) -> Iterator[bytes]:
    """The stream's lines with their endings (\\n, \\r\\n or a lone \\r),
    read ``read_size`` bytes at a time."""
    pending = b""
    line_number = 0
    while True:
        chunk = stream.read(read_size)
        if not chunk:
            break
        data = pending + chunk if pending else chunk
        lines = data.splitlines(keepends=True)
        if len(data) > max_line:
            for index, line in enumerate(lines):
                if len(line) > max_line:
                    raise ConnectorError(
                        f"Line {line_number + index + 1} is longer than {max_line // (1024 * 1024)} MB; "
                        "this does not look like a CSV file of people.",
                        permanent=True,
                    )
        last = lines[-1]
        # A last piece without "\n" may continue in the next chunk (including
        # a "\r" whose "\n" has not arrived yet).
        if not last.endswith(b"\n"):
            pending = lines.pop()
        else:
            pending = b""
        line_number += len(lines)
        yield from lines
    if pending:
        yield pending


def decoded_lines(lines: Iterator[bytes], *, codec: str) -> Iterator[str]:
    """Each line decoded; a byte that is not valid in ``codec`` stops the read
    with the line number."""
    decoder = None
    number = 0
    for number, raw in enumerate(lines, start=1):
        if number == 1:
            if raw.startswith(_UTF16_BOMS):
                raise ConnectorError(
                    "The file is UTF-16 (\"Unicode text\"), which hrsync does not read; "
                    "save it as CSV UTF-8.",
                    permanent=True,
                )
            if raw.startswith(_UTF8_BOM):
                # A byte order mark says UTF-8, whatever the setting says.
                codec = "utf-8-sig"
            decoder = codecs.getincrementaldecoder(codec)(errors="strict")
        try:
            yield decoder.decode(raw)
        except UnicodeDecodeError:
            raise _encoding_error(number, codec) from None
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _encoding_error(number, codec) from None


def _encoding_error(line: int, codec: str) -> ConnectorError:
    name = ENCODING_NAMES.get(codec, codec)
    others = ", ".join(n for n in ("UTF-8", "Latin-1", "Windows-1252") if n != name)
    return ConnectorError(
        f"Line {line} is not valid {name}; choose the file's encoding ({others}) in the settings.",
        permanent=True,
    )


def _unclosed_quote(line: int, how: str) -> ConnectorError:
    return ConnectorError(
        f"The quote that opens on line {line} {how}, so everything after it would be read as one "
        "value. A value that starts with a quote must end with one (a quote inside a value is "
        'written twice: ""); correct that line, then sync again.',
        permanent=True,
    )


def _width(line: str, delimiter: str, quotechar: str | None) -> int:
    try:
        return len(next(csv.reader([line], **_dialect(delimiter, quotechar)), []))
    except csv.Error:
        return line.count(delimiter) + 1


def _dialect(delimiter: str, quotechar: str | None) -> dict:
    if quotechar is None:
        return {"delimiter": delimiter, "quoting": csv.QUOTE_NONE}
    return {"delimiter": delimiter, "quotechar": quotechar, "doublequote": True}


def choose_delimiter(first_line: str, delimiter: str | None, quotechar: str | None) -> str:
    """The separator to use, from the setting or (``None``) the first line.

    With a separator set, a first line it does not split while another one
    would is almost certainly the wrong setting: say which one.
    """
    widths = {candidate: _width(first_line, candidate, quotechar) for candidate in CANDIDATES}
    if delimiter is None:
        best = max(CANDIDATES, key=lambda c: (widths[c], -CANDIDATES.index(c)))
        return best
    if _width(first_line, delimiter, quotechar) == 1:
        better = [c for c in CANDIDATES if c != delimiter and widths[c] > 1]
        if better:
            best = max(better, key=lambda c: (widths[c], -CANDIDATES.index(c)))
            raise ConnectorError(
                f"Only one column found — is the separator {separator_name(best)}? "
                "Change the field separator in the connection settings (or choose auto).",
                permanent=True,
            )
    return delimiter


class CsvTable:
    """The rows of a CSV stream, with the header and the line each row starts on.

    ``delimiter`` None means detect it from the first line; ``quotechar``
    None means fields are never quoted.
    """

    def __init__(
        self,
        stream: BinaryStream,
        *,
        delimiter: str | None,
        codec: str,
        quotechar: str | None,
        has_header: bool,
        read_size: int = READ_SIZE,
    ) -> None:
        lines = decoded_lines(physical_lines(stream, read_size=read_size), codec=codec)
        peeked: list[str] = []
        first = None
        for line in lines:
            peeked.append(line)
            if line.strip():
                first = line
                break
        if first is None:
            raise ConnectorError(
                "The file is empty" + (" (it has only blank lines)" if peeked else "")
                + "; a roster needs at least a header row.",
                permanent=True,
            )
        self.delimiter = choose_delimiter(first, delimiter, quotechar)
        self._last_line = 0  # the physical line the previous record ended on
        self._record_start = 1  # the physical line the record being read starts on
        self._reader = csv.reader(
            self._bounded(chain(peeked, lines)), **_dialect(self.delimiter, quotechar)
        )
        self.header: list[str] | None = None
        self.header_line = 0
        self._first_row: tuple[int, list[str]] | None = None
        if has_header:
            found = self._next()
            if found is None:
                raise ConnectorError(
                    "The file has no header row with any names in it.",
                    permanent=True,
                )
            self.header_line, self.header = found[0], [h.strip() for h in found[1]]
            self.width = len(self.header)
        else:
            self._first_row = self._next()
            self.width = len(self._first_row[1]) if self._first_row else 0

    def _next(self) -> tuple[int, list[str]] | None:
        """The next non-blank record and the line it starts on."""
        while True:
            start = self._record_start = self._last_line + 1
            try:
                row = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                raise ConnectorError(
                    f"The record starting on line {start} is not valid CSV ({exc}); "
                    "is a quote character missing?",
                    permanent=True,
                ) from None
            self._last_line = self._reader.line_num
            if any(cell.strip() for cell in row):
                return start, row

    def _bounded(self, lines: Iterable[str]) -> Iterator[str]:
        """The lines for ``csv.reader``, stopping a quoted value that never ends.

        The reader asks for the next line before the record ends only while
        a quoted value is open, so a record running past MAX_QUOTED_LINES
        (or MAX_LINE_BYTES), or still open at the end of the file, is a
        stray quote: every record after it would be read as part of one value,
        and everyone listed there would look as if they had left.
        """
        size = 0
        for number, line in enumerate(lines, start=1):
            if number == self._record_start:
                size = len(line)
            else:
                size += len(line)
                if number - self._record_start >= MAX_QUOTED_LINES:
                    raise _unclosed_quote(
                        self._record_start, f"is not closed within {MAX_QUOTED_LINES} lines"
                    )
                if size > MAX_LINE_BYTES:
                    raise _unclosed_quote(
                        self._record_start, f"is not closed within {MAX_LINE_BYTES // (1024 * 1024)} MB"
                    )
            yield line
        if self._reader.line_num >= self._record_start:
            raise _unclosed_quote(self._record_start, "is never closed: the file ends inside it")

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, fields)`` for every record after the header."""
        if self._first_row is not None:
            first, self._first_row = self._first_row, None
            yield first
        while (found := self._next()) is not None:
            line, fields = found
            if self._last_line > line and len(fields) != self.width:
                # A quoted value over several lines that leaves the record
                # the wrong shape is a stray quote another quote closed further
                # down: the people on the lines between would look as if they
                # had left.
                raise ConnectorError(
                    f"The quote that opens on line {line} closes only on line {self._last_line}, so "
                    f"lines {line} to {self._last_line} would be read as one record of {len(fields)} "
                    f"fields where the header has {self.width}. A value that starts with a quote must "
                    'end with one (a quote inside a value is written twice: ""); correct that line, '
                    "then sync again.",
                    permanent=True,
                )
            yield found
