"""Reading the employee and position files of an XML upload, safely and as they arrive.

An uploaded file comes from outside, so the reader trusts nothing in it:

* lxml parses it incrementally (``iterparse``), and every record is cleared
  once it is read, so a 100,000-employee file never becomes one tree in
  memory;
* entities are not resolved, nothing is fetched from the network, no DTD is
  loaded and libxml2's limits stay on (no huge-tree mode); a file with a
  ``<!DOCTYPE`` is refused outright, before its DTD is read, because a DTD is
  what XXE (reading the server's files), entity expansion ("billion laughs")
  and external DTDs need;
* a file nesting elements more than ``MAX_DEPTH`` deep is refused at the
  element that goes too deep, without reading further.

The formats are those of VENDORS.md ("XML files pushed to our REST API"); our
XSDs (``xsd/``, served to customers) describe the same rules, and the tests
check that the XSDs and this reader agree on every fixture.

Employee file: ``<employees>`` holding one or more ``<employee>``, each with
these elements in this order: ``forename``, ``surname``, ``employee_id``
(these three required and not empty), then ``employee_type``, ``department``,
``start_date`` (YYYY-MM-DD), ``country`` (ISO 3166 alpha-2, two capital
letters) and ``email``, each optional and allowed empty. Values are trimmed
of spaces and line breaks; ``employee_id`` is text, so "00042" and "42" are
two people. A repeated ``employee_id`` is not a problem of the file: the
planner reports those records as conflicts.

Position file: ``<positions>`` holding exactly one ``<root>``
(``position_title``, ``position_id``, optional ``employee_id``) and any
number of ``<position>`` (``position_title``, ``position_id``,
``parent_position_id``, optional ``employee_id``: empty or absent is a vacant
position). Every position must chain up to the root: a cycle, a parent that
is not in the file, a repeated ``position_id`` or an employee holding two
positions rejects the whole file.

Every problem of a file is an ``UploadProblem`` (line, employee id, a message
an HR admin can act on); the reader reads the whole file, collects them (up
to ``MAX_PROBLEMS``) and raises one ``UploadRejected`` listing them: a file
is used whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from connectors.base import RemoteEmployee

#: No upload nests deeper than 3 (file, record, value); this bound only
#: stops a hostile file early, well before libxml2's own limit of 256.
MAX_DEPTH = 32
#: A file with more problems than this is refused with the first ones: a
#: file this wrong is fixed at its source, not line by line.
MAX_PROBLEMS = 1_000
#: How much of the file's beginning is looked at for a DOCTYPE before lxml
#: reads it (the prolog: XML declaration, comments); the root element's
#: start catches one hidden behind a longer prolog.
PROLOG_BYTES = 64 * 1024

XSD_DIR = Path(__file__).resolve().parent / "xsd"
_XSD_NAMES = {"employee": "employees.xsd", "position": "positions.xsd"}

EMPLOYEE_ELEMENTS = (
    "forename",
    "surname",
    "employee_id",
    "employee_type",
    "department",
    "start_date",
    "country",
    "email",
)
EMPLOYEE_REQUIRED = ("forename", "surname", "employee_id")
#: The elements whose value can be the employee's location (their depot
#: through the Depots tab): the connection's ``location_element``.
LOCATION_ELEMENTS = ("department", "employee_type", "country")
ROOT_POSITION_ELEMENTS = ("position_title", "position_id", "employee_id")
POSITION_ELEMENTS = ("position_title", "position_id", "parent_position_id", "employee_id")
POSITION_REQUIRED = ("position_title", "position_id", "parent_position_id")

# XML's own white space (the XSDs' xs:token trims the same), not Python's
# wider idea of it: a no-break space is a value, as it is to the XSD.
_XML_SPACE = " \t\r\n"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
#: Attributes every XML file may carry: a pointer to its schema.
_ALLOWED_ATTRIBUTES = frozenset({f"{_XSI}noNamespaceSchemaLocation", f"{_XSI}schemaLocation"})
#: Each record's elements → their positions in its order, built once.
_ORDERS: dict[tuple[str, ...], dict[str, int]] = {}


def xsd_path(kind: str) -> Path:
    """Our XSD for an upload ``kind`` ("employee" or "position")."""
    try:
        return XSD_DIR / _XSD_NAMES[kind]
    except KeyError:
        raise ValueError(f"There is no schema for uploads of kind {kind!r}.") from None


@dataclass(frozen=True, slots=True)
class UploadProblem:
    """One reason a file was refused, where it is in the file: ``line`` (None
    when it is not one place, such as a missing root position) and the
    ``employee_id`` of the record concerned ("" when none)."""

    line: int | None
    employee_id: str
    message: str

    def as_result(self) -> dict[str, object]:
        """The problem as one of ``InboundFile.results`` (and a row of the error file)."""
        return {"line": self.line, "employee_id": self.employee_id, "message": self.message}


class UploadRejected(Exception):
    """The whole file is refused; nothing changes. ``message`` is one
    sentence for the upload's status; ``problems`` lists every problem found
    (at most ``MAX_PROBLEMS``)."""

    def __init__(self, message: str, problems: list[UploadProblem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Position:
    """One position of a position file; the root's ``parent_id`` is ""."""

    position_id: str
    title: str
    parent_id: str
    employee_id: str  # "" for a vacant position
    line: int | None


