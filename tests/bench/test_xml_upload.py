"""The XML upload benchmark's files: what it times must be a file the
connector accepts, the same on every machine, and changed as it says."""

from __future__ import annotations

from lxml import etree

from bench.xml_upload import employee_file_write, employees_change, employees_generate
from connectors.xml_upload.parsing import employee_file_read, xsd_path


def test_the_employee_file_is_accepted_by_the_parser_and_the_schema(tmp_path):
    path = employee_file_write(employees_generate(300), tmp_path / "employees.xml")

    records = employee_file_read(path)

    assert [record.remote_id for record in records][:2] == ["00000001", "00000002"]
    assert len({record.remote_id for record in records}) == 300
    assert all(record.location_id and record.hire_date and record.email for record in records)
    schema = etree.XMLSchema(etree.parse(str(xsd_path("employee"))))
    assert schema.validate(etree.parse(str(path))), schema.error_log


def test_the_same_arguments_write_byte_identical_files(tmp_path):
    first = employee_file_write(employees_generate(200), tmp_path / "a.xml")
    second = employee_file_write(employees_generate(200), tmp_path / "b.xml")

    assert first.read_bytes() == second.read_bytes()


def test_the_changed_file_has_the_leavers_joiners_and_changes_it_counts(tmp_path):
    rows = employees_generate(3000)
    changed, counts = employees_change(rows)
    before = {record.remote_id: record for record in employee_file_read(employee_file_write(rows, tmp_path / "0.xml"))}
    after = {record.remote_id: record for record in employee_file_read(employee_file_write(changed, tmp_path / "1.xml"))}

    assert len(set(before) - set(after)) == counts["leavers"] == 100
    assert len(set(after) - set(before)) == counts["joiners"] == 30
    # Compared by value: a leaver moves every later record to another line.
    def values(record):
        return record.first_name, record.last_name, record.email, record.hire_date, record.location_id

    differing = [key for key in set(before) & set(after) if values(before[key]) != values(after[key])]
    assert len(differing) == counts["changed"] == 150
