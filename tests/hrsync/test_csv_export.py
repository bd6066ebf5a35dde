"""The one CSV writer every export uses: cells a spreadsheet would run as a
formula are written as text."""

from __future__ import annotations

import csv
import io

import pytest

from hrsync.csv_export import csv_lines, csv_safe_cell
from tests.csv_formulas import FORMULAS


@pytest.mark.parametrize("text", FORMULAS)
def test_a_text_a_spreadsheet_would_run_is_written_as_text(text):
    assert csv_safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["Ada", "O'Neil", "Anne-Marie", "ada+hr@example.com", "1+1", "E-100", "0491 570 156", ""]
)
def test_ordinary_text_is_written_as_it_is(text):
    assert csv_safe_cell(text) == text


@pytest.mark.parametrize(("value", "cell"), [(-3, -3), (0, 0), (-2.5, -2.5), (42, 42)])
def test_numbers_stay_numbers_even_when_negative(value, cell):
    assert csv_safe_cell(value) == cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        ({"shirt": "M", "a": ["=1"]}, '{"a": ["=1"], "shirt": "M"}'),
        (["en", "fr"], '["en", "fr"]'),
    ],
)
def test_empty_yes_no_and_structured_values_have_one_spelling(value, cell):
    assert csv_safe_cell(value) == cell


def test_csv_lines_writes_one_line_per_row_with_every_cell_made_safe():
    lines = list(csv_lines([["name", "count"], ["=1+1", -2], ["Ada, Countess", 3]]))

    assert lines == ["name,count\n", "'=1+1,-2\n", '"Ada, Countess",3\n']
    assert list(csv.reader(io.StringIO("".join(lines)))) == [["name", "count"], ["'=1+1", "-2"], ["Ada, Countess", "3"]]


def test_a_line_break_inside_a_value_stays_inside_its_quoted_cell():
    lines = list(csv_lines([["Ada\rLovelace", "Grace\nHopper", "ok"]]))

    assert lines == ['"Ada\rLovelace","Grace\nHopper",ok\n']
    assert list(csv.reader(io.StringIO(lines[0], newline=""))) == [["Ada\rLovelace", "Grace\nHopper", "ok"]]