@dataclass(slots=True)
class PositionTree:
    """A position file that chains up to its one root: ``positions`` by id,
    the root included."""

    root_id: str
    positions: dict[str, Position] = field(default_factory=dict)


# -- the employee file -----------------------------------------------------------


def employee_file_read(path: str | os.PathLike, *, location_element: str = "department") -> list[RemoteEmployee]:
    """Every employee of the employee file at ``path``, in file order.

    ``location_element`` names the element whose value becomes each
    employee's ``location_id`` (one of ``LOCATION_ELEMENTS``). Raises
    UploadRejected listing every problem of the file (nothing of it is
    used then), ValueError for an unknown ``location_element``, OSError when
    the file cannot be opened.
    """
    if location_element not in LOCATION_ELEMENTS:
        raise ValueError(
            f"The location element must be one of {', '.join(LOCATION_ELEMENTS)}, not {shown(location_element)!r}."
        )
    reader = _Reader(path, what="employee file")
    employees: list[RemoteEmployee] = []
    for record in reader.records(root_tag="employees", record_tags=("employee",)):
        values = _record_values(
            reader, record, elements=EMPLOYEE_ELEMENTS, required=EMPLOYEE_REQUIRED, id_element="employee_id"
        )
        if values is None:
            continue
        line = record.sourceline
        employees.append(
            RemoteEmployee(
                remote_id=values["employee_id"],
                employee_reference=values["employee_id"],
                first_name=values["forename"],
                last_name=values["surname"],
                email=values.get("email", ""),
                hire_date=_date_or_none(values.get("start_date", "")),
                location_id=values.get(location_element, ""),
                # The file lists active employees only (VENDORS.md): whoever
                # is missing from it has left.
                status="active",
                custom={"employee_type": values.get("employee_type", ""), "country": values.get("country", "")},
                source_position=f"line {line}" if line else "",
            )
        )
    if not employees and not reader.problems and reader.root_seen:
        reader.add(None, "The file lists no <employee>; an employee file lists every active employee.")
    reader.finish()
    return employees


# -- the position file -----------------------------------------------------------


