"""An accessplanit connection in a real browser: created, a dry run that
lists the details it would send, a real sync that sends them, and a course
request approved on the Training tab.

accessplanit's API is mocked with ``responses`` (it patches ``requests``
for every thread, so the live server's runs are answered too); its answers
follow the query each request asks (``$filter``, ``$top``/``$skip``) and
are shaped as VENDORS.md says, built from ``tests/fixtures/accessplanit/``.

Sign in → New connection → accessplanit, send user details on → Save and
test → green bar; Settings shows the webhook address, not the API key.
Two people are already in the directory: Janet, whose email is that of the
accessplanit user Jane, and Tom, at a depot mapped to an accessplanit
company, with no user there. Sync Employees (Dry Run) → the run lists
"Create user" for Tom and "Update: First name" for Janet, and nothing was
sent. Sync All Data → POST /User for Tom (ExternalID = his person id, his
company), PUT /User/jasmit with only Forenames; the run page says both were
sent. The Training tab lists Jane's provisional booking → Approve → PUT
UserCourseDate/jasmit~881 {"Status": "Booked"}, recorded as approved by the
staff user.

Screenshots: accessplanit-new, accessplanit-settings-webhook,
accessplanit-dry-run-pushes, accessplanit-run-sent, accessplanit-training,
accessplanit-training-approved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.conf import settings

from connections.models import Connection, SyncRun
from hrsync.people.models import Person, TrainingRecord
from mappings.models import EmployeeMapping
from tests.browser.conftest import shoot
from tests.browser.test_admin_journey import click_and_wait, field, open_latest_run, open_tab
from tests.factories import DepotFactory, DepotMappingFactory, PersonFactory

try:
    from playwright.sync_api import expect
except ImportError:  # without Playwright the ``browser`` fixture skips (fails in CI)
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.services

NAME = "Acme Training"
BASE_URL = "https://acme.accessplanit.com/accessplan/api/v2"
API_KEY = "apit-key-Browser-0123456789"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "accessplanit"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class FakeAccessPlanIt:
    """accessplanit's API v2 as ``responses`` callbacks: the users,
    companies, delegates and awards it holds, and every write it took."""

    def __init__(self) -> None:
        jane = dict(next(u for u in fixture("users_page.json")["results"] if u["ID"] == "jasmit"))
        self.users: list[dict[str, Any]] = [jane]
        self.companies: list[dict[str, Any]] = fixture("companies.json")["results"]
        # Jane's provisional booking on a future course; Bob is not a user here.
        self.delegates = [d for d in fixture("delegates.json")["results"] if d["UserID"] == "jasmit"]
        self.awards: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str, dict[str, Any]]] = []

    def register(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        for module, records in (
            ("User", lambda: self.users),
            ("Company", lambda: self.companies),
            ("UserCourseDate", lambda: self.delegates),
            ("UserAward", lambda: self.awards),
        ):
            rsps.add_callback(
                responses.GET, re.compile(rf"{re.escape(BASE_URL)}/{module}(\?.*)?$"),
                callback=self._lister(records),
            )
        rsps.add_callback(responses.POST, f"{BASE_URL}/User", callback=self._create_user)
        rsps.add_callback(responses.PUT, re.compile(rf"{re.escape(BASE_URL)}/User/[^/?]+$"), callback=self._update)
        rsps.add_callback(
            responses.PUT, re.compile(rf"{re.escape(BASE_URL)}/UserCourseDate/[^/?]+$"), callback=self._update
        )

    def _authorised(self, request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {API_KEY}"

    def _lister(self, records):
        def callback(request):
            if not self._authorised(request):
                return 401, {}, json.dumps({"Message": "Authorization has been denied for this request."})
            query = {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
            found = [record for record in records() if _matches(record, query.get("$filter", ""))]
            skip, top = int(query.get("$skip", 0)), int(query.get("$top", 100))
            body: dict[str, Any] = {"results": found[skip:skip + top]}
            if query.get("$count") == "true":
                body["@odata.count"] = len(found)
            return 200, {"Content-Type": "application/json"}, json.dumps(body)

        return callback

    def _create_user(self, request):
        body = json.loads(request.body)
        self.writes.append(("POST", "User", body))
        user = {"ID": "tobake", "UniqueID": "0c1f5e2a-7d44-4f1b-8a0e-5b2d9c3e1a77", "Status": "New", **body}
        self.users.append(user)
        return 200, {"Content-Type": "application/json"}, json.dumps(user)

    def _update(self, request):
        path = urlsplit(request.url).path
        module, record_id = path.rsplit("/", 2)[-2:]
        body = json.loads(request.body)
        self.writes.append(("PUT", f"{module}/{record_id}", body))
        held = self.users if module == "User" else self.delegates
        for record in held:
            if record["ID"] == record_id:
                record.update(body)
        return 200, {"Content-Type": "application/json"}, json.dumps({"ID": record_id, **body})


def _matches(record: dict[str, Any], filter: str) -> bool:
    """The ``$filter``s hrsync sends: ``Name eq 'value'`` terms joined by
    ``or`` inside parentheses and by ``and`` between them."""
    for clause in filter.split(" and "):
        terms = re.findall(r"(\w+) eq '((?:[^']|'')*)'", clause)
        if terms and not any(str(record.get(name) or "") == value.replace("''", "'") for name, value in terms):
            return False
    return True


@pytest.fixture
def accessplanit() -> Iterator[FakeAccessPlanIt]:
    fake = FakeAccessPlanIt()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        yield fake


def test_accessplanit_connection_dry_run_pushes_real_sync_and_course_request_approval(
    signed_in_page: Page, accessplanit: FakeAccessPlanIt, staff_user, started_at, transactional_db
):
    page = signed_in_page
    fake = accessplanit
    shots: list[Path] = []
    # Only her first name differs from what accessplanit holds for Jane.
    janet = PersonFactory(
        first_name="Janet", last_name="Smith", email="jane.smith@example.com",
        work_phone="0161 496 0000", mobile_phone="07700 900123",
    )
    north = DepotFactory(name="North")
    tom = PersonFactory(first_name="Tom", last_name="Baker", email="tom.baker@example.com", depot=north)

    # -- 1. Save and test: green bar -----------------------------------------------------------
    page.goto("/connections/")
    click_and_wait(page, page.get_by_role("link", name="New connection").or_(
        page.get_by_role("button", name="New connection")
    ).first)
    page.get_by_role("group", name="Integration").get_by_role("radio", name=re.compile(r"^accessplanit")).check()
    click_and_wait(page, page.get_by_role("button", name="Continue"))
    field(page, "Name").fill(NAME)
    field(page, "API address").fill(BASE_URL)
    field(page, "API key").fill(API_KEY)
    page.get_by_role("checkbox", name="Send user details to accessplanit", exact=True).check()
    shots.append(shoot(page, "accessplanit-new"))
    click_and_wait(page, page.get_by_role("button", name="Save and test"))
    expect(page.locator(".health.ok")).to_contain_text("Connected to accessplanit")
    expect(page.locator(".health.ok")).to_contain_text("acme.accessplanit.com")
    connection = Connection.objects.get(name=NAME)
    assert connection.kind == "accessplanit"
    assert connection.config["push_users"] is True
    assert API_KEY not in page.content()

    # -- 2. Settings: the webhook address to paste into accessplanit; the key is not echoed -----
    open_tab(page, "Settings")
    expect(field(page, "API key")).to_have_value("")
    webhook = page.get_by_role("region", name="Webhook")
    address = webhook.get_by_label("Webhook address")
    # The address is on hrsync's public address (HRSYNC_BASE_URL), not the one this browser uses.
    expect(address).to_have_value(re.compile(
        rf"^{re.escape(settings.HRSYNC_BASE_URL)}/hooks/accessplanit/{connection.uuid}/[^/]{{20,}}/$"
    ))
    webhook.scroll_into_view_if_needed()
    shots.append(shoot(page, "accessplanit-settings-webhook"))
    assert API_KEY not in page.content()

    # Tom's depot is accessplanit's company 12, so he gets a user there.
    DepotMappingFactory(connection=connection, remote_location_id="12", remote_name="Acme North", depot=north)

    # -- 3. A dry run lists what it would send, and sends nothing ------------------------------
    open_tab(page, "Overview")
    page.get_by_role("button", name="More sync options").click()
    click_and_wait(page, page.get_by_role("menuitem", name=re.compile(r"^Sync Employees \(Dry Run\)")))
    expect(page.get_by_role("status").filter(has_text="queued")).to_be_visible()
    run = SyncRun.objects.filter(connection=connection).latest("pk")
    assert run.dry_run and run.status == SyncRun.Status.SUCCEEDED, (run.status, run.error)
    open_latest_run(page)
    pushes = page.get_by_role("region", name=f"Changes sent to {NAME}")
    expect(pushes.get_by_text(f"2 changes to send to {NAME} when this sync runs for real.")).to_be_visible()
    rows = pushes.get_by_role("row")
    expect(rows.filter(has_text="Tom Baker").filter(has_text="Create user")).to_have_count(1)
    # Only the first name: her phones are the same in both places.
    expect(rows.filter(has_text="Janet Smith").get_by_role("cell").nth(1)).to_have_text(
        re.compile(r"^Update: First name\s*Record id jasmit$")
    )
    expect(rows.filter(has_text="Would be sent")).to_have_count(2)
    pushes.scroll_into_view_if_needed()
    shots.append(shoot(page, "accessplanit-dry-run-pushes"))
    assert fake.writes == []
    assert [call.request.method for call in fake.rsps.calls if call.request.method != "GET"] == []
    assert not EmployeeMapping.objects.filter(connection=connection).exists()

    # -- 4. Sync All Data: Tom's user is created, Janet's first name is sent ---------------------
    open_tab(page, "Overview")
    click_and_wait(page, page.get_by_role("button", name="Sync All Data", exact=True))
    expect(page.get_by_role("status").filter(has_text="queued")).to_be_visible()
    run = SyncRun.objects.filter(connection=connection).latest("pk")
    assert not run.dry_run and run.status == SyncRun.Status.SUCCEEDED, (run.status, run.error)
    # One request per change, in whatever order the people come; POST sorts before PUT.
    assert sorted(fake.writes, key=lambda write: write[0]) == [
        ("POST", "User", {
            "ExternalID": str(tom.pk), "MainCompanyID": "12", "Forenames": "Tom", "Surname": "Baker",
            "Email": "tom.baker@example.com",
        }),
        ("PUT", "User/jasmit", {"Forenames": "Janet"}),
    ], fake.writes
    linked = dict(
        EmployeeMapping.objects.filter(connection=connection, state=EmployeeMapping.State.LINKED)
        .values_list("remote_id", "person_id")
    )
    assert linked == {"jasmit": janet.pk, "tobake": tom.pk}
    janet.refresh_from_db()
    assert janet.first_name == "Janet"  # hrsync owns the first name: accessplanit's is not read back
    open_latest_run(page)
    pushes = page.get_by_role("region", name=f"Changes sent to {NAME}")
    rows = pushes.get_by_role("row")
    expect(rows.filter(has_text="Tom Baker").filter(has_text="Create user").filter(has_text="Sent")).to_have_count(1)
    expect(rows.filter(has_text="Janet Smith").filter(has_text="Update: First name").filter(
        has_text="Sent")).to_have_count(1)
    pushes.scroll_into_view_if_needed()
    shots.append(shoot(page, "accessplanit-run-sent"))

    # -- 5. The Training tab: Jane's provisional booking waits; Approve sends Booked -------------
    record = TrainingRecord.objects.get(connection=connection, remote_id="jasmit~881")
    assert record.person_id == janet.pk and record.is_request
    open_tab(page, "Training")
    requests_ = page.get_by_role("region", name="Course requests waiting for a decision")
    request_row = requests_.locator(f"#request-{record.pk}")
    expect(request_row).to_contain_text("Janet Smith")
    expect(request_row).to_contain_text("First Aid at Work - 12 Jan 2027")
    expect(request_row.get_by_role("button", name="Approve")).to_be_visible()
    expect(request_row.get_by_role("link", name=re.compile("^Reject"))).to_be_visible()
    shots.append(shoot(page, "accessplanit-training"))
    click_and_wait(page, request_row.get_by_role("button", name="Approve"))
    expect(page.get_by_text(
        "Approved: Janet Smith on First Aid at Work - 12 Jan 2027, 12 Jan 2027. accessplanit now shows Booked."
    )).to_be_visible()
    expect(page.get_by_text("No course request is waiting for a decision.")).to_be_visible()
    shots.append(shoot(page, "accessplanit-training-approved"))
    assert fake.writes[-1] == ("PUT", "UserCourseDate/jasmit~881", {"Status": "Booked"})
    record.refresh_from_db()
    assert record.decision == TrainingRecord.Decision.APPROVED
    assert record.decided_by_id == staff_user.pk and record.decided_at is not None
    assert Person.objects.count() == 2  # nobody else came into the directory

    # -- 6. Every screenshot was written by this run ----------------------------------------------
    for path in shots:
        assert path.is_file() and path.stat().st_size > 0, path
        assert path.stat().st_mtime >= started_at, f"{path} is stale"
