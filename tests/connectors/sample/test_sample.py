from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from connectors.base import ConnectorError, RemoteEmployee
from connectors.registry import connector_class
from connectors.sample import roster
from connectors.sample.connector import SampleConfigForm, SampleConnector
from hrsync.people.models import Person


def employees(**config) -> list[RemoteEmployee]:
    return list(SampleConnector(config=config, secrets={}).fetch_employees())


def normalised(email: str) -> str:
    return email.strip().lower()


@pytest.fixture(scope="module")
def default_roster() -> list[RemoteEmployee]:
    return employees()


def fingerprint(records: list[RemoteEmployee]) -> str:
    rows = [
        {
            name: (value.isoformat() if isinstance(value, dt.date) else value)
            for name in RemoteEmployee.__slots__
            if name != "raw"
            for value in [getattr(record, name)]
        }
        for record in records
    ]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


# -- determinism ----------------------------------------------------------


def test_two_instances_give_identical_rosters():
    first = SampleConnector(config={"size": 300, "seed": 7}, secrets={})
    second = SampleConnector(config={"size": 300, "seed": 7}, secrets={})

    assert list(first.fetch_employees()) == list(second.fetch_employees())
    assert [e.raw for e in first.fetch_employees()] == [e.raw for e in second.fetch_employees()]
    assert list(first.fetch_locations()) == list(second.fetch_locations())


def test_a_different_seed_gives_a_different_roster():
    one = employees(seed=1)
    two = employees(seed=2)

    assert len(one) == len(two) == 300
    assert [(e.first_name, e.last_name) for e in one] != [(e.first_name, e.last_name) for e in two]
    assert {normalised(e.email) for e in one} != {normalised(e.email) for e in two}


def test_default_roster_is_the_same_on_every_machine(default_roster):
    # Pinned so a Python upgrade or an edit to names.json that silently changes
    # every demo install's people fails here. Update it only on purpose.
    assert fingerprint(default_roster) == PINNED_DEFAULT_FINGERPRINT
    first = default_roster[0]
    assert (first.remote_id, first.employee_reference, first.source_position) == (
        "10001",
        "E00001",
        "record 1",
    )


PINNED_DEFAULT_FINGERPRINT = "9662f309d1b7bf07a9d7eec81bd5737fa45f1cdac1b12c28c534706f0f48e3cf"


def test_blank_config_values_fall_back_to_the_defaults(default_roster):
    assert employees(size=None, seed=None) == default_roster
    assert employees(size="", seed="") == default_roster
    assert employees(size=roster.DEFAULT_SIZE, seed=roster.DEFAULT_SEED) == default_roster


# -- size, ids and references ---------------------------------------------


@pytest.mark.parametrize("size", [10, 11, 59, 300, 1234, 5000])
def test_roster_has_the_requested_size(size):
    records = employees(size=size)

    assert len(records) == size
    assert len({e.remote_id for e in records}) == size


def test_default_size_is_300(default_roster):
    assert len(default_roster) == 300


def test_source_position_counts_records_from_one(default_roster):
    assert [e.source_position for e in default_roster] == [
        f"record {n}" for n in range(1, 301)
    ]


def test_employee_references_are_unique_and_only_candidates_lack_one(default_roster):
    references = [e.employee_reference for e in default_roster if e.employee_reference]

    assert len(references) == len(set(references))
    assert all(re.fullmatch(r"E\d{5}", ref) for ref in references)
    assert "E00001" in references
    assert {e.status for e in default_roster if not e.employee_reference} == {roster.CANDIDATE}


# -- locations and managers -----------------------------------------------


def test_fetch_locations_yields_six_named_depots():
    locations = list(SampleConnector(config={}, secrets={}).fetch_locations())

    assert len(locations) == 6
    assert len({loc.remote_id for loc in locations}) == 6
    assert all(re.fullmatch(r"LOC-[A-Z]+", loc.remote_id) for loc in locations)
    assert all(loc.name.endswith(" Depot") for loc in locations)
    assert ("LOC-LEEDS", "Leeds Depot") in {(loc.remote_id, loc.name) for loc in locations}


@pytest.mark.parametrize("size", [10, 300, 5000])
def test_every_location_id_refers_to_a_fetched_location(size):
    connector = SampleConnector(config={"size": size}, secrets={})
    location_ids = {loc.remote_id for loc in connector.fetch_locations()}
    used = {e.location_id for e in connector.fetch_employees()}

    assert used <= location_ids
    if size >= 300:
        assert used == location_ids