def position_file_read(path: str | os.PathLike) -> PositionTree:
    """The positions of the position file at ``path``, checked to chain up
    to its one root. Raises UploadRejected listing every problem of the file
    (a cycle or an orphan names the position ids), OSError when the file
    cannot be opened."""
    reader = _Reader(path, what="position file")
    positions: dict[str, Position] = {}
    roots: list[Position] = []
    holders: dict[str, Position] = {}
    for record in reader.records(root_tag="positions", record_tags=("root", "position")):
        is_root = record.tag == "root"
        values = _record_values(
            reader,
            record,
            elements=ROOT_POSITION_ELEMENTS if is_root else POSITION_ELEMENTS,
            required=POSITION_REQUIRED[:2] if is_root else POSITION_REQUIRED,
            id_element="employee_id",
        )
        line = record.sourceline
        if is_root and roots:
            reader.add(
                line,
                f"A second <root> (the first is on line {roots[0].line}); a position file has exactly one root "
                "position, the top of the organisation.",
                employee_id=(values or {}).get("employee_id", ""),
            )
            continue
        if values is None:
            if is_root:
                roots.append(Position("", "", "", "", line))  # so a second root is still reported
            continue
        position = Position(
            position_id=values["position_id"],
            title=values["position_title"],
            parent_id="" if is_root else values["parent_position_id"],
            employee_id=values.get("employee_id", ""),
            line=line,
        )
        if is_root:
            roots.append(position)
        if (first := positions.get(position.position_id)) is not None:
            reader.add(
                line,
                f"Position {shown(position.position_id)} is in the file twice (first on line {first.line}); "
                "each position_id must be unique.",
                employee_id=position.employee_id,
            )
            continue
        if position.employee_id and (held := holders.get(position.employee_id)) is not None:
            reader.add(
                line,
                f"Employee {shown(position.employee_id)} holds position {shown(position.position_id)} and also "
                f"position {shown(held.position_id)} (line {held.line}); an employee holds one position, which "
                "gives their job title and manager.",
                employee_id=position.employee_id,
            )
            continue
        positions[position.position_id] = position
        if position.employee_id:
            holders[position.employee_id] = position
    if reader.root_seen and not roots and not reader.malformed:
        reader.add(
            None, "The file has no <root> position; a position file has exactly one, the top of the organisation."
        )
    if roots and roots[0].position_id and not reader.problems:
        for line, message in _chain_problems(positions, root_id=roots[0].position_id):
            reader.add(line, message)
    reader.finish()
    return PositionTree(root_id=roots[0].position_id, positions=positions)


def _chain_problems(positions: dict[str, Position], *, root_id: str) -> Iterator[tuple[int | None, str]]:
    """Why positions do not chain up to the root: each orphan (a parent not
    in the file) and each cycle, once, in file order. Positions hanging
    below an orphan or a cycle are not reported again: fixing those fixes them."""
    reaches_root: dict[str, bool] = {root_id: True}
    for start in positions.values():
        if start.position_id in reaches_root:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        current = start.position_id
        while current not in reaches_root:
            if current in on_path:
                cycle = path[path.index(current) :]
                first = min((positions[pid] for pid in cycle), key=lambda p: p.line or 0)
                if len(cycle) == 1:
                    yield first.line, (
                        f"Position {shown(current)} is its own parent, so it does not chain up to the root "
                        f"position {shown(root_id)}."
                    )
                else:
                    names = [shown(pid) for pid in cycle]
                    ring = " → ".join([*names, names[0]])
                    yield first.line, (
                        f"Positions {', '.join(names[:-1])} and {names[-1]} form a cycle (each one's "
                        f"parent_position_id leads to the next: {ring}), so none of them chains up to the root "
                        f"position {shown(root_id)}. Give one of them a parent outside the cycle."
                    )
                result = False
                break
            path.append(current)
            on_path.add(current)
            parent_id = positions[current].parent_id
            if parent_id not in positions:
                position = positions[current]
                yield position.line, (
                    f"Position {shown(current)} has parent position {shown(parent_id)}, which is not in the file, "
                    f"so it does not chain up to the root position {shown(root_id)}."
                )
                result = False
                break
            current = parent_id
        else:
            result = reaches_root[current]
        for pid in path:
            reaches_root[pid] = result


