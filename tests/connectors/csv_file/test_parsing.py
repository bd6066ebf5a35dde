"""Reading CSV files: separators, encodings, headers, quoting, line numbers
and the errors that stop a read before anything changes."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import ConnectorError
from connectors.csv_file import connector as connector_module
from connectors.csv_file.connector import CsvFileConnector
from connectors.csv_file.reader import CsvTable, IteratorStream

HEADER = "Employee ID,First Name,Last Name,Email,Status\n"


def connector(uri: str, **config) -> CsvFileConnector:
    return CsvFileConnector(config={"uri": uri, **config}, secrets={})


def employees(uri: str, **config):
    return list(connector(uri, **config).fetch_employees())


def read_error(uri: str, **config) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        employees(uri, **config)
    return caught.value


# -- separators ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "sep"), [(",", ","), (";", ";"), ("|", "|"), ("tab", "\t"), ("auto", ";"), ("auto", "\t"),
                         ("auto", "|"), ("auto", ",")],
)
def test_each_separator_reads_the_same_people(write_csv, setting, sep):
    rows = [["Employee ID", "First Name", "Last Name", "Email", "Status"],
            ["1001", "Olivia", "Nguyen", "olivia@example.com", "Active"],
            ["1002", "Jack", "O'Brien", "jack@example.com", "On Leave"]]
    uri = write_csv("".join(sep.join(row) + "\r\n" for row in rows))

    records = employees(uri, delimiter=setting)

    assert [(r.remote_id, r.first_name, r.last_name, r.email, r.status) for r in records] == [
        ("1001", "Olivia", "Nguyen", "olivia@example.com", "Active"),
        ("1002", "Jack", "O'Brien", "jack@example.com", "On Leave"),
    ]
    assert [r.source_position for r in records] == ["line 2", "line 3"]
    assert all(not r.problems for r in records)


def test_auto_detection_is_not_fooled_by_commas_inside_a_semicolon_file(write_csv):
    uri = write_csv("Employee ID;Name, as known;Email;Status\n7;Sam, the boss;sam@example.com;Active\n")
    records = employees(uri, columns={"Employee ID": "employee_reference", "Name, as known": "first_name",
                                      "Email": "email"}, status_column="Status")
    assert records[0].first_name == "Sam, the boss"


def test_one_column_with_the_comma_setting_asks_whether_the_separator_is_a_semicolon(write_csv):
    uri = write_csv("Employee ID;First Name;Email;Status\n1;Ann;ann@example.com;Active\n")
    error = read_error(uri, delimiter=",")
    assert error.message.startswith("Only one column found — is the separator ';'?")
    assert error.permanent


def test_one_column_with_the_semicolon_setting_suggests_tab(write_csv):
    uri = write_csv("Employee ID\tFirst Name\tEmail\tStatus\n1\tAnn\tann@example.com\tActive\n")
    assert "is the separator tab?" in read_error(uri, delimiter=";").message


# -- encodings -------------------------------------------------------------------


def test_a_latin1_file_reads_mueller(write_csv):
    uri = write_csv(HEADER + "1,Jürgen,Müller,jm@example.com,Active\n", encoding="latin-1")
    [record] = employees(uri, encoding="latin-1")
    assert (record.first_name, record.last_name) == ("Jürgen", "Müller")


def test_a_windows_1252_file_reads_its_curly_quotes(write_csv):
    uri = write_csv(HEADER + "1,Zoë,O’Neill,zo@example.com,Active\n", encoding="cp1252")
    [record] = employees(uri, encoding="cp1252")
    assert record.last_name == "O’Neill"


def test_a_utf8_byte_order_mark_is_stripped_so_the_first_header_still_matches(write_csv):
    uri = write_csv(("\ufeff" + HEADER + "1,Ann,Lee,ann@example.com,Active\n").encode("utf-8"))
    [record] = employees(uri, columns={"Employee ID": "employee_reference", "Email": "email"},
                         status_column="Status")
    assert record.remote_id == "1"


def test_a_byte_order_mark_wins_over_a_latin1_setting(write_csv):
    uri = write_csv(("\ufeff" + HEADER + "1,Jürgen,Müller,jm@example.com,Active\n").encode("utf-8"))
    [record] = employees(uri, encoding="latin-1")
    assert record.last_name == "Müller"


def test_bytes_not_valid_utf8_stop_the_read_with_their_line_number(write_csv):
    lines = [HEADER] + [f"{i},Ann,Lee,a{i}@example.com,Active\n" for i in range(1, 11)]
    content = "".join(lines).encode() + "12,Jürgen,Müller,jm@example.com,Active\n".encode("latin-1")
    error = read_error(write_csv(content))
    assert error.message == (
        "Line 12 is not valid UTF-8; choose the file's encoding (Latin-1, Windows-1252) in the settings."
    )
    assert error.permanent


def test_a_utf16_file_is_refused_with_advice(write_csv):
    uri = write_csv((HEADER + "1,Ann,Lee,a@example.com,Active\n").encode("utf-16"))
    assert "UTF-16" in read_error(uri).message


# -- header, positions, quoting ------------------------------------------------------


def test_without_a_header_row_columns_are_mapped_by_position(write_csv):
    uri = write_csv("1001,Olivia,Nguyen,olivia@example.com\n1002,Jack,Smith,jack@example.com\n")
    records = employees(
        uri,
        has_header=False,
        columns={"1": "employee_reference", "2": "first_name", "3": "last_name", "4": "email"},
        all_active=True,
    )
    assert [(r.remote_id, r.first_name, r.email, r.status) for r in records] == [
        ("1001", "Olivia", "olivia@example.com", "Active"),
        ("1002", "Jack", "jack@example.com", "Active"),
    ]
    assert [r.source_position for r in records] == ["line 1", "line 2"]


def test_quoted_fields_keep_separators_and_newlines_and_line_numbers_stay_right(write_csv):
    content = (
        HEADER
        + '1,"Smith, John","Multi\nLine\nName",john@example.com,Active\r\n'
        + '2,"Quote ""Q""",Lee,q@example.com,Active\r\n'
        + '3,"Two\r\nlines",Ng,t@example.com,Active\r\n'
        + "4,Last,Person,l@example.com,Active\r\n"
    )
    records = employees(write_csv(content))
    assert [r.first_name for r in records] == ["Smith, John", 'Quote "Q"', "Two\r\nlines", "Last"]
    assert records[0].last_name == "Multi\nLine\nName"
    assert [r.source_position for r in records] == ["line 2", "line 5", "line 6", "line 8"]