@pytest.mark.parametrize("size", [10, 300, 5000])
def test_managers_are_in_the_roster_and_the_hierarchy_has_no_cycles(size):
    records = employees(size=size)
    manager_of = {e.remote_id: e.manager_remote_id for e in records}

    assert all(e.manager_remote_id != e.remote_id for e in records)
    assert {m for m in manager_of.values() if m} <= manager_of.keys()
    for remote_id in manager_of:
        seen = set()
        while remote_id:
            assert remote_id not in seen, f"management cycle through {remote_id}"
            seen.add(remote_id)
            remote_id = manager_of[remote_id]
    tops = [e for e in records if not e.manager_remote_id]
    assert [e.job_title for e in tops] == ["Operations Director"]


def test_some_managers_appear_after_the_people_they_manage(default_roster):
    # The planner must not assume managers come first.
    position = {e.remote_id: n for n, e in enumerate(default_roster)}

    managed = [e for e in default_roster if e.manager_remote_id]
    later = [e for e in managed if position[e.manager_remote_id] > position[e.remote_id]]
    earlier = [e for e in managed if position[e.manager_remote_id] < position[e.remote_id]]
    assert later and earlier


def test_managers_are_active(default_roster):
    by_id = {e.remote_id: e for e in default_roster}
    manager_ids = {e.manager_remote_id for e in default_roster if e.manager_remote_id}

    assert len(manager_ids) >= 7  # the director and a manager per depot, at least
    assert {by_id[m].status for m in manager_ids} == {roster.ACTIVE}


# -- imperfections --------------------------------------------------------


def test_roster_contains_duplicated_emails_under_different_remote_ids(default_roster):
    by_email: dict[str, list[RemoteEmployee]] = {}
    for e in default_roster:
        by_email.setdefault(normalised(e.email), []).append(e)
    duplicated = {email: group for email, group in by_email.items() if len(group) > 1}

    assert len(duplicated) == 5
    for group in duplicated.values():
        assert len({e.remote_id for e in group}) == len(group)
        assert len({(e.first_name, e.last_name, e.date_of_birth) for e in group}) == 1
    # A rehire: the old spell is on file as a leaver next to the current one.
    assert any(
        {e.status for e in group} == {roster.ACTIVE, roster.TERMINATED}
        for group in duplicated.values()
    )
    # Keyed in twice: only the way the email was typed differs.
    assert any(
        len({e.email for e in group}) > 1 and {e.status for e in group} == {roster.ACTIVE}
        for group in duplicated.values()
    )


def test_some_emails_need_trimming_or_lowercasing(default_roster):
    messy = [e.email for e in default_roster if e.email != normalised(e.email)]

    assert any(email != email.strip() for email in messy)
    assert any(email.strip() != email.strip().lower() for email in messy)
    assert len(messy) < len(default_roster) // 10


def test_emails_are_derived_from_names_at_the_demo_domain(default_roster):
    for e in default_roster:
        email = normalised(e.email)
        assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9-]+\d*@acme\.example\.com", email), email
        assert email.startswith(roster._email_part(e.first_name) + ".")


def test_roster_has_every_status(default_roster):
    counts = Counter(e.status for e in default_roster)

    assert set(counts) == set(roster.STATUSES)
    assert counts[roster.ACTIVE] > len(default_roster) // 2


@pytest.mark.parametrize("size", range(10, 61))
def test_even_a_small_roster_has_every_status_and_a_duplicate(size):
    records = employees(size=size)

    assert {e.status for e in records} == set(roster.STATUSES)
    emails = Counter(normalised(e.email) for e in records)
    assert max(emails.values()) >= 2


def test_leavers_have_a_termination_date_after_their_hire_date(default_roster):
    leavers = [e for e in default_roster if e.status in (roster.TERMINATED, roster.INACTIVE)]

    assert leavers
    for e in leavers:
        assert e.hire_date < e.termination_date <= roster.AS_OF
    assert all(e.termination_date is None for e in default_roster if e not in leavers)


def test_starters_dates_fit_their_status(default_roster):
    for e in default_roster:
        if e.status == roster.CANDIDATE:
            assert e.hire_date is None
        elif e.status == roster.ONBOARDING:
            assert e.hire_date > roster.AS_OF
        else:
            assert e.hire_date <= roster.AS_OF


