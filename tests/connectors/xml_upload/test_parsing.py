"""Reading uploaded employee and position files: the formats, every kind of
problem with its line, the files refused for safety, and bounded memory."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from lxml import etree

from connectors.xml_upload import parsing
from connectors.xml_upload.parsing import (
    MAX_DEPTH,
    MAX_PROBLEMS,
    PositionTree,
    UploadRejected,
    employee_file_read,
    position_assignments,
    position_file_read,
    xsd_path,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "xml_upload"
REPO = Path(__file__).resolve().parents[3]


def fixture(name: str) -> Path:
    return FIXTURES / name


def rejection(read, path) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        read(path)
    return caught.value


def employee_xml(*employees: str, root: str = "employees") -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>\n' + "".join(employees) + f"</{root}>\n"


def employee(employee_id: str, *, extra: str = "", forename: str = "Ada") -> str:
    return (
        f"  <employee>\n    <forename>{forename}</forename>\n    <surname>Lovelace</surname>\n"
        f"    <employee_id>{employee_id}</employee_id>\n{extra}  </employee>\n"
    )


def write(tmp_path: Path, text: str | bytes, name: str = "upload.xml") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def generated_employee_file(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<employees>\n')
        for i in range(count):
            out.write(
                f"  <employee>\n    <forename>First{i}</forename>\n    <surname>Last{i}</surname>\n"
                f"    <employee_id>{i:07d}</employee_id>\n    <employee_type>Full time</employee_type>\n"
                f"    <department>Depot {i % 50}</department>\n    <start_date>2020-01-{i % 28 + 1:02d}</start_date>\n"
                f"    <country>GB</country>\n    <email>person{i}@example.com</email>\n  </employee>\n"
            )
        out.write("</employees>\n")
    return path


# -- valid employee files ---------------------------------------------------------


def test_each_employee_of_the_file_becomes_an_active_record_with_its_line():
    records = employee_file_read(fixture("employees_valid.xml"))

    assert [r.remote_id for r in records] == ["00042", "42", "007", "A-1"]
    ada = records[0]
    assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "Lovelace", "ada.lovelace@example.com")
    assert ada.employee_reference == "00042"
    assert ada.hire_date == dt.date(2019, 4, 1)
    assert ada.location_id == "Engineering"
    assert ada.status == "active"
    assert ada.custom == {"employee_type": "Full time", "country": "GB"}
    assert ada.source_position == "line 4"
    assert ada.problems == []
    assert records[1].source_position == "line 14"


def test_employee_ids_are_text_so_leading_zeros_survive_and_spaces_around_values_do_not():
    records = {r.remote_id: r for r in employee_file_read(fixture("employees_valid.xml"))}

    assert "00042" in records and "42" in records
    assert records["00042"].last_name != records["42"].last_name
    grace = records["007"]
    assert grace.first_name == "Grace"
    assert grace.employee_reference == "007"


def test_optional_elements_may_be_empty_or_absent():
    records = {r.remote_id: r for r in employee_file_read(fixture("employees_valid.xml"))}

    assert records["42"].email == ""
    assert records["007"].hire_date is None
    assert records["007"].location_id == ""
    assert records["A-1"].custom == {"employee_type": "", "country": ""}
    assert records["A-1"].last_name == "O'Brien & Söhne"


@pytest.mark.parametrize(
    ("element", "expected"),
    [("department", "Research"), ("employee_type", "Contractor"), ("country", "IE")],
)
def test_the_location_is_the_element_the_connection_names(element, expected):
    records = employee_file_read(fixture("employees_valid.xml"), location_element=element)

    assert records[1].location_id == expected


def test_an_element_that_cannot_be_a_location_is_a_programming_error():
    with pytest.raises(ValueError, match="location element"):
        employee_file_read(fixture("employees_valid.xml"), location_element="email")


def test_a_repeated_employee_id_is_left_for_the_planner_to_report_as_a_conflict(tmp_path):
    path = write(tmp_path, employee_xml(employee("00042"), employee("00042", forename="Alan")))

    records = employee_file_read(path)

    assert [(r.remote_id, r.first_name) for r in records] == [("00042", "Ada"), ("00042", "Alan")]


def test_comments_processing_instructions_and_a_schema_pointer_are_allowed(tmp_path):
    path = write(
        tmp_path,
        '<?xml version="1.0"?>\n<?export tool="hr"?>\n<!-- nightly -->\n'
        '<employees xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:noNamespaceSchemaLocation="employees.xsd">\n'
        "  <employee><forename>Ada<!-- first name --></forename><surname>Lovelace</surname>"
        "<employee_id><![CDATA[00042]]></employee_id></employee>\n</employees>\n",
    )

    [record] = employee_file_read(path)

    assert (record.remote_id, record.first_name) == ("00042", "Ada")


# -- schema problems --------------------------------------------------------------

#: Fixtures that break the employee schema: (file, line, employee id, words of the message).
EMPLOYEE_SCHEMA_PROBLEMS = [
    ("employees_missing_surname.xml", 8, "00043", "<employee> has no <surname>"),
    ("employees_empty_id.xml", 11, "", "<employee_id> is empty"),
    ("employees_bad_date.xml", 12, "00043", "'2023-02-30' is not a date written as YYYY-MM-DD"),
    ("employees_slashed_date.xml", 12, "00043", "'01/03/2023' is not a date"),
    ("employees_bad_country.xml", 12, "00043", "'gbr' is not a country code"),
    ("employees_wrong_order.xml", 10, "00043", "<forename> comes after <surname>"),
    ("employees_unknown_element.xml", 12, "00043", "Unknown element <salary> in <employee>"),
    ("employees_text_in_employee.xml", 10, "00043", "Text 'stray words' directly in <employee>"),
    ("employees_text_outside.xml", 9, "", "Text \"Ada's colleague:\" before <employee>"),
    ("employees_nested_value.xml", 9, "00043", "<forename> holds other elements"),
    ("employees_repeated_element.xml", 11, "00043", "a second <surname> (the first is on line 10)"),
    ("employees_attribute.xml", 9, "00043", "<forename> has an attribute (lang)"),
    ("employees_unknown_record.xml", 8, "", "Unknown element <person> in <employees>"),
    ("employees_wrong_root.xml", 2, "", "root element is <staff>"),
    ("employees_none.xml", None, "", "lists no <employee>"),
]
POSITION_SCHEMA_PROBLEMS = [
    ("positions_two_roots.xml", 8, "", "A second <root> (the first is on line 3)"),
    ("positions_no_root.xml", None, "", "no <root> position"),
    ("positions_missing_parent.xml", 8, "00042", "<position> has no <parent_position_id>"),
    ("positions_empty_id.xml", 10, "", "<position_id> is empty"),
    ("positions_parent_in_root.xml", 6, "42", "Unknown element <parent_position_id> in <root>"),
]


@pytest.mark.parametrize(("name", "line", "employee_id", "words"), EMPLOYEE_SCHEMA_PROBLEMS)
def test_an_employee_file_breaking_the_schema_is_refused_with_the_line_and_the_reason(
    name, line, employee_id, words
):
    error = rejection(employee_file_read, fixture(name))

    [problem] = error.problems
    assert (problem.line, problem.employee_id) == (line, employee_id)
    assert words in problem.message
    assert error.message.startswith("The employee file was refused.")
    assert words in error.message


@pytest.mark.parametrize(("name", "line", "employee_id", "words"), POSITION_SCHEMA_PROBLEMS)
def test_a_position_file_breaking_the_schema_is_refused_with_the_line_and_the_reason(
    name, line, employee_id, words
):
    error = rejection(position_file_read, fixture(name))

    [problem] = error.problems
    assert (problem.line, problem.employee_id) == (line, employee_id)
    assert words in problem.message


def test_every_problem_of_a_file_is_listed_in_file_order(tmp_path):
    path = write(
        tmp_path,
        employee_xml(
            employee("1", extra="    <start_date>2024-13-01</start_date>\n"),
            employee("2"),
            employee("3", extra="    <country>United Kingdom</country>\n"),
            employee("", forename=""),
        ),
    )

    error = rejection(employee_file_read, path)

    assert [(p.line, p.employee_id) for p in error.problems] == [(7, "1"), (18, "3"), (21, ""), (23, "")]
    assert "4 problems" in error.message
    assert "The first, on line 7:" in error.message
    assert [p.as_result() for p in error.problems][0] == {
        "line": 7,
        "employee_id": "1",
        "message": error.problems[0].message,
    }


def test_a_file_with_very_many_problems_lists_the_first_thousand_and_counts_them_all(tmp_path):
    bad = employee("1", extra="    <country>gb</country>\n")
    path = write(tmp_path, employee_xml(*[bad] * (MAX_PROBLEMS + 500)))

    error = rejection(employee_file_read, path)

    assert len(error.problems) == MAX_PROBLEMS
    assert "1,500 problems (the first 1,000 are listed)" in error.message


def test_a_huge_value_is_shortened_in_the_message(tmp_path):
    path = write(tmp_path, employee_xml(employee("1", extra=f"    <country>{'X' * 100_000}</country>\n")))

    error = rejection(employee_file_read, path)

    assert len(error.problems[0].message) < 300
    assert "XXXX…" in error.problems[0].message


# -- the XSDs agree with the reader ----------------------------------------------


def xsd_valid(kind: str, path: Path) -> bool:
    # Test-only use of lxml's validator, with the reader's own safety settings.
    schema = etree.XMLSchema(etree.parse(str(xsd_path(kind))))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return schema.validate(etree.parse(str(path), parser))


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("employee", "employees_valid.xml"),
        ("position", "positions_valid.xml"),
        ("position", "positions_vacant_root.xml"),
    ],
)
def test_a_file_the_reader_accepts_validates_against_our_xsd(kind, name):
    read = employee_file_read if kind == "employee" else position_file_read
    read(fixture(name))  # raises if the reader refuses it

    assert xsd_valid(kind, fixture(name))


@pytest.mark.parametrize(
    ("kind", "name"),
    [("employee", row[0]) for row in EMPLOYEE_SCHEMA_PROBLEMS]
    + [("position", row[0]) for row in POSITION_SCHEMA_PROBLEMS],
)
def test_a_file_the_xsd_refuses_the_reader_refuses_too(kind, name):
    read = employee_file_read if kind == "employee" else position_file_read

    assert not xsd_valid(kind, fixture(name))
    with pytest.raises(UploadRejected):
        read(fixture(name))


def test_the_xsds_are_found_by_kind_and_unknown_kinds_are_refused():
    assert xsd_path("employee").name == "employees.xsd" and xsd_path("employee").is_file()
    assert xsd_path("position").name == "positions.xsd" and xsd_path("position").is_file()
    with pytest.raises(ValueError):
        xsd_path("webhook")


# -- files refused for safety ------------------------------------------------------


@pytest.mark.parametrize("name", ["xxe.xml", "billion_laughs.xml", "external_dtd.xml"])
def test_a_file_with_a_doctype_is_refused_before_anything_in_it_is_read(name):
    error = rejection(employee_file_read, fixture(name))

    [problem] = error.problems
    assert "<!DOCTYPE>" in problem.message
    assert "root:" not in error.message  # /etc/passwd was never read into it


def test_the_doctype_line_is_given():
    error = rejection(employee_file_read, fixture("external_dtd.xml"))

    assert error.problems[0].line == 3


def test_a_doctype_behind_a_long_prolog_is_refused_when_the_root_starts(tmp_path):
    comment = "<!-- " + "x" * (parsing.PROLOG_BYTES + 10) + " -->\n"
    text = (
        '<?xml version="1.0"?>\n' + comment + '<!DOCTYPE employees [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
    )
    path = write(tmp_path, text + employee_xml(employee("&secret;")).split("\n", 1)[1])

    error = rejection(employee_file_read, path)

    assert "<!DOCTYPE>" in error.problems[0].message
    assert "root:" not in error.message


def test_a_position_file_with_a_doctype_is_refused_too(tmp_path):
    path = write(tmp_path, fixture("xxe.xml").read_text().replace("employees", "positions"))

    error = rejection(position_file_read, path)

    assert "<!DOCTYPE>" in error.problems[0].message


def test_a_file_nested_ten_thousand_deep_is_refused_at_the_depth_limit(tmp_path):
    path = write(tmp_path, "<employees>" + "<employee>" * 10_000 + "</employee>" * 10_000 + "</employees>")

    started = time.perf_counter()
    error = rejection(employee_file_read, path)

    assert time.perf_counter() - started < 2
    [problem] = error.problems
    assert f"nests elements more than {MAX_DEPTH} deep" in problem.message
    assert problem.line == 1


def test_nesting_deeper_than_the_limit_on_separate_lines_names_the_line_it_went_too_deep(tmp_path):
    path = write(tmp_path, "<employees>\n" + "<x>\n" * 40 + "</x>\n" * 40 + "</employees>\n")

    error = rejection(employee_file_read, path)

    assert error.problems[0].line == MAX_DEPTH + 1


# -- files that are not XML, or not the right XML --------------------------------


@pytest.mark.parametrize(
    ("content", "words", "line"),
    [
        (b"", "The file is empty", None),
        (b"  \n\n ", "The file is empty", None),
        (b"employee_id,forename,surname\n00042,Ada,Lovelace\n", "The file is not XML", 1),
        (b"<employees>\n  <employee>\n    <forename>Ada</surname>\n", "not well-formed XML on line 3", 3),
        (b"<employees>\n  <employee>\n  &nbsp;</employee>\n</employees>\n", "Entity 'nbsp' not defined", 3),
        (b"<employees>\n\xff\xfe</employees>\n", "not well-formed XML on line 2", 2),
        (b"<employees></employees>\n<employees/>\n", "Extra content at the end of the document", 2),
    ],
)
def test_a_file_that_is_not_well_formed_xml_is_refused_with_lxmls_line(tmp_path, content, words, line):
    error = rejection(employee_file_read, write(tmp_path, content))

    [problem] = error.problems
    assert words in problem.message
    assert problem.line == line


def test_problems_found_before_the_file_breaks_are_kept_with_the_break(tmp_path):
    path = write(tmp_path, employee_xml(employee("1", extra="    <country>gb</country>\n"))[:-5])

    error = rejection(employee_file_read, path)

    assert [p.line for p in error.problems] == [7, 9]
    assert "not well-formed" in error.problems[1].message


def test_a_position_file_posted_as_an_employee_file_is_refused_with_a_hint():
    error = rejection(employee_file_read, fixture("positions_valid.xml"))

    assert "root element is <positions>" in error.message
    assert "looks like a position file" in error.message


def test_an_employee_file_posted_as_a_position_file_is_refused_with_a_hint():
    error = rejection(position_file_read, fixture("employees_valid.xml"))

    assert "looks like an employee file" in error.message


def test_a_root_element_in_a_namespace_is_named_with_it(tmp_path):
    path = write(tmp_path, employee_xml(employee("1")).replace("<employees>", '<employees xmlns="urn:hr">'))

    error = rejection(employee_file_read, path)

    assert "<employees> (in namespace urn:hr)" in error.message


# -- positions ------------------------------------------------------------------


def test_a_position_file_reads_into_a_tree_whatever_the_place_of_its_root():
    tree = position_file_read(fixture("positions_valid.xml"))

    assert tree.root_id == "P001"
    assert set(tree.positions) == {"P001", "P010", "P020", "P030", "P040", "P041"}
    assert tree.positions["P001"].parent_id == ""
    assert tree.positions["P030"].parent_id == "P020"
    assert tree.positions["P020"].employee_id == ""  # vacant
    assert tree.positions["P040"].employee_id == ""  # vacant, written <employee_id/>
    assert tree.positions["P010"].line == 3


def test_each_holder_gets_their_title_and_the_holder_of_the_nearest_filled_position_above():
    assignments = position_assignments(position_file_read(fixture("positions_valid.xml")))

    assert assignments == {
        "42": ("Chief Executive", ""),
        "00042": ("Head of Engineering", "42"),
        # P030's parent P020 is vacant: its manager is P010's holder.
        "007": ("Software Engineer", "00042"),
        # P041's parent P040 is vacant: its manager is the root's holder.
        "A-1": ("Receptionist", "42"),
    }


def test_nobody_above_a_position_when_the_root_is_vacant():
    assignments = position_assignments(position_file_read(fixture("positions_vacant_root.xml")))

    assert assignments == {"00042": ("Managing Director", "")}


def test_a_cycle_rejects_the_position_file_naming_its_ids():
    error = rejection(position_file_read, fixture("positions_cycle.xml"))

    [problem] = error.problems
    assert problem.line == 13
    assert "Positions P020, P040 and P030 form a cycle" in problem.message
    assert "P020 → P040 → P030 → P020" in problem.message


def test_a_position_that_is_its_own_parent_is_a_cycle(tmp_path):
    text = fixture("positions_orphan.xml").read_text().replace("P999", "P020")

    error = rejection(position_file_read, write(tmp_path, text))

    [problem] = error.problems
    assert "Position P020 is its own parent" in problem.message


def test_an_orphan_rejects_the_position_file_naming_it_and_its_missing_parent_but_not_those_below_it():
    error = rejection(position_file_read, fixture("positions_orphan.xml"))

    [problem] = error.problems
    assert (problem.line, problem.employee_id) == (13, "")
    assert "Position P020 has parent position P999, which is not in the file" in problem.message
    assert "P030" not in problem.message


def test_a_repeated_position_id_rejects_the_position_file():
    error = rejection(position_file_read, fixture("positions_duplicate_id.xml"))

    [problem] = error.problems
    assert problem.line == 13
    assert "Position P010 is in the file twice (first on line 8)" in problem.message


def test_an_employee_holding_two_positions_rejects_the_position_file():
    error = rejection(position_file_read, fixture("positions_two_held.xml"))

    [problem] = error.problems
    assert (problem.line, problem.employee_id) == (14, "00042")
    assert "holds position P020 and also position P010" in problem.message


def test_position_ids_and_employee_ids_keep_their_leading_zeros():
    tree = position_file_read(fixture("positions_vacant_root.xml"))

    assert tree.root_id == "0001"
    assert tree.positions["0002"].employee_id == "00042"


def test_a_chain_of_ten_thousand_positions_is_checked_and_assigned_without_recursion(tmp_path):
    parts = [
        "<positions>\n<root><position_title>Top</position_title><position_id>0</position_id>"
        "<employee_id>e0</employee_id></root>\n"
    ]
    parts += [
        f"<position><position_title>Level {i}</position_title><position_id>{i}</position_id>"
        f"<parent_position_id>{i - 1}</parent_position_id><employee_id>e{i}</employee_id></position>\n"
        for i in range(1, 10_000)
    ]
    path = write(tmp_path, "".join(parts) + "</positions>\n")

    assignments = position_assignments(position_file_read(path))

    assert len(assignments) == 10_000
    assert assignments["e9999"] == ("Level 9999", "e9998")


def test_assignments_of_a_tree_built_by_hand():
    tree = PositionTree(
        root_id="R",
        positions={
            "R": parsing.Position("R", "Chair", "", "", 1),
            "A": parsing.Position("A", "Director", "R", "", 2),
            "B": parsing.Position("B", "Manager", "A", "", 3),
            "C": parsing.Position("C", "Clerk", "B", "c", 4),
        },
    )

    assert position_assignments(tree) == {"c": ("Clerk", "")}


# -- memory -----------------------------------------------------------------------


def test_the_reader_drops_each_record_once_read_so_the_file_never_becomes_a_tree(tmp_path):
    path = generated_employee_file(tmp_path / "employees.xml", 5_000)
    reader = parsing._Reader(path, what="employee file")

    seen = [
        (record.getprevious() is None, len(record.getparent()))
        for record in reader.records(root_tag="employees", record_tags=("employee",))
    ]

    assert len(seen) == 5_000
    assert all(first for first, _ in seen)  # the records before it are gone
    # What is held is the records lxml has parsed ahead in one read, not the file.
    assert max(held for _, held in seen) < 500


def test_a_10000_employee_file_parses_with_bounded_python_memory(tmp_path):
    path = generated_employee_file(tmp_path / "employees.xml", 10_000)

    tracemalloc.start()
    try:
        records = employee_file_read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert len(records) == 10_000
    assert records[-1].remote_id == "0009999"
    # About 1 KB a record is the list itself; the file is never a tree.
    assert peak < 30 * 1024 * 1024


MEMORY_PROBE = """
import json, os, resource, sys
import django
django.setup()
from connectors.xml_upload import parsing
path = sys.argv[1]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
records = parsing.employee_file_read(path)
read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"records": len(records), "last": records[-1].remote_id, "read_kb": read - before}))
"""


def test_a_100000_employee_file_streams_through_in_bounded_memory(tmp_path):
    # In a process of its own: the peak resident size counts libxml2's own
    # memory too, which tracemalloc does not see.
    path = generated_employee_file(tmp_path / "employees.xml", 100_000)
    assert path.stat().st_size > 30_000_000

    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "hrsync.settings")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])

    assert (measured["records"], measured["last"]) == (100_000, "0099999")
    # The 100,000 records are most of it (about 100 MB); the 32 MB file as
    # one libxml2 tree would add several times its size.
    assert measured["read_kb"] < 200 * 1024