def test_old_mac_line_endings_are_lines_too(write_csv):
    records = employees(write_csv(HEADER.replace("\n", "\r") + "1,Ann,Lee,a@example.com,Active\r2,Bo,Ng,b@example.com,Active\r"))
    assert [(r.remote_id, r.source_position) for r in records] == [("1", "line 2"), ("2", "line 3")]


def test_blank_lines_are_skipped_but_counted(write_csv):
    records = employees(write_csv(HEADER + "\n1,Ann,Lee,a@example.com,Active\n\n,,,,\n2,Bo,Ng,b@example.com,Active\n"))
    assert [(r.remote_id, r.source_position) for r in records] == [("1", "line 3"), ("2", "line 6")]


def test_ragged_rows_are_row_problems_naming_the_line(write_csv):
    content = HEADER + "1,Ann,Lee,a@example.com\n2,Bo,Ng,b@example.com,Active,extra\n3,Cy,Oh,c@example.com,Active\n"
    short, long, fine = employees(write_csv(content))
    assert short.problems == ["Line 2 has 4 fields where the header has 5."]
    assert long.problems == ["Line 3 has 6 fields where the header has 5."]
    assert fine.problems == []
    assert short.remote_id == "1"  # still named in the report


def test_a_header_missing_a_mapped_column_is_named(write_csv):
    uri = write_csv(HEADER + "1,Ann,Lee,a@example.com,Active\n")
    error = read_error(uri, columns={"Employee ID": "employee_reference", "Mobile": "mobile_phone"},
                       status_column="Status")
    assert "The file's header has no column 'Mobile', which is mapped to mobile_phone." in error.message
    assert "'Employee ID', 'First Name'" in error.message
    assert error.permanent


