"""The connection pages' forms: the rules they share with ``connections set``."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from connections import services
from connections.forms import StatusMapFormSet


def status_rows(*rows: tuple[str, str]) -> StatusMapFormSet:
    data = {
        "status-TOTAL_FORMS": str(len(rows)),
        "status-INITIAL_FORMS": "0",
        "status-MIN_NUM_FORMS": "0",
        "status-MAX_NUM_FORMS": "1000",
    }
    for index, (vendor_status, person_status) in enumerate(rows):
        data[f"status-{index}-vendor_status"] = vendor_status
        data[f"status-{index}-person_status"] = person_status
    return StatusMapFormSet(data=data, prefix="status")


@pytest.mark.parametrize("vendor_status", ["On\x0bLeave", "Casual\x07", ""])
def test_the_status_map_rows_refuse_what_the_command_line_refuses(vendor_status):
    formset = status_rows(("Active", "active"), (vendor_status, "active"))

    assert not formset.is_valid()
    with pytest.raises(ValidationError) as refused:
        services.vendor_status_clean(status=vendor_status)
    assert formset.errors[1] == {"vendor_status": refused.value.messages}
    assert formset.errors[0] == {}


def test_the_status_map_rows_trim_what_they_keep():
    formset = status_rows((" Casual ", "active"), ("", ""))

    assert formset.is_valid(), formset.errors
    assert formset.status_map() == {"Casual": "active"}
