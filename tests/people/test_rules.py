"""The rules a person's values meet, shared by the planner and the person forms."""

from __future__ import annotations

from hrsync.people import rules


def test_each_value_is_named_by_its_label_in_the_problem():
    problems = rules.person_values_problems(
        values={
            "first_name": "Ada\u0000",
            "mobile_phone": "0" * 51,
            "email": "ada@",
            "job_title": "Driver\nnights",
            "depot": None,
        }
    )

    assert problems == {
        "first_name": "The first name contains a control character (U+0000).",
        "mobile_phone": "Mobile phone is longer than 50 characters.",
        "email": "'ada@' is not a valid email address.",
    }


def test_a_c1_control_character_says_the_text_was_probably_read_in_the_wrong_encoding():
    assert rules.control_character_problem(what="The last name", character="\u0092") == (
        "The last name contains a control character (U+0092), which usually means the text "
        "was saved or read in the wrong encoding"
    )


def test_a_date_problem_quotes_the_text_and_the_format():
    assert rules.date_problem(label="Hire date", text="31/12/2024") == "Hire date '31/12/2024' is not a date (YYYY-MM-DD)"
