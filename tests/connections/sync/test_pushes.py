"""People's details sent back to a source: field ownership, updates of only
what changed, creates keyed by our person id, each push's outcome recorded
on the run; and the planner's rules that come with them (matching by our
person id, deactivating the records a source says are gone)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from urllib.parse import unquote_plus

import pytest
import responses
from django.urls import reverse

from connections.models import SyncRun
from connections.sync import pushes
from connections.sync.planner import PlanSettings, plan
from connections.sync.pushes import PeoplePushState
from connections.sync.runner import _safeguard_message
from connections.sync.state import directory_state_load
from connectors import registry
from connectors.base import Pushable, PushChange, PushResult
from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from tests.connections.helpers import run_sync
from tests.connections.static_connector import StaticConnector, employee, static_source_install
from tests.factories import ConnectionFactory, DepotFactory, DepotMappingFactory, EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db

Status = SyncRun.Status


class PersonPushConnector(StaticConnector, Pushable):
    """A source that takes people's details back, as the test sets."""

    fields: frozenset[str] = frozenset()
    #: Key → the outcome and message to answer with ("sent" by default).
    outcomes: dict[str, tuple[str, str]] = {}
    #: Every change pushed, in order.
    pushed: list[PushChange] = []
    #: Our person id → the id of the user made for them: a repeated create finds it.
    users_by_ref: dict[str, str] = {}

    @property
    def push_fields(self) -> frozenset[str]:
        return type(self).fields

    def push_problem(self, change: PushChange) -> str:
        first_name = str(change.values.get("first_name", ""))
        if len(first_name) > 50:
            return f"First name is {len(first_name)} characters; the source takes at most 50."
        return ""

    def push(self, changes: Sequence[PushChange]) -> Iterator[PushResult]:
        cls = type(self)
        for change in changes:
            cls.pushed.append(change)
            outcome, message = cls.outcomes.get(change.key, ("sent", ""))
            remote_id = change.remote_id
            if outcome == "sent" and change.operation == "create":
                ref = change.values["person_ref"]
                remote_id = cls.users_by_ref.setdefault(ref, f"U{len(cls.users_by_ref) + 1}")
            yield PushResult(key=change.key, outcome=outcome, remote_id=remote_id, message=message)


@pytest.fixture
def source(monkeypatch):
    yield static_source_install(
        monkeypatch, PersonPushConnector, fields=frozenset({"first_name", "email"}), outcomes={}, pushed=[],
        users_by_ref={},
    )
    registry._import_connector.cache_clear()


@pytest.fixture
def connection(source):
    return ConnectionFactory(name="Training Hub")


@pytest.fixture
def ada(connection):
    person = PersonFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    EmployeeMappingFactory(connection=connection, remote_id="E1", person=person)
    return person