def test_a_missing_status_column_is_named(write_csv):
    uri = write_csv(HEADER + "1,Ann,Lee,a@example.com,Active\n")
    error = read_error(uri, columns={"Employee ID": "employee_reference"}, status_column="Employment status")
    assert "no column 'Employment status', which is the status column" in error.message


def test_header_names_match_ignoring_case_and_spaces(write_csv):
    uri = write_csv(" employee id ,FIRST  NAME,Email,Status\n1,Ann,a@example.com,Active\n")
    [record] = employees(uri, columns={"Employee ID": "employee_reference", "First Name": "first_name"},
                         key_column="employee ID", status_column="status")
    assert (record.remote_id, record.first_name) == ("1", "Ann")


def test_a_position_beyond_the_file_is_named(write_csv):
    uri = write_csv("1,Ann\n")
    error = read_error(uri, has_header=False, columns={"1": "employee_reference", "5": "email"}, all_active=True)
    assert error.message == "Column 5 is mapped to email, but its first row has only 2 columns."


def test_an_empty_file_fails_rather_than_deactivating_everyone(write_csv):
    error = read_error(write_csv(b""))
    assert "The file is empty" in error.message and error.permanent


def test_a_header_only_file_has_no_people(write_csv):
    assert employees(write_csv(HEADER)) == []


def test_a_quote_that_never_closes_is_reported_with_its_line(write_csv):
    content = HEADER + "1,Ann,Lee,a@example.com,Active\n" + '2,"Bo,Ng,b@example.com,Active\n' + ("x" * 200_000)
    error = read_error(write_csv(content))
    assert "line 3" in error.message and "quote" in error.message


def test_a_file_ending_inside_a_quote_is_a_file_error_naming_the_line_the_quote_opens_on(write_csv):
    content = HEADER + "1,Ann,Lee,a@example.com,Active\n" + "2,\"O'Neil,Ng,b@example.com,Active\n" + (
        "".join(f"{i},F{i},L{i},p{i}@example.com,Active\n" for i in range(3, 8))
    )
    error = read_error(write_csv(content))
    assert error.message.startswith("The quote that opens on line 3 is never closed")
    assert error.permanent


def test_more_than_128_kb_after_a_stray_quote_names_the_quote_not_a_field_limit(write_csv):
    content = HEADER + "1,\"Ann,Lee,a@example.com,Active\n" + "".join(
        f"{i},{'F' * 4000},L{i},p{i}@example.com,Active\n" for i in range(2, 42)
    )
    error = read_error(write_csv(content))
    assert error.message.startswith("The quote that opens on line 2 is never closed")
    assert "field limit" not in error.message


def test_a_quoted_value_may_span_a_few_dozen_lines_but_no_more(write_csv):
    from connectors.csv_file.reader import MAX_QUOTED_LINES

    address = "\n".join(f"Address line {n}" for n in range(1, MAX_QUOTED_LINES + 1))
    content = "Employee ID,Address,Status\n" + f'1,"{address}",Active\n' + "2,Short,Active\n"
    uri = write_csv(content)
    first, second = employees(uri, columns={"Employee ID": "employee_reference", "Address": "custom.address"},
                              status_column="Status")
    assert first.custom["address"] == address and second.source_position == f"line {MAX_QUOTED_LINES + 2}"

    longer = address + "\nOne line too many"
    error = read_error(write_csv("Employee ID,Address,Status\n2,Short,Active\n" + f'1,"{longer}",Active\n'),
                       columns={"Employee ID": "employee_reference", "Address": "custom.address"},
                       status_column="Status")
    assert error.message.startswith("The quote that opens on line 3 is not closed within")


