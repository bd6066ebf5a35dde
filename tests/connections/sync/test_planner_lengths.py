"""The one length rule for person fields, shared by the planner and the
connectors that check rows as they read them."""

from __future__ import annotations

from hrsync.people.rules import MAX_LENGTHS, person_field_length_problem


def test_a_value_longer_than_the_field_holds_is_named_by_its_field_or_its_label():
    limit = MAX_LENGTHS["first_name"]
    assert person_field_length_problem(field="first_name", value="A" * (limit + 1)) == (
        f"First name is longer than {limit} characters."
    )
    assert person_field_length_problem(field="first_name", value="A" * (limit + 1), label="First Name") == (
        f"First Name is longer than {limit} characters."
    )


def test_a_value_that_fits_once_trimmed_is_not_too_long():
    limit = MAX_LENGTHS["job_title"]
    assert person_field_length_problem(field="job_title", value="A" * limit) is None
    assert person_field_length_problem(field="job_title", value=f"  {'A' * limit}  ") is None


def test_fields_without_a_length_limit_and_values_that_are_not_text_are_never_too_long():
    assert "depot" not in MAX_LENGTHS and "hire_date" not in MAX_LENGTHS
    assert person_field_length_problem(field="depot", value="A" * 10_000) is None
    assert person_field_length_problem(field="first_name", value=None) is None