def position_assignments(tree: PositionTree) -> dict[str, tuple[str, str]]:
    """Employee id → (job title, manager's employee id or "") for every
    filled position: the title of the position they hold, and as manager
    the holder of the nearest filled position above it (vacant ones are
    skipped; nobody above: "")."""
    children: dict[str, list[Position]] = {}
    for position in tree.positions.values():
        if position.position_id != tree.root_id:
            children.setdefault(position.parent_id, []).append(position)
    assignments: dict[str, tuple[str, str]] = {}
    root = tree.positions[tree.root_id]
    # Breadth first from the root, carrying the nearest holder above: no
    # recursion, so a chain of 10,000 positions is as easy as a flat one.
    queue: deque[tuple[Position, str]] = deque([(root, "")])
    while queue:
        position, holder_above = queue.popleft()
        if position.employee_id:
            assignments[position.employee_id] = (position.title, holder_above)
        below = position.employee_id or holder_above
        queue.extend((child, below) for child in children.get(position.position_id, ()))
    return assignments


# -- reading a file safely -------------------------------------------------------


def shown(text: str) -> str:
    """A value quoted in a message: on one line, and short (a file's value
    can be megabytes long)."""
    text = " ".join(text[:200].split())
    return text if len(text) <= 60 else text[:60] + "…"


def _date_or_none(text: str) -> dt.date | None:
    if not text:
        return None
    return dt.date.fromisoformat(text)


def _tag_name(tag: object) -> str:
    """How an element is named in a message: <name>, with its namespace when it has one."""
    if not isinstance(tag, str):
        return "<?>"
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return f"<{shown(local)}> (in namespace {shown(namespace)})"
    return f"<{shown(tag)}>"


def _text(value: str | None) -> str:
    return (value or "").strip(_XML_SPACE)