def test_a_line_longer_than_any_roster_holds_is_a_file_error_naming_it(write_csv):
    from connectors.csv_file.reader import MAX_LINE_BYTES

    content = HEADER + "1,Ann,Lee,a@example.com,Active\n" + f"2,{'B' * MAX_LINE_BYTES},Ng,b@example.com,Active\n"
    error = read_error(write_csv(content))
    assert error.message == "Line 3 is longer than 4 MB; this does not look like a CSV file of people."


def test_a_megabyte_value_in_a_well_formed_row_is_read_for_the_planner_to_refuse(write_csv):
    content = HEADER + f"1,{'A' * 1_000_000},Lee,a@example.com,Active\n" + "2,Bo,Ng,b@example.com,Active\n"
    long, fine = employees(write_csv(content))
    assert long.problems == ["First Name is longer than 150 characters."]
    assert (fine.first_name, fine.source_position) == ("Bo", "line 3")


# -- values ------------------------------------------------------------------------


def test_dates_follow_the_date_format_and_iso_is_always_accepted(write_csv):
    content = "Staff No,DOB,Start Date,Status\n1,31/01/1990,2020-02-03,Active\n2,31/02/1990,,Active\n"
    first, second = employees(write_csv(content), date_format="DD/MM/YYYY")
    assert first.date_of_birth == dt.date(1990, 1, 31)
    assert first.hire_date == dt.date(2020, 2, 3)
    assert second.date_of_birth is None
    assert second.problems == ["DOB '31/02/1990' is not a date (DD/MM/YYYY)."]


def test_an_empty_key_is_a_row_problem(write_csv):
    [record] = employees(write_csv(HEADER + ",Ann,Lee,a@example.com,Active\n"))
    assert record.problems == ["The record has no id: its Employee ID is empty."]


def test_email_keys_are_lower_cased_with_their_manager_keys(write_csv):
    content = "Email,First Name,Manager,Status\nAnn@Example.com,Ann,BOSS@example.com,Active\n"
    [record] = employees(write_csv(content))
    assert record.remote_id == "ann@example.com"
    assert record.manager_remote_id == "boss@example.com"


def test_custom_fields_and_locations_and_managers(write_csv):
    content = "Staff No,Forename,Depot,Reports To,Shoe size,Status\n7,Ann,Leeds,3,38,Active\n"
    c = connector(write_csv(content), columns={
        "Staff No": "employee_reference", "Forename": "first_name", "Depot": "location",
        "Reports To": "manager", "Shoe size": "custom.shoe_size", "Status": "status"})
    [record] = list(c.fetch_employees())
    assert (record.location_id, record.manager_remote_id, record.custom) == ("Leeds", "3", {"shoe_size": "38"})
    assert c.provides == {"employee_reference", "first_name", "depot", "manager"}


def test_a_value_too_long_for_the_directory_is_a_row_problem(write_csv):
    [record] = employees(write_csv(HEADER + f"1,{'A' * 151},Lee,a@example.com,Active\n"))
    assert record.problems == ["First Name is longer than 150 characters."]


def test_locations_are_the_distinct_values_of_the_location_column(write_csv):
    content = "Staff No,Site,Status\n1,Leeds,Active\n2,York,Active\n3,Leeds,Active\n4,,Active\n"
    locations = list(connector(write_csv(content)).fetch_locations())
    assert [(loc.remote_id, loc.name) for loc in locations] == [("Leeds", "Leeds"), ("York", "York")]


def test_no_location_column_means_no_locations_and_no_depot(write_csv):
    c = connector(write_csv(HEADER + "1,Ann,Lee,a@example.com,Active\n"))
    assert list(c.fetch_locations()) == []
    list(c.fetch_employees())
    assert "depot" not in c.provides


# -- check ---------------------------------------------------------------------------