def test_every_status_is_in_the_default_status_map(default_roster):
    status_map = SampleConnector.default_status_map

    assert {e.status for e in default_roster} <= status_map.keys()
    assert set(status_map.values()) == set(Person.Status.values)
    assert status_map["On Leave"] == Person.Status.ON_LEAVE
    assert status_map["Terminated"] == Person.Status.TERMINATED


# -- typed fields ---------------------------------------------------------


def test_fields_are_typed_and_plausible(default_roster):
    for e in default_roster:
        assert type(e.date_of_birth) is dt.date
        assert e.hire_date is None or type(e.hire_date) is dt.date
        assert e.termination_date is None or type(e.termination_date) is dt.date
        age = (roster.AS_OF - e.date_of_birth).days / 365.25
        assert 18 < age < 66
        if e.hire_date:
            assert (e.hire_date - e.date_of_birth).days / 365.25 >= 16
        assert e.first_name and e.last_name and e.job_title
        assert e.gender in {"Female", "Male", "Non-binary", ""}
        assert not e.problems
        for phone in (e.mobile_phone, e.work_phone, e.home_phone):
            assert phone == "" or re.fullmatch(r"[0-9() ]{11,14}", phone), phone
    assert any(e.home_phone for e in default_roster)


def test_some_records_carry_custom_fields(default_roster):
    custom = [e.custom for e in default_roster if e.custom]

    assert {"shirt_size": "M"} in custom
    assert any("leave_reason" in c for c in custom)
    assert len(custom) < len(default_roster)
    json.dumps(custom)  # stored in Person.custom_fields


def test_raw_is_the_vendor_style_row(default_roster):
    e = default_roster[0]

    assert e.raw["EmployeeId"] == e.remote_id
    assert e.raw["Email"] == e.email
    assert e.raw["DateOfBirth"] == e.date_of_birth.isoformat()
    json.dumps([dict(r.raw) for r in default_roster])


# -- check(), config and registry -----------------------------------------


def test_check_reports_the_roster_and_shows_the_first_rows(default_roster):
    result = SampleConnector(config={"size": 300}, secrets={}).check()

    assert result.ok is True
    assert result.message == (
        "Sample roster ready: 300 people in 6 locations (demo data, no HR system is contacted)."
    )
    assert result.sample == [dict(e.raw) for e in default_roster[:5]]
    assert all(type(row) is dict for row in result.sample)


def test_check_counts_the_configured_size():
    result = SampleConnector(config={"size": 25}, secrets={}).check()

    assert result.ok is True
    assert result.message.startswith("Sample roster ready: 25 people in 6 locations")


def test_invalid_config_fails_check_and_fetch_with_a_readable_reason():
    connector = SampleConnector(config={"size": 99999}, secrets={})

    result = connector.check()
    assert result.ok is False
    assert "less than or equal to 5000" in result.message
    with pytest.raises(ConnectorError) as excinfo:
        list(connector.fetch_employees())
    assert excinfo.value.permanent is True


@pytest.mark.parametrize(
    ("size", "valid"),
    [(9, False), (10, True), (300, True), (5000, True), (5001, False), (-1, False), ("", False)],
)
def test_config_form_bounds_the_size(size, valid):
    form = SampleConfigForm(data={"size": size, "seed": ""})

    assert form.is_valid() is valid
    if valid:
        assert form.cleaned_data == {"size": size, "seed": None}
    else:
        assert "size" in form.errors


def test_config_form_defaults_and_seed():
    form = SampleConfigForm()
    assert form.fields["size"].initial == 300
    assert form.fields["seed"].initial == roster.DEFAULT_SEED
    assert form.fields["seed"].required is False

    assert SampleConfigForm(data={"size": 300, "seed": 42}).is_valid()
    assert not SampleConfigForm(data={"size": 300, "seed": "abc"}).is_valid()


def test_connector_declares_its_contract():
    connector = SampleConnector(config={}, secrets={})

    assert SampleConnector.kind == "sample"
    assert SampleConnector.label == "Sample HR data (demo)"
    assert SampleConnector.streams == frozenset({"employees", "locations"})
    assert SampleConnector.full_snapshot is True
    assert SampleConnector.secret_fields == ()
    assert connector.describe() == "bundled demo roster"


def test_registry_resolves_sample_to_the_connector():
    assert connector_class("sample") is SampleConnector


def test_registry_refuses_sample_when_switched_off(settings):
    settings.HRSYNC_SAMPLE_CONNECTOR = False

    with pytest.raises(ValidationError):
        connector_class("sample")
