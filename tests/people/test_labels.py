from __future__ import annotations

import pytest

from connectors.base import RemoteEmployee
from hrsync.people.labels import field_label


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("first_name", "First name"),
        ("employee_reference", "Employee reference"),
        ("date_of_birth", "Date of birth"),
        ("email", "Email"),
        ("depot", "Depot"),
        ("depot_id", "Depot"),
        ("manager", "Manager"),
        ("manager_remote_id", "Manager"),
        ("status", "Status"),
        ("custom.shirt_size", "Shirt size"),
    ],
)
def test_a_field_key_reads_as_its_label(key, label):
    assert field_label(key) == label


def test_a_custom_field_takes_the_name_the_connection_gives_it():
    assert field_label("custom.shirt_size", custom_labels={"shirt_size": "Shirt Size (UK)"}) == "Shirt Size (UK)"
    # A name for another key, or a blank one, falls back to the key.
    assert field_label("custom.shirt_size", custom_labels={"shoe": "Shoe", "shirt_size": " "}) == "Shirt size"


def test_no_person_field_is_labelled_with_its_key():
    for key in RemoteEmployee.PERSON_FIELDS:
        label = field_label(key)
        assert "_" not in label and label[0].isupper(), (key, label)