def test_check_previews_the_first_ten_rows_as_person_fields(write_csv):
    rows = "".join(f"{i},Name{i},Last{i},p{i}@example.com,Active\n" for i in range(1, 26))
    check = connector(write_csv(HEADER + rows)).check()
    assert check.ok
    assert check.message.startswith("Read this server's ") and check.message.endswith(
        ": 5 columns; the first rows map as shown."
    )
    assert len(check.sample) == 10
    assert check.sample[0] == {
        "line": 2, "key": "1", "employee_reference": "1", "first_name": "Name1", "last_name": "Last1",
        "email": "p1@example.com", "status": "Active",
    }


def test_check_reports_a_problem_as_a_failed_test(write_csv):
    check = connector(write_csv("Employee ID;Name\n1;Ann\n"), delimiter=",").check()
    assert not check.ok and "is the separator ';'?" in check.message


def test_check_says_which_key_is_missing_from_an_automatic_mapping(write_csv):
    check = connector(write_csv("Forename,Surname\nAnn,Lee\n"), all_active=True).check()
    assert not check.ok and "unique key" in check.message


# -- streaming -------------------------------------------------------------------------


class GuardedStream:
    """Refuses to be read past ``limit`` bytes until released."""

    def __init__(self, chunks, limit: int) -> None:
        self.inner = IteratorStream(chunks)
        self.limit = limit
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.consumed += len(data)
        if self.consumed > self.limit:
            raise AssertionError(f"read {self.consumed} bytes before the first record was used")
        return data


def roster_chunks(rows: int):
    yield HEADER.encode()
    for i in range(1, rows + 1):
        yield f"{i},First{i},Last{i},p{i}@example.com,Active\n".encode()


def test_the_parser_consumes_the_stream_lazily():
    stream = GuardedStream(roster_chunks(1_000_000), limit=4096)
    table = CsvTable(stream, delimiter=None, codec="utf-8-sig", quotechar='"', has_header=True, read_size=1024)
    rows = table.rows()
    assert next(rows) == (2, ["1", "First1", "Last1", "p1@example.com", "Active"])
    assert stream.consumed <= 2048


def test_the_connector_yields_records_as_the_file_arrives(monkeypatch):
    stream = GuardedStream(roster_chunks(1_000_000), limit=256 * 1024)

    class Opener:
        def __enter__(self):
            return stream

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(connector_module, "open_stream", lambda address, **kwargs: Opener())
    records = connector("file:///roster.csv").fetch_employees()
    first = next(records)
    assert first.remote_id == "1" and first.source_position == "line 2"
    assert stream.consumed < 256 * 1024
    records.close()


def test_a_large_file_streams_through_in_one_pass(write_csv):
    content = HEADER + "".join(f"{i},F{i},L{i},p{i}@example.com,Active\n" for i in range(1, 20_001))
    uri = write_csv(content)
    count = sum(1 for _ in connector(uri).fetch_employees())
    assert count == 20_000


def test_iterator_stream_reads_in_pieces():
    stream = IteratorStream([b"abc", b"", b"defgh"])
    assert [stream.read(2), stream.read(2), stream.read(10), stream.read(10)] == [b"ab", b"c", b"defgh", b""]
    assert IteratorStream(iter([b"x", b"yz"])).read() == b"xyz"


def test_no_message_carries_a_secret_even_if_a_server_echoes_it(monkeypatch):
    def echoing_server(address, **kwargs):
        raise ConnectorError(f"The web server refused the request (HTTP 499 {kwargs['password']}).", permanent=True)

    monkeypatch.setattr(connector_module, "open_stream", echoing_server)
    c = CsvFileConnector(config={"uri": "https://files.example.com/staff.csv", "username": "u"},
                         secrets={"password": "Echoed-Pw-unmistakable"})
    with pytest.raises(ConnectorError) as caught:
        list(c.fetch_employees())
    assert "Echoed-Pw-unmistakable" not in caught.value.message and "********" in caught.value.message
    assert caught.value.permanent
    assert "Echoed-Pw-unmistakable" not in c.check().message
    assert "Echoed-Pw-unmistakable" not in repr(c)
