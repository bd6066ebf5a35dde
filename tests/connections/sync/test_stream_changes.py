"""What the record streams share: their changes go into a run's report and
come back, and are counted, the same way for every stream."""

from __future__ import annotations

from connections.sync.absences import AbsenceChange, PushItem
from connections.sync.stream_changes import change_counts, text_problem
from connections.sync.training import TrainingChange


def test_a_change_comes_back_from_its_report_as_it_went_in():
    change = TrainingChange(action="update", remote_id="D1", record_id=7, fields={"Status": ["Booked", "Attended"]})

    assert TrainingChange.from_dict(change.to_dict()) == change


def test_a_report_written_with_other_keys_still_loads():
    old = {"action": "create", "remote_id": "A1", "a_key_no_longer_kept": 1}

    assert AbsenceChange.from_dict(old) == AbsenceChange(action="create", remote_id="A1")
    assert PushItem.from_dict({"key": "absence:1", "operation": "create"}).outcome == "planned"


def test_changes_are_counted_by_action_with_the_unlisted_unchanged_ones():
    changes = [AbsenceChange(action="create", remote_id="A1"), AbsenceChange(action="skip", remote_id="A2")]

    assert change_counts(changes, unchanged_not_listed=3) == {
        "created": 1, "updated": 0, "removed": 0, "unchanged": 3, "skipped": 1, "errors": 0,
    }


def test_a_text_too_long_or_holding_a_nul_cannot_be_stored():
    assert text_problem("First Aid", what="status", limit=20) == ""
    assert text_problem("x" * 21, what="status", limit=20) == "The status is longer than 20 characters."
    assert text_problem("a\x00b", what="absence type", limit=20) == "The absence type contains a NUL character."