class _Reader:
    """One pass over one file: the safe iterparse, the depth limit, the
    file-level structure, and the problems found so far."""

    def __init__(self, path: str | os.PathLike, *, what: str) -> None:
        self.path = os.fspath(path)
        self.what = what  # "employee file"
        self.a_what = f"an {what}" if what[0] in "aeiou" else f"a {what}"
        self.problems: list[UploadProblem] = []
        self.problem_count = 0
        self.root_seen = False
        self.malformed = False

    def add(self, line: int | None, message: str, *, employee_id: str = "") -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(UploadProblem(line=line, employee_id=employee_id, message=message))

    def refuse(self, line: int | None, message: str) -> UploadRejected:
        """The file refused at once, for a reason that makes reading on pointless or unsafe."""
        self.add(line, message)
        return UploadRejected(f"The {self.what} was refused. {message}", self.problems)

    def finish(self) -> None:
        """Raise UploadRejected when any problem was found."""
        if not self.problem_count:
            return
        first = self.problems[0]
        if self.problem_count == 1:
            where = f"Line {first.line}: " if first.line else ""
            summary = f"The {self.what} was refused. {where}{first.message}"
        else:
            listed = (
                f" (the first {len(self.problems):,} are listed)" if self.problem_count > len(self.problems) else ""
            )
            where = f", on line {first.line}" if first.line else ""
            summary = (
                f"The {self.what} was refused: {self.problem_count:,} problems{listed}. "
                f"The first{where}: {first.message}"
            )
        raise UploadRejected(summary, self.problems)

    def _prolog_check(self) -> None:
        """Refuse a DOCTYPE before lxml reads it, and say plainly when the
        file is empty or not XML at all."""
        with open(self.path, "rb") as stream:
            head = stream.read(PROLOG_BYTES)
        offset = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        while True:
            while offset < len(head) and head[offset : offset + 1] in (b" ", b"\t", b"\r", b"\n"):
                offset += 1
            rest = head[offset:]
            if not rest:
                if len(head) < PROLOG_BYTES:
                    raise self.refuse(None, f"The file is empty; post an XML {self.what}.")
                return
            if rest.startswith(b"<!DOCTYPE"):
                raise self._doctype(head.count(b"\n", 0, offset) + 1)
            for opening, closing in ((b"<?", b"?>"), (b"<!--", b"-->")):
                if rest.startswith(opening):
                    end = head.find(closing, offset + len(opening))
                    if end < 0:
                        return  # a prolog longer than we look at: the root's start checks it
                    offset = end + len(closing)
                    break
            else:
                if not rest.startswith(b"<") and not rest.startswith((b"\xff\xfe", b"\xfe\xff")):
                    raise self.refuse(
                        1,
                        f"The file is not XML: it does not begin with an element such as <{self._root_tag}> "
                        "(a CSV or text file?).",
                    )
                return

    def _doctype(self, line: int | None) -> UploadRejected:
        return self.refuse(
            line,
            "The file has a <!DOCTYPE> declaration, which hrsync never reads: a DTD can make a file read other "
            "files or expand without end. Remove the <!DOCTYPE …> line and upload the file again.",
        )

    def _malformed(self, error: etree.XMLSyntaxError) -> UploadRejected:
        self.malformed = True
        # The first fatal error is the cause; lxml sometimes reports a
        # later symptom ("no element found") as the exception itself.
        fatal = [entry for entry in error.error_log if entry.level_name == "FATAL"]
        if fatal:
            line, message = fatal[0].line or None, fatal[0].message
        else:
            line, message = error.lineno or None, error.msg or str(error)
        if "Excessive depth" in message:
            return self.refuse(line, self._too_deep_message())
        message = shown(message.strip().rstrip("."))
        where = f" on line {line}" if line else ""
        return self.refuse(line, f"The file is not well-formed XML{where}: {message}.")

    def _too_deep_message(self) -> str:
        return (
            f"The file nests elements more than {MAX_DEPTH} deep, which no {self.what} does (it needs 3 levels); "
            "it was refused without reading further."
        )

    def _attribute_problems(self, element: etree._Element) -> Iterator[tuple[int | None, str]]:
        for name in element.attrib:
            if name not in _ALLOWED_ATTRIBUTES:
                yield element.sourceline, (
                    f"{_tag_name(element.tag)} has an attribute ({shown(etree.QName(name).localname)}); the "
                    f"elements of {self.a_what} carry no attributes, only their values as text."
                )

    def _stray_text(self, text: str | None, line: int | None, where: str) -> None:
        if value := _text(text):
            self.add(line, f"Text {shown(value)!r} {where}; text belongs inside the elements that hold values.")

    def records(self, *, root_tag: str, record_tags: tuple[str, ...]) -> Iterator[etree._Element]:
        """Each complete record element (a child of the root whose tag is in
        ``record_tags``), with its values; it is cleared once the caller has
        read it. Problems of the file's structure are collected; a file
        that cannot be read safely raises UploadRejected at once."""
        self._root_tag = root_tag
        self._prolog_check()
        etree.clear_error_log()
        context = etree.iterparse(
            self.path,
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        depth = 0
        root: etree._Element | None = None
        try:
            for event, element in context:
                if event == "start":
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise self.refuse(element.sourceline, self._too_deep_message())
                    if depth == 1:
                        root = element
                        self._root_check(element, root_tag=root_tag)
                    elif depth == 2:
                        # The text between two records is complete now; the
                        # records before this one are read and can go.
                        previous = element.getprevious()
                        if text := root.text if previous is None else previous.tail:
                            self._stray_text(text, element.sourceline, f"before {_tag_name(element.tag)}")
                        while element.getprevious() is not None:
                            del root[0]
                    continue
                depth -= 1
                if depth == 1:
                    if element.tag in record_tags:
                        if element.attrib:
                            for line, message in self._attribute_problems(element):
                                self.add(line, message)
                        yield element
                    else:
                        expected = " or ".join(f"<{tag}>" for tag in record_tags)
                        self.add(
                            element.sourceline,
                            f"Unknown element {_tag_name(element.tag)} in <{root_tag}>, which holds only {expected}.",
                        )
                    element.clear(keep_tail=True)
                elif depth == 0:
                    last = element[-1] if len(element) else None
                    self._stray_text(
                        element.text if last is None else last.tail,
                        element.sourceline if last is None else last.sourceline,
                        f"at the end of <{root_tag}>",
                    )
                    element.clear()
        except etree.XMLSyntaxError as error:
            if root is None and b"<!DOCTYPE" in self._head():
                raise self._doctype(None) from None
            raise self._malformed(error) from None

    def _head(self) -> bytes:
        with open(self.path, "rb") as stream:
            return stream.read(PROLOG_BYTES)

    def _root_check(self, element: etree._Element, *, root_tag: str) -> None:
        self.root_seen = True
        if element.getroottree().docinfo.doctype:
            raise self._doctype(None)
        if element.tag != root_tag:
            other = {"employees": "an employee file", "positions": "a position file"}.get(element.tag)
            hint = f" This looks like {other}: post it to the endpoint for those." if other else ""
            raise self.refuse(
                element.sourceline,
                f"The file's root element is {_tag_name(element.tag)}; {self.a_what} starts with "
                f"<{root_tag}>.{hint}",
            )
        for line, message in self._attribute_problems(element):
            self.add(line, message)


def _record_values(
    reader: _Reader,
    record: etree._Element,
    *,
    elements: tuple[str, ...],
    required: tuple[str, ...],
    id_element: str,
) -> dict[str, str] | None:
    """The values of one record (its child elements' text, trimmed), or None
    when the record has problems, which are added to ``reader`` with the
    record's id. ``elements``: the allowed children, in their order."""
    name = f"<{record.tag}>"  # one of the reader's record tags: plain text
    found: list[tuple[int | None, str]] = []
    values: dict[str, str] = {}
    lines: dict[str, int | None] = {}
    nested: set[str] = set()
    last_index = -1
    last_tag = ""
    if value := _text(record.text):
        found.append((record.sourceline, f"Text {shown(value)!r} directly in {name}; it belongs inside an element."))
    order = _ORDERS.get(elements) or _ORDERS.setdefault(elements, {tag: i for i, tag in enumerate(elements)})
    # This loop runs for every value of every record (800,000 times for a
    # 100,000-employee file): the common case does as little as it can.
    for child in record:
        tag = child.tag
        line = child.sourceline
        if (tail := child.tail) and (value := tail.strip(_XML_SPACE)):
            found.append((line, f"Text {shown(value)!r} directly in {name}; it belongs inside an element."))
        if child.attrib:
            found.extend(reader._attribute_problems(child))
        index = order.get(tag) if isinstance(tag, str) else None
        if index is None:
            found.append(
                (line, f"Unknown element {_tag_name(tag)} in {name}, which holds {', '.join(elements)}, in that order.")
            )
            continue
        if tag in values:
            found.append((line, f"{name} has a second <{tag}> (the first is on line {lines[tag]})."))
            continue
        if index < last_index:
            found.append(
                (
                    line,
                    f"<{tag}> comes after <{last_tag}>; the elements of {name} go in the order "
                    f"{', '.join(elements)}.",
                )
            )
        else:
            last_index, last_tag = index, tag
        if len(child):
            found.append((line, f"<{tag}> holds other elements; it holds only its value, as text."))
            nested.add(tag)
        values[tag] = (child.text or "").strip(_XML_SPACE)
        lines[tag] = line
    employee_id = values.get(id_element, "")
    for tag in required:
        if tag not in values:
            found.append((record.sourceline, f"{name} has no <{tag}>, which every {name} needs."))
        elif not values[tag] and tag not in nested:
            found.append((lines[tag], f"<{tag}> is empty; every {name} needs one."))
    if start_date := values.get("start_date"):
        if not _DATE.fullmatch(start_date) or _date_or_none_safe(start_date) is None:
            found.append(
                (
                    lines["start_date"],
                    f"<start_date> {shown(start_date)!r} is not a date written as YYYY-MM-DD, such as 2024-03-01.",
                )
            )
    if country := values.get("country"):
        if not _COUNTRY.fullmatch(country):
            found.append(
                (
                    lines["country"],
                    f"<country> {shown(country)!r} is not a country code: use the two capital letters of "
                    "ISO 3166, such as GB or IE.",
                )
            )
    for line, message in found:
        reader.add(line, message, employee_id=employee_id)
    return None if found else values


def _date_or_none_safe(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None