def _ada_record(**fields):
    return employee("E1", **{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", **fields})


def _mapping(connection, remote_id):
    return EmployeeMapping.objects.get(connection=connection, remote_id=remote_id)


# -- ownership --------------------------------------------------------------------------


def test_a_field_hrsync_owns_is_never_updated_from_the_source_and_is_sent_to_it_instead(source, connection, ada):
    source.employees = [_ada_record(first_name="Adaline", last_name="Byron")]

    run = run_sync(connection, scope="employees")

    ada.refresh_from_db()
    assert (ada.first_name, ada.last_name) == ("Ada", "Byron")
    assert [(c.operation, c.remote_id, c.values) for c in source.pushed] == [
        ("update", "E1", {"first_name": "Ada"})
    ]
    assert _mapping(connection, "E1").pushed_snapshot == {"first_name": "Ada"}
    assert _mapping(connection, "E1").pushed_at is not None
    assert run.status == Status.SUCCEEDED
    assert run.counts["pushes"]["sent"] == 1
    assert run.report["streams"]["employees"]["counts"]["pushes"]["sent"] == 1


def test_with_nothing_pushed_every_mapped_field_is_pulled_as_before(source, connection, ada):
    source.fields = frozenset()
    source.employees = [_ada_record(first_name="Adaline")]

    run = run_sync(connection, scope="employees")

    ada.refresh_from_db()
    assert ada.first_name == "Adaline"
    assert source.pushed == []
    assert "pushes" not in run.counts


def test_a_person_created_from_a_record_takes_the_fields_hrsync_owns_from_it_and_sends_nothing_back(
    source, connection
):
    source.employees = [employee("E9", first_name="Grace", last_name="Hopper", email="grace@example.com")]

    run = run_sync(connection, scope="employees")

    grace = Person.objects.get(email="grace@example.com")
    assert (grace.first_name, grace.last_name) == ("Grace", "Hopper")
    assert source.pushed == []
    assert run.counts["created"] == 1


def test_a_linked_person_never_pushed_who_matches_the_source_is_not_sent(source, connection, ada):
    source.employees = [_ada_record(last_name="Byron")]

    run_sync(connection, scope="employees")

    assert source.pushed == []
    assert _mapping(connection, "E1").pushed_snapshot == {}


def test_an_update_sends_only_the_owned_fields_changed_since_the_last_push(source, connection, ada):
    EmployeeMapping.objects.filter(remote_id="E1").update(
        pushed_snapshot={"first_name": "Ada", "email": "ada@example.com"}
    )
    Person.objects.filter(pk=ada.pk).update(email="ada.lovelace@example.com")
    # The source still holds another first name: what was last sent is compared, not the record.
    source.employees = [_ada_record(first_name="Someone")]

    run_sync(connection, scope="employees")

    assert [c.values for c in source.pushed] == [{"email": "ada.lovelace@example.com"}]
    assert _mapping(connection, "E1").pushed_snapshot == {"first_name": "Ada", "email": "ada.lovelace@example.com"}
    ada.refresh_from_db()
    assert ada.email == "ada.lovelace@example.com"


def test_a_first_push_never_wipes_a_detail_the_source_has_and_hrsync_lacks(source, connection, ada):
    source.fields = frozenset({"first_name", "mobile_phone"})
    Person.objects.filter(pk=ada.pk).update(first_name="Augusta", mobile_phone="")
    source.employees = [_ada_record(mobile_phone="07700 900123")]

    run_sync(connection, scope="employees")

    assert [c.values for c in source.pushed] == [{"first_name": "Augusta"}]


def test_clearing_a_detail_after_it_was_sent_is_sent(source, connection, ada):
    source.fields = frozenset({"first_name", "mobile_phone"})
    EmployeeMapping.objects.filter(remote_id="E1").update(
        pushed_snapshot={"first_name": "Ada", "mobile_phone": "07700 900123"}
    )
    source.employees = [_ada_record(mobile_phone="07700 900123")]

    run_sync(connection, scope="employees")

    assert [c.values for c in source.pushed] == [{"mobile_phone": ""}]


# -- creates ----------------------------------------------------------------------------


@pytest.fixture
def bristol(connection):
    depot = DepotFactory(name="Bristol")
    DepotMappingFactory(connection=connection, remote_location_id="C7", depot=depot)
    return depot


def test_managed_and_depot_mapped_people_without_a_record_are_created_with_our_id_and_location(
    source, connection, bristol
):
    managed = PersonFactory(first_name="Mary", last_name="Jackson", email="mary@example.com",
                            managed_by=connection, depot=bristol)
    at_depot = PersonFactory(first_name="Dorothy", last_name="Vaughan", email="dorothy@example.com", depot=bristol)
    PersonFactory(email="elsewhere@example.com")  # neither managed here nor at a mapped depot

    run = run_sync(connection, scope="employees")

    assert sorted((c.operation, c.values["person_ref"]) for c in source.pushed) == sorted(
        [("create", str(managed.pk)), ("create", str(at_depot.pk))]
    )
    created = next(c for c in source.pushed if c.values["person_ref"] == str(managed.pk))
    assert created.values == {
        "first_name": "Mary", "email": "mary@example.com", "person_ref": str(managed.pk), "location_id": "C7",
    }
    mapping = EmployeeMapping.objects.get(connection=connection, person=managed)
    assert (mapping.state, mapping.remote_name, mapping.remote_email) == ("linked", "Mary", "mary@example.com")
    assert mapping.pushed_snapshot == {"first_name": "Mary", "email": "mary@example.com"}
    assert run.counts["pushes"]["sent"] == 2


def test_a_repeated_run_links_the_created_user_and_creates_nothing_more(source, connection, bristol):
    mary = PersonFactory(first_name="Mary", last_name="Jackson", email="mary@example.com", depot=bristol)
    run_sync(connection, scope="employees")
    remote_id = EmployeeMapping.objects.get(connection=connection, person=mary).remote_id
    source.pushed.clear()
    source.employees = [
        employee(remote_id, first_name="Mary", last_name="Jackson", email="mary@example.com", person_ref=str(mary.pk))
    ]

    run = run_sync(connection, scope="employees")

    assert source.pushed == []
    assert EmployeeMapping.objects.filter(connection=connection).count() == 1
    assert run.counts["created"] == 0


def test_a_push_sent_but_not_recorded_is_found_again_by_our_id_and_mapped_once(source, connection, bristol, monkeypatch):
    mary = PersonFactory(first_name="Mary", email="mary@example.com", depot=bristol)

    def crash(connection_id, person, item):
        raise RuntimeError("the worker was stopped")

    handler = pushes._HANDLERS[pushes.EMPLOYEES]
    monkeypatch.setitem(pushes._HANDLERS, pushes.EMPLOYEES, dataclasses.replace(handler, record=crash))
    run_sync(connection, scope="employees")
    assert not EmployeeMapping.objects.filter(connection=connection).exists()
    monkeypatch.setitem(pushes._HANDLERS, pushes.EMPLOYEES, handler)

    run_sync(connection, scope="employees")

    assert [c.operation for c in source.pushed] == ["create", "create"]
    assert source.users_by_ref == {str(mary.pk): "U1"}
    assert list(EmployeeMapping.objects.filter(connection=connection).values_list("remote_id", "person_id")) == [
        ("U1", mary.pk)
    ]


def test_a_create_the_source_would_refuse_is_not_sent_and_makes_the_run_complete_with_errors(
    source, connection, bristol
):
    PersonFactory(first_name="A" * 53, email="long@example.com", depot=bristol)

    run = run_sync(connection, scope="employees")

    assert source.pushed == []
    assert run.status == Status.COMPLETED_WITH_ERRORS
    [item] = run.report["pushes"]
    assert item["outcome"] == "not_sent"
    assert item["message"] == "Not sent: First name is 53 characters; the source takes at most 50."
    assert run.counts["pushes"]["not_sent"] == 1
    assert not EmployeeMapping.objects.filter(connection=connection).exists()


def test_a_managed_person_whose_depot_has_no_location_is_not_created_and_says_why(source, connection):
    PersonFactory(email="nodepot@example.com", managed_by=connection)

    run = run_sync(connection, scope="employees")

    assert source.pushed == []
    assert run.status == Status.COMPLETED_WITH_ERRORS
    assert "not mapped to a location of Training Hub" in run.report["pushes"][0]["message"]


def test_no_create_is_planned_on_a_partial_read(connection, bristol):
    PersonFactory(email="mary@example.com", depot=bristol)
    state = directory_state_load(connection_id=connection.pk)
    settings = PlanSettings(
        connection_id=connection.pk, connection_name=connection.name, status_map=connection.status_map,
        provides=StaticConnector.provides, full_snapshot=False, pushed=frozenset({"email"}),
    )
    push = PeoplePushState(connection_name=connection.name, fields=("email",),
                           location_by_depot={bristol.pk: "C7"}, full_read=False)

    the_plan = plan(settings=settings, state=state, records={"employees": []}, people_push=push)

    assert the_plan.pushes == []
    assert plan(settings=settings, state=state, records={"employees": []},
                people_push=dataclasses.replace(push, full_read=True)).pushes[0].operation == "create"


# -- outcomes ---------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["rejected", "failed"])
def test_a_refused_or_failed_push_is_recorded_with_its_message_and_saves_nothing(source, connection, bristol, outcome):
    mary = PersonFactory(first_name="Mary", email="mary@example.com", depot=bristol)
    source.outcomes = {f"person:{mary.pk}": (outcome, "Email is not valid.")}

    run = run_sync(connection, scope="employees")

    assert run.status == Status.COMPLETED_WITH_ERRORS
    [item] = SyncRun.objects.get(pk=run.pk).report["pushes"]
    assert (item["outcome"], item["message"], item["stream"]) == (outcome, "Email is not valid.", "employees")
    assert run.counts["pushes"][outcome] == 1
    assert not EmployeeMapping.objects.filter(connection=connection).exists()
    source.outcomes = {}

    run_sync(connection, scope="employees")

    assert EmployeeMapping.objects.filter(connection=connection, person=mary).exists()


def test_a_dry_run_lists_the_pushes_and_sends_nothing(source, connection, ada, admin_client):
    source.employees = [_ada_record(first_name="Adaline")]

    run = run_sync(connection, scope="employees", dry_run=True)

    assert source.pushed == []
    assert _mapping(connection, "E1").pushed_snapshot == {}
    [item] = run.report["pushes"]
    assert (item["outcome"], item["what"], item["values"]) == ("planned", "Update: First name", {"first_name": "Ada"})
    assert run.counts["pushes"]["planned"] == 1
    page = admin_client.get(reverse("connections:run", args=[connection.pk, run.pk])).content.decode()
    assert "Changes sent to Training Hub" in page
    assert "Update: First name" in page
    assert "1 change to send to Training Hub" in page


def test_absence_pushes_still_count_under_absences_beside_person_pushes(source, connection, ada):
    source.employees = [_ada_record(first_name="Adaline")]

    run = run_sync(connection, scope="employees")

    assert "absences" not in run.report["streams"]
    assert run.report["streams"]["employees"]["counts"]["pushes"] == {
        "planned": 0, "sent": 1, "rejected": 0, "failed": 0, "not_sent": 0,
    }


# -- matching by our id, and records said to be gone -----------------------------------


def test_a_record_carrying_our_person_id_is_linked_to_that_person_before_the_email_rule(source, connection):
    bob = PersonFactory(first_name="Bob", email="bob@example.com")
    source.fields = frozenset()
    source.employees = [employee("E5", first_name="Bob", email="robert@example.com", person_ref=str(bob.pk))]

    run = run_sync(connection, scope="employees")

    assert _mapping(connection, "E5").person_id == bob.pk
    assert run.counts["linked"] == 1
    bob.refresh_from_db()
    assert bob.email == "robert@example.com"


def test_a_record_naming_a_person_linked_elsewhere_falls_through_to_the_normal_rules(source, connection, ada):
    source.fields = frozenset()
    source.employees = [_ada_record(), employee("E6", email="new@example.com", person_ref=str(ada.pk))]

    run = run_sync(connection, scope="employees")

    assert _mapping(connection, "E6").person_id != ada.pk
    assert run.counts["created"] == 1


def test_a_record_whose_id_field_names_one_person_but_whose_email_is_another_s_is_not_linked_by_the_id(
    source, connection
):
    # A source may keep its own numbers in the field: one that happens to be a
    # person's id must not link a stranger to them.
    bob = PersonFactory(first_name="Bob", email="bob@example.com")
    cleo = PersonFactory(first_name="Cleo", email="cleo@example.com")
    source.fields = frozenset()
    source.employees = [employee("E7", first_name="Cleo", email="cleo@example.com", person_ref=str(bob.pk))]

    run_sync(connection, scope="employees")

    assert _mapping(connection, "E7").person_id == cleo.pk


def test_a_person_another_connection_manages_is_never_created_at_this_source(source, connection, bristol):
    hr = ConnectionFactory(name="HR system")
    theirs = PersonFactory(first_name="Katherine", email="katherine@example.com", managed_by=hr, depot=bristol)
    EmployeeMappingFactory(connection=hr, remote_id="H1", person=theirs)

    run = run_sync(connection, scope="employees")

    assert source.pushed == []
    assert not EmployeeMapping.objects.filter(connection=connection, person=theirs).exists()
    assert "pushes" not in run.counts or not run.counts["pushes"].get("sent")


def test_records_a_partial_read_says_are_gone_are_deactivated_and_counted_by_the_safeguard(connection):
    people = [PersonFactory(email=f"p{n}@example.com") for n in range(3)]
    for n, person in enumerate(people):
        EmployeeMappingFactory(connection=connection, remote_id=f"E{n}", person=person)
    state = directory_state_load(connection_id=connection.pk)
    settings = PlanSettings(
        connection_id=connection.pk, connection_name=connection.name, status_map=connection.status_map,
        provides=StaticConnector.provides, full_snapshot=False, gone_remote_ids=frozenset({"E0", "E1"}),
    )

    the_plan = plan(settings=settings, state=state, records={"employees": []})

    assert sorted(c.person_id for c in the_plan.deactivations) == sorted([people[0].pk, people[1].pk])
    assert sorted(the_plan.mappings_gone) == sorted(
        EmployeeMapping.objects.filter(remote_id__in=["E0", "E1"]).values_list("id", flat=True)
    )
    connection.safeguard_percent, connection.safeguard_min = 20, 1
    assert _safeguard_message(connection, the_plan)


def test_a_run_page_says_in_words_why_a_push_was_refused(source, connection, bristol, admin_client):
    mary = PersonFactory(first_name="Mary", email="mary@example.com", depot=bristol)
    source.outcomes = {f"person:{mary.pk}": ("rejected", "MainCompanyID does not exist.")}

    run = run_sync(connection, scope="employees")

    page = admin_client.get(reverse("connections:run", args=[connection.pk, run.pk])).content.decode()
    assert "Create user" in page
    assert "MainCompanyID does not exist." in page
    assert ">Refused<" in page
    assert reverse("people:detail", args=[mary.pk]) in page


# -- end to end, with accessplanit --------------------------------------------------------

APIT = "https://acme.accessplanit.com/accessplan/api/v2"


def test_an_accessplanit_run_puts_only_the_changed_owned_fields_and_posts_a_new_user_once():
    apit = ConnectionFactory(
        kind="accessplanit", name="accessplanit", config={"base_url": APIT, "push_users": True},
        secrets={"api_key": "apit-test-key"}, status_map={"Enabled": "active", "New": "onboarding"},
    )
    jane = PersonFactory(first_name="Janet", last_name="Smith", email="jane.smith@example.com")
    EmployeeMappingFactory(connection=apit, remote_id="jasmit", person=jane)
    bristol = DepotFactory(name="Bristol")
    DepotMappingFactory(connection=apit, remote_location_id="12", depot=bristol)
    mary = PersonFactory(first_name="Mary", last_name="Jackson", email="mary@example.com", depot=bristol)
    user = {"ID": "jasmit", "ExternalID": "", "Forenames": "Jane", "Surname": "Smith",
            "Email": "jane.smith@example.com", "Phone": None, "Mobile": None, "JobTitle": "Trainer",
            "Status": "Enabled", "DOB": None, "Sex": "Female", "MainCompanyID": "12"}
    created = {"ID": "majack", "ExternalID": str(mary.pk), "Forenames": "Mary", "Surname": "Jackson",
               "Email": "mary@example.com", "MainCompanyID": "12", "Status": "New"}

    def users(request):
        if "ExternalID eq" in unquote_plus(request.url):
            return 200, {}, json.dumps({"results": []})  # no user carries Mary's id yet
        return 200, {}, json.dumps({"@odata.count": 1, "results": [user]})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.GET, f"{APIT}/User", callback=users)
        mocked.add(responses.POST, f"{APIT}/User", json=created, status=201)
        mocked.add(responses.PUT, f"{APIT}/User/jasmit", json={**user, "Forenames": "Janet"})

        run = run_sync(apit, scope="employees")

        writes = [(call.request.method, call.request.url, json.loads(call.request.body))
                  for call in mocked.calls if call.request.method in ("POST", "PUT")]
    assert run.status == Status.SUCCEEDED
    assert ("PUT", f"{APIT}/User/jasmit", {"Forenames": "Janet"}) in writes
    [post] = [body for method, _, body in writes if method == "POST"]
    assert (post["ExternalID"], post["MainCompanyID"], post["Forenames"]) == (str(mary.pk), "12", "Mary")
    jane.refresh_from_db()
    assert jane.first_name == "Janet"
    assert EmployeeMapping.objects.get(connection=apit, person=mary).remote_id == "majack"
    assert _mapping(apit, "jasmit").pushed_snapshot == {"first_name": "Janet"}
