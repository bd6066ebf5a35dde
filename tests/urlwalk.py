"""Every URL pattern of the project, filled in with real object ids.

Shared by ``tests/test_urls.py`` (who may open each page) and
``tests/test_no_secrets_in_pages.py`` (what each page shows). Adding a URL
pattern means adding it to ``EXPECTED`` (who gets what) and, if it takes
arguments, to ``URL_KWARGS`` (which objects fill it): until then
``test_urls.py`` fails, so no page can be added without its access being
checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern
from django.utils import timezone

from connections.models import SyncRun
from connections.services import connection_create, connection_record_health
from connections.sync.absences import AbsenceChange, PushItem
from connections.sync.changes import Action, Change, LocationAction, LocationChange, SyncPlan
from hrsync.people.models import Absence, Depot, Person
from mappings.models import DepotMapping, EmployeeMapping
from tests.factories import sync_run_report_store

# -- the walk ------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One URL pattern: ``key`` is its full name ("people:detail"), or for an
    unnamed pattern its path ("/")."""

    key: str
    name: str | None
    route: str
    params: tuple[str, ...]

    def url(self, kwargs: dict[str, Any]) -> str:
        if self.name:
            return reverse(self.name, kwargs=kwargs or None)
        if self.params:
            raise LookupError(f"Unnamed URL pattern {self.route!r} takes arguments: give it a name.")
        return "/" + self.route


#: The Django admin's own pages are the admin's business (it checks
#: ``is_staff`` and model permissions itself); its index stands for them all.
ADMIN_NAMESPACE = "admin"
ADMIN_KEPT = frozenset({"admin:index"})


def walk(
    patterns: Iterable[URLPattern | URLResolver] | None = None,
    *,
    prefix: str = "",
    namespace: str = "",
    params: tuple[str, ...] = (),
) -> list[Route]:
    """Every URL pattern under ``patterns`` (default: the project's), recursively."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    routes: list[Route] = []
    for pattern in patterns:
        own_params = tuple(pattern.pattern.regex.groupindex)
        route = prefix + _route_text(pattern)
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            routes += walk(pattern.url_patterns, prefix=route, namespace=inner, params=params + own_params)
            continue
        name = None
        if pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        if namespace.split(":")[0] == ADMIN_NAMESPACE and name not in ADMIN_KEPT:
            continue
        routes.append(Route(key=name or "/" + route, name=name, route=route, params=params + own_params))
    return routes


def _route_text(pattern: URLPattern | URLResolver) -> str:
    if isinstance(pattern.pattern, RoutePattern):
        return str(pattern.pattern)
    return pattern.pattern.regex.pattern.lstrip("^").rstrip("$")


# -- who gets what ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: int
    #: For redirects: "login", "admin:login" (followed by ?next=<the page>), or
    #: the URL name it must point at.
    redirect: str | None = None
    content_type: str = "text/html"


LOGIN = Outcome(302, redirect="login")
ADMIN_LOGIN = Outcome(302, redirect="admin:login")
FORBIDDEN = Outcome(403)
OK = Outcome(200)
CSV = Outcome(200, content_type="text/csv")
JSON = Outcome(200, content_type="application/json")
XML = Outcome(200, content_type="application/xml")
NOT_ALLOWED = Outcome(405)


@dataclass(frozen=True)
class Access:
    anonymous: Outcome
    member: Outcome  # signed in, not staff
    staff: Outcome

    def for_role(self, role: str) -> Outcome:
        return getattr(self, role)

    @property
    def staff_reads_it(self) -> bool:
        """A page a staff member can GET (rather than a POST endpoint or a redirect)."""
        return self.staff.status == 200


ROLES = ("anonymous", "member", "staff")

STAFF_PAGE = Access(LOGIN, FORBIDDEN, OK)
STAFF_CSV = Access(LOGIN, FORBIDDEN, CSV)
STAFF_JSON = Access(LOGIN, FORBIDDEN, JSON)
#: Forms post here; a GET is refused.
STAFF_POST = Access(LOGIN, FORBIDDEN, NOT_ALLOWED)
#: Signing in and resetting a forgotten password work for everyone.
PUBLIC = Access(OK, OK, OK)
#: Changing one's own password needs a login, not staff.
SIGNED_IN = Access(LOGIN, OK, OK)

EXPECTED: dict[str, Access] = {
    # The front door sends everyone to the connections, which then decide.
    "/": Access(*(Outcome(302, redirect="connections:list"),) * 3),
    "connections:list": STAFF_PAGE,
    "connections:new": STAFF_PAGE,
    "connections:overview": STAFF_PAGE,
    "connections:sync": STAFF_POST,
    "connections:options": STAFF_POST,
    "connections:progress": STAFF_JSON,
    "connections:settings": STAFF_PAGE,
    "connections:test": STAFF_POST,
    # A connector's own pages exist only for connections of its kind
    # (build_world's connection is ActionHRM's); tests/connectors/csv_file/
    # test_views.py and test_views_pin.py open them on CSV file connections.
    "connections:csv_file:pin_host_key": Access(LOGIN, FORBIDDEN, Outcome(404)),
    "connections:csv_file:columns": Access(LOGIN, FORBIDDEN, Outcome(404)),
    "connections:delete": STAFF_PAGE,  # GET asks for confirmation
    "connections:runs": STAFF_PAGE,
    "connections:run": STAFF_PAGE,
    "connections:run_csv": STAFF_CSV,
    "connections:run_approve": STAFF_POST,
    "connections:run_reject": STAFF_POST,
    "connections:run_apply": STAFF_POST,
    "connections:employees": STAFF_PAGE,
    "connections:employee_action": STAFF_POST,
    "connections:conflict_resolve": STAFF_POST,
    "connections:depots": STAFF_PAGE,
    # Only for a connection whose connector exchanges absences: opened on
    # build_world's Personio connection (absences from Personio);
    # tests/people/test_absence_pages.py checks the 404 of one that does not.
    "connections:absences": STAFF_PAGE,
    # Only for a connection that reads training records: opened on build_world's
    # accessplanit connection (a GET of a decision asks to confirm a rejection);
    # tests/people/test_training.py checks the 404 of one that does not.
    "connections:training": STAFF_PAGE,
    "connections:training_decide": STAFF_PAGE,
    # Only for a connection that receives files: opened on build_world's XML
    # upload connection; tests/connections/test_views_uploads.py checks the
    # 404 of one that does not.
    "connections:uploads": STAFF_PAGE,
    "connections:upload_new": STAFF_POST,
    "connections:upload_file": Access(LOGIN, FORBIDDEN, XML),
    "connections:upload_errors": STAFF_CSV,
    "connections:upload_cancel": STAFF_POST,  # a POST without "confirm" asks first
    # The key is shown once, right after it is made; later the page says so.
    "connections:api_key": STAFF_PAGE,
    "connections:api_key_regenerate": STAFF_POST,
    "connections:webhook_regenerate": STAFF_POST,
    "people:list": STAFF_PAGE,
    "people:new": STAFF_PAGE,  # GET shows the Add person form
    "people:search": STAFF_JSON,
    "people:detail": STAFF_PAGE,
    "people:protect": STAFF_POST,
    "people:absence_new": STAFF_PAGE,  # GET shows the Add absence form
    "people:absence_remove": STAFF_PAGE,  # GET asks for confirmation
    "login": PUBLIC,
    "logout": Access(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),  # POST only (Django 5)
    "password_change": SIGNED_IN,
    "password_change_done": SIGNED_IN,
    "password_reset": PUBLIC,
    "password_reset_done": PUBLIC,
    "password_reset_confirm": PUBLIC,  # an invalid link says so
    "password_reset_complete": PUBLIC,
    # The admin answers non-staff with its own sign-in page, not a 403.
    "admin:index": Access(ADMIN_LOGIN, ADMIN_LOGIN, OK),
    # The REST API knows callers by their connection's API key, never by a
    # session (tests/connections/api/ sends keys): the schemas are public,
    # uploads are POSTed, a status needs the key, whoever is signed in.
    "api:employees_xsd": Access(XML, XML, XML),
    "api:positions_xsd": Access(XML, XML, XML),
    "api:employee": Access(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
    "api:position": Access(NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
    "api:upload": Access(Outcome(401), Outcome(401), Outcome(401)),
    "api:not_found": Access(Outcome(404), Outcome(404), Outcome(404)),
    # Webhooks know callers by the secret in the address (tests/connections/api/
    # test_webhooks.py); a kind without webhooks has none, whoever is signed in.
    "hooks:receive": Access(Outcome(404), Outcome(404), Outcome(404)),
}


# -- the objects that fill the URLs ----------------------------------------------------


def build_world(*, password: str = "s3cret-Pa55word") -> SimpleNamespace:
    """A connection with everything a page can show: runs of each kind,
    employee and depot mappings, managed and manual people, and users; and a
    Personio connection (``w.personio``) that copies absences from Personio
    and waits for new people to be included, with a linked person who has
    absences from Personio and one recorded in hrsync, and an excluded record.

    An accessplanit connection (``w.accessplanit``) sends user details and
    reads training records: two linked people, a depot mapped to one of its
    companies, a course request waiting, a completed booking and an award, a
    webhook delivery, and a sync that created a user there and sent a name.

    ``password`` is the ActionHRM connection's API password, the Personio
    connection's client secret and the accessplanit connection's API key.
    The users have no password (tests sign them in with ``force_login``):
    hashing one costs more than the rest of the world together.
    """
    User = get_user_model()
    now = timezone.now()
    w = SimpleNamespace(password=password)
    w.member = User.objects.create_user("member", "member@example.com")
    w.staff = User.objects.create_user("staff", "staff@example.com", is_staff=True)
    w.superuser = User.objects.create_superuser("root", "root@example.com")

    w.connection = connection_create(
        kind="actionhrm",
        name="Acme HR",
        config={"subdomain": "acme", "username": "api"}, secrets={"password": password},
    )
    connection_record_health(
        connection=w.connection, ok=True, message="Connected to ActionHRM at acme.actionhrm.com"
    )
    w.depot = Depot.objects.create(name="North", code="N")
    w.depot_mapping = DepotMapping.objects.create(
        connection=w.connection, remote_location_id="L1", remote_name="North site", depot=w.depot
    )
    w.unmapped_location = DepotMapping.objects.create(
        connection=w.connection, remote_location_id="L2", remote_name="South site"
    )
    w.manager = Person.objects.create(
        first_name="Grace", last_name="Hopper", email="grace@example.com", managed_by=w.connection
    )
    w.person = Person.objects.create(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        employee_reference="E1",
        depot=w.depot,
        manager=w.manager,
        managed_by=w.connection,
        custom_fields={"shift": "early"},
    )
    w.manual = Person.objects.create(first_name="Manual", last_name="Person", email="manual@example.com")
    w.absence = Absence.objects.create(
        person=w.manual, type_name="Holiday", start_date=now.date(), end_date=now.date() + dt.timedelta(days=2)
    )
    w.mapping = EmployeeMapping.objects.create(
        connection=w.connection, remote_id="R1", person=w.person, remote_name="Ada Lovelace",
        remote_email="ada@example.com", remote_status="Active",
    )
    w.manager_mapping = EmployeeMapping.objects.create(
        connection=w.connection, remote_id="R2", person=w.manager, remote_name="Grace Hopper",
        remote_email="grace@example.com", remote_status="Active",
    )
    w.conflict = EmployeeMapping.objects.create(
        connection=w.connection, remote_id="R3", state=EmployeeMapping.State.CONFLICT,
        remote_name="Ada Again", remote_email="ada@example.com", remote_status="Active",
        message="Two records share ada@example.com.",
    )

    def run(*, plan: SyncPlan, **fields: Any) -> SyncRun:
        made = SyncRun.objects.create(
            connection=w.connection, requested_by=w.staff, started_at=now - dt.timedelta(minutes=2),
            finished_at=now - dt.timedelta(minutes=1), counts=plan.count(),
            **fields,
        )
        sync_run_report_store(run=made, report=plan.to_report())
        return made

    created = SyncPlan(
        changes=[
            Change(action=Action.CREATE, remote_id="R1", email="ada@example.com", name="Ada Lovelace",
                   fields={"first_name": [None, "Ada"], "email": [None, "ada@example.com"]},
                   values={"first_name": "Ada", "email": "ada@example.com"}),
            Change(action=Action.UPDATE, remote_id="R2", person_id=w.manager.pk, name="Grace Hopper",
                   fields={"job_title": ["", "Rear Admiral"]}, values={"job_title": "Rear Admiral"},
                   warnings=["Location South site (L2) is not mapped to a depot; the depot was left unchanged."]),
            Change(action=Action.CONFLICT, remote_id="R3", email="ada@example.com",
                   message="Two records share ada@example.com."),
        ],
        locations=[LocationChange(action=LocationAction.CREATE, remote_location_id="L1", remote_name="North site")],
        employees_planned=True,
    )
    w.finished_run = run(plan=created, status=SyncRun.Status.COMPLETED_WITH_CONFLICTS)
    w.blocked_run = run(
        plan=SyncPlan(
            changes=[
                Change(action=Action.DEACTIVATE, remote_id="R1", person_id=w.person.pk, name="Ada Lovelace",
                       email="ada@example.com", fields={"status": ["active", "inactive"]},
                       values={"status": "inactive"}, message="No longer in Acme HR."),
            ],
            mapped_count=2,
            employees_planned=True,
        ),
        status=SyncRun.Status.BLOCKED,
        error="This sync would deactivate 1 of 2 mapped people (50%), over the 20% safeguard.",
    )
    w.dry_run = run(
        plan=SyncPlan(
            changes=[
                Change(action=Action.UPDATE, remote_id="R1", person_id=w.person.pk, name="Ada Lovelace",
                       fields={"last_name": ["Lovelace", "King"]}, values={"last_name": "King"}),
            ],
            employees_planned=True,
        ),
        status=SyncRun.Status.SUCCEEDED,
        dry_run=True,
    )
    w.runs = (w.finished_run, w.blocked_run, w.dry_run)
    _add_personio(w, client_secret=password)
    _add_xml_upload(w)
    _add_accessplanit(w, api_key=password)
    return w


def _add_xml_upload(w: SimpleNamespace) -> None:
    """The XML upload connection of ``build_world``: its Overview (where files
    are sent), Uploads tab with a file processed with errors, a blocked one
    and one waiting, the error file, and the key page."""
    from django.core.files.base import ContentFile

    from connections.models import InboundFile

    w.uploads = connection_create(kind="xml_upload", name="Acme HR files", config={})
    Status = InboundFile.Status
    w.upload = InboundFile(
        connection=w.uploads, kind=InboundFile.Kind.EMPLOYEE, sha256="a" * 64, content_type="application/xml",
        size=120, original_name="employees.xml", received_from="API (203.0.113.7)",
        status=Status.COMPLETE_WITH_ERRORS, counts={"created": 3, "errors": 1},
        results=[{"line": 12, "employee_id": "00042", "message": "The email address 'ada@' is not valid."}],
    )
    w.upload.content.save("employees.xml", ContentFile(b"<employees></employees>"), save=False)
    w.upload.save()
    InboundFile.objects.create(
        connection=w.uploads, kind=InboundFile.Kind.EMPLOYEE, sha256="b" * 64, size=90, status=Status.BLOCKED,
        received_from="API (203.0.113.7)", error="This file would deactivate 40 of 50 people (80 %).",
    )
    w.waiting_upload = InboundFile.objects.create(
        connection=w.uploads, kind=InboundFile.Kind.POSITION, sha256="c" * 64, size=60,
        status=Status.SCHEDULED, received_from="web upload",
    )


def _add_personio(w: SimpleNamespace, *, client_secret: str) -> None:
    """The Personio connection of ``build_world``: its Settings page, Overview,
    Employees tab (the include list) and Absences tab, and its person's
    absences (Add absence, Remove) are in the walk."""
    today = timezone.localdate()
    w.personio = connection_create(
        kind="personio",
        name="Acme Personio",
        config={
            "client_id": "hrsync-walk",
            # Nothing listens there: the Settings page's list of attributes
            # fails at once and the page says so, without waiting on a network.
            "base_url": "https://127.0.0.1:9",
            "employee_number_attribute": "dynamic_21",
            "include_new": False,
            "absences": "from_personio",
        },
        secrets={"client_secret": client_secret},
    )
    connection_record_health(
        connection=w.personio, ok=True, message="Connected to Personio at 127.0.0.1:9 (2 employees)"
    )
    w.personio_person = Person.objects.create(
        first_name="Clara", last_name="Bauer", email="clara.bauer@example.com", employee_reference="EMP-000001",
        job_title="Office Manager", managed_by=w.personio,
    )
    w.personio_mapping = EmployeeMapping.objects.create(
        connection=w.personio, remote_id="1", person=w.personio_person, remote_name="Clara Bauer",
        remote_email="clara.bauer@example.com", remote_status="active",
    )
    w.excluded = EmployeeMapping.objects.create(
        connection=w.personio, remote_id="2", state=EmployeeMapping.State.EXCLUDED, remote_name="Jonas Richter",
        remote_email="jonas.richter@example.com", remote_status="active",
    )
    w.pulled_absences = [
        Absence.objects.create(
            person=w.personio_person, connection=w.personio, remote_id=str(number), type_name=type_name,
            start_date=today + dt.timedelta(days=start), end_date=today + dt.timedelta(days=start + days - 1),
            half_day_end=half_day_end, status=status,
        )
        for number, type_name, start, days, half_day_end, status in (
            (101, "Paid vacation", 3, 5, False, Absence.Status.APPROVED),
            (102, "Sick leave", -10, 2, True, Absence.Status.APPROVED),
            (103, "Parental leave", 40, 60, False, Absence.Status.PENDING),
        )
    ]
    w.personio_recorded = Absence.objects.create(
        person=w.personio_person, type_name="Training", start_date=today + dt.timedelta(days=14),
        end_date=today + dt.timedelta(days=14), comment="First-aid course",
    )
    # A Sync Absences run: its page lists the absences it created, changed and removed.
    vacation, sick, parental = w.pulled_absences
    plan = SyncPlan(
        absence_direction="from_source",
        absences=[
            AbsenceChange(
                action="create", remote_id=vacation.remote_id, employee_remote_id="1", absence_id=vacation.pk,
                person_id=w.personio_person.pk, name="Clara Bauer", type_name=vacation.type_name,
                start_date=vacation.start_date.isoformat(), end_date=vacation.end_date.isoformat(),
            ),
            AbsenceChange(
                action="update", remote_id=parental.remote_id, employee_remote_id="1", absence_id=parental.pk,
                person_id=w.personio_person.pk, name="Clara Bauer", type_name=parental.type_name,
                start_date=parental.start_date.isoformat(), end_date=parental.end_date.isoformat(),
                fields={"Status": ["Approved", "Pending"]},
            ),
            AbsenceChange(
                action="remove", remote_id="100", employee_remote_id="1", person_id=w.personio_person.pk,
                name="Clara Bauer", type_name="Paid vacation", start_date=today.isoformat(),
                end_date=today.isoformat(), message="No longer in Acme Personio.",
            ),
            AbsenceChange(
                action="skip", remote_id="104", employee_remote_id="2", name="Jonas Richter",
                type_name="Paid vacation", start_date=today.isoformat(), end_date=today.isoformat(),
                message="Jonas Richter is not synced (excluded on the Employees tab).",
            ),
        ],
        absences_unchanged_not_listed=1,
        streams={"absences": {"records": 5, "full_snapshot": True}},
    )
    now = timezone.now()
    w.personio_run = SyncRun.objects.create(
        connection=w.personio, requested_by=w.staff, scope=SyncRun.Scope.ABSENCES,
        status=SyncRun.Status.SUCCEEDED, started_at=now - dt.timedelta(minutes=1), finished_at=now,
        # Only the stream it read, as a real Sync Absences run counts.
        counts={"absences": plan.count()["absences"]},
    )
    sync_run_report_store(run=w.personio_run, report=plan.to_report())


def _add_accessplanit(w: SimpleNamespace, *, api_key: str) -> None:
    """The accessplanit connection of ``build_world``: its Overview, Settings
    (the Webhook section with a delivery), Depots, Training tab and a
    rejection's confirmation, its people's pages, a sync whose page lists the
    details it sent (and one accessplanit refused) and the training records
    it copied, and the run a webhook delivery made."""
    from django.core.files.base import ContentFile

    from connections.api.webhooks import webhook_delivery_describe
    from connections.models import InboundFile
    from connections.sync.training import TrainingChange
    from connectors.base import WebhookTarget
    from hrsync.people.models import TrainingRecord

    today = timezone.localdate()
    now = timezone.now()
    w.accessplanit = connection_create(
        kind="accessplanit",
        name="Acme Training",
        # Nothing listens there: a page that asked accessplanit would fail at once.
        config={"base_url": "https://127.0.0.1:9/accessplan/api/v2", "auth_mode": "api_key", "push_users": True},
        secrets={"api_key": api_key},
    )
    connection_record_health(
        connection=w.accessplanit, ok=True,
        message="Connected to accessplanit at 127.0.0.1:9 (2 users in status Enabled or New)",
    )
    w.accessplanit_depot_mapping = DepotMapping.objects.create(
        connection=w.accessplanit, remote_location_id="12", remote_name="Acme North", depot=w.depot
    )
    w.trainee = Person.objects.create(
        first_name="Jane", last_name="Smith", email="jane.smith@example.com", job_title="Trainer", depot=w.depot,
    )
    w.trainee_mapping = EmployeeMapping.objects.create(
        connection=w.accessplanit, remote_id="jasmit", person=w.trainee, remote_name="Jane Smith",
        remote_email="jane.smith@example.com", remote_status="Enabled",
        pushed_snapshot={"first_name": "Jane"}, pushed_at=now,
    )
    # At a depot mapped to a company: hrsync created their user in accessplanit.
    w.trainee_created = Person.objects.create(
        first_name="Tom", last_name="Baker", email="tom.baker@example.com", depot=w.depot,
    )
    EmployeeMapping.objects.create(
        connection=w.accessplanit, remote_id="tobake", person=w.trainee_created, remote_name="Tom Baker",
        remote_email="tom.baker@example.com", remote_status="New",
        pushed_snapshot={"first_name": "Tom", "last_name": "Baker", "email": "tom.baker@example.com"},
        pushed_at=now,
    )
    w.course_request = TrainingRecord.objects.create(
        person=w.trainee, connection=w.accessplanit, kind=TrainingRecord.Kind.BOOKING, remote_id="jasmit~881",
        label="First Aid at Work", start_date=today + dt.timedelta(days=40),
        end_date=today + dt.timedelta(days=40), status="Provisional", is_request=True,
        remote_updated_at=now - dt.timedelta(days=2),
    )
    completed = TrainingRecord.objects.create(
        person=w.trainee_created, connection=w.accessplanit, kind=TrainingRecord.Kind.BOOKING,
        remote_id="tobake~702", label="Manual Handling", start_date=today - dt.timedelta(days=30),
        end_date=today - dt.timedelta(days=30), status="Completed", remote_updated_at=now - dt.timedelta(days=29),
    )
    TrainingRecord.objects.create(
        person=w.trainee, connection=w.accessplanit, kind=TrainingRecord.Kind.AWARD, remote_id="award:jasmit~31",
        label="Forklift Licence", start_date=today + dt.timedelta(days=200), status="Target",
    )

    # A Sync All Data run: it linked Jane, created Tom's user, sent Jane's
    # first name, was refused Ada's user, and copied two training records.
    plan = SyncPlan(
        changes=[
            Change(action=Action.LINK, remote_id="jasmit", person_id=w.trainee.pk, name="Jane Smith",
                   email="jane.smith@example.com", fields={"job_title": ["", "Trainer"]},
                   values={"job_title": "Trainer"}),
        ],
        locations=[
            LocationChange(action=LocationAction.UNCHANGED, remote_location_id="12", remote_name="Acme North",
                           mapping_id=w.accessplanit_depot_mapping.pk, depot_id=w.depot.pk, depot_name=w.depot.name),
        ],
        employees_planned=True,
        pushes=[
            PushItem(stream="employees", key=f"person:{w.trainee_created.pk}", operation="create",
                     person_id=w.trainee_created.pk, name="Tom Baker", what="Create user", remote_id="tobake",
                     values={"first_name": "Tom", "last_name": "Baker", "email": "tom.baker@example.com",
                             "person_ref": str(w.trainee_created.pk), "location_id": "12"},
                     outcome="sent"),
            PushItem(stream="employees", key=f"person:{w.trainee.pk}", operation="update", person_id=w.trainee.pk,
                     name="Jane Smith", what="Update: First name", remote_id="jasmit",
                     values={"first_name": "Jane"}, outcome="sent"),
            PushItem(stream="employees", key=f"person:{w.person.pk}", operation="create", person_id=w.person.pk,
                     name="Ada Lovelace", what="Create user",
                     values={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                             "person_ref": str(w.person.pk), "location_id": "12"},
                     outcome="rejected",
                     message="accessplanit refused the new user: "
                     "“The request is invalid. MainCompanyID does not exist.”"),
        ],
        training_planned=True,
        training=[
            TrainingChange(action="create", remote_id=w.course_request.remote_id, employee_remote_id="jasmit",
                           record_id=w.course_request.pk, person_id=w.trainee.pk, name="Jane Smith",
                           kind=TrainingRecord.Kind.BOOKING, label=w.course_request.label,
                           start_date=w.course_request.start_date.isoformat()),
            TrainingChange(action="update", remote_id=completed.remote_id, employee_remote_id="tobake",
                           record_id=completed.pk, person_id=w.trainee_created.pk, name="Tom Baker",
                           kind=TrainingRecord.Kind.BOOKING, label=completed.label,
                           start_date=completed.start_date.isoformat(), fields={"Status": ["Booked", "Completed"]}),
        ],
        training_unchanged_not_listed=1,
        streams={"employees": {"records": 2, "full_snapshot": True}},
    )
    w.accessplanit_run = SyncRun.objects.create(
        connection=w.accessplanit, requested_by=w.staff, scope=SyncRun.Scope.ALL,
        status=SyncRun.Status.COMPLETED_WITH_ERRORS, started_at=now - dt.timedelta(minutes=5),
        finished_at=now - dt.timedelta(minutes=4), counts=plan.count(),
    )
    sync_run_report_store(run=w.accessplanit_run, report=plan.to_report())

    # A webhook delivery ("User jasmit was updated") and the run it made.
    body = b'{"module": "User", "id": "jasmit"}'
    w.webhook_delivery = InboundFile(
        connection=w.accessplanit, kind=InboundFile.Kind.WEBHOOK, method="PUT", sha256="d" * 64,
        content_type="application/json", size=len(body), received_from="API (203.0.113.9)",
        original_name=webhook_delivery_describe(targets=[WebhookTarget(stream="employees", remote_id="jasmit")]),
        status=InboundFile.Status.COMPLETE, finished_at=now - dt.timedelta(minutes=1),
    )
    w.webhook_delivery.content.save("webhook.json", ContentFile(body), save=False)
    w.webhook_delivery.save()
    webhook_plan = SyncPlan(
        changes=[
            Change(action=Action.UPDATE, remote_id="jasmit", person_id=w.trainee.pk, name="Jane Smith",
                   fields={"job_title": ["Trainer", "Senior Trainer"]}, values={"job_title": "Senior Trainer"}),
        ],
        employees_planned=True,
        streams={"employees": {"records": 1, "full_snapshot": False}},
    )
    w.webhook_run = SyncRun.objects.create(
        connection=w.accessplanit, scope=SyncRun.Scope.EMPLOYEES, trigger=SyncRun.Trigger.WEBHOOK,
        status=SyncRun.Status.SUCCEEDED, started_at=now - dt.timedelta(minutes=1), finished_at=now,
        counts=webhook_plan.count(), inbound_file=w.webhook_delivery,
    )
    sync_run_report_store(run=w.webhook_run, report=webhook_plan.to_report())
    InboundFile.objects.filter(pk=w.webhook_delivery.pk).update(run=w.webhook_run)


def _on_accessplanit(w: SimpleNamespace) -> list[dict[str, Any]]:
    return [{"pk": w.accessplanit.pk}]


def _on_connection(w: SimpleNamespace) -> list[dict[str, Any]]:
    return [{"pk": w.connection.pk}]


def _on_both_connections(w: SimpleNamespace) -> list[dict[str, Any]]:
    return [{"pk": w.connection.pk}, {"pk": w.personio.pk}]


def _on_uploads(w: SimpleNamespace) -> list[dict[str, Any]]:
    return [{"pk": w.uploads.pk}]


def _on_each_run(w: SimpleNamespace) -> list[dict[str, Any]]:
    return [{"pk": w.connection.pk, "run_id": run.pk} for run in w.runs] + [
        {"pk": w.personio.pk, "run_id": w.personio_run.pk},
        *({"pk": w.accessplanit.pk, "run_id": run.pk} for run in (w.accessplanit_run, w.webhook_run)),
    ]


#: URL name → the argument sets to open it with (each one is a page to check).
URL_KWARGS: dict[str, Callable[[SimpleNamespace], list[dict[str, Any]]]] = {
    "connections:overview": lambda w: [*_on_both_connections(w), *_on_uploads(w), *_on_accessplanit(w)],
    "connections:sync": _on_connection,
    "connections:options": _on_connection,
    "connections:progress": _on_connection,
    "connections:settings": lambda w: [*_on_both_connections(w), *_on_uploads(w), *_on_accessplanit(w)],
    "connections:test": _on_connection,
    "connections:csv_file:pin_host_key": _on_connection,
    "connections:csv_file:columns": _on_connection,
    "connections:delete": _on_connection,
    "connections:runs": lambda w: [*_on_both_connections(w), *_on_accessplanit(w)],
    "connections:run": _on_each_run,
    "connections:run_csv": _on_each_run,
    "connections:run_approve": lambda w: [{"pk": w.connection.pk, "run_id": w.blocked_run.pk}],
    "connections:run_reject": lambda w: [{"pk": w.connection.pk, "run_id": w.blocked_run.pk}],
    "connections:run_apply": lambda w: [{"pk": w.connection.pk, "run_id": w.dry_run.pk}],
    "connections:employees": lambda w: [*_on_both_connections(w), *_on_accessplanit(w)],
    "connections:employee_action": lambda w: [
        {"pk": w.connection.pk, "mapping_id": m.pk} for m in (w.mapping, w.conflict)
    ],
    "connections:conflict_resolve": _on_connection,
    "connections:depots": lambda w: [*_on_connection(w), *_on_accessplanit(w)],
    "people:detail": lambda w: [
        {"pk": p.pk} for p in (w.person, w.manual, w.personio_person, w.trainee, w.trainee_created)
    ],
    "people:protect": lambda w: [{"pk": w.person.pk}],
    "people:absence_new": lambda w: [{"pk": p.pk} for p in (w.person, w.manual, w.personio_person)],
    "people:absence_remove": lambda w: [
        {"pk": w.manual.pk, "absence_id": w.absence.pk},
        {"pk": w.personio_person.pk, "absence_id": w.personio_recorded.pk},
    ],
    "connections:absences": lambda w: [{"pk": w.personio.pk}],
    "connections:training": _on_accessplanit,
    "connections:training_decide": lambda w: [
        {"pk": w.accessplanit.pk, "record_id": w.course_request.pk}
    ],
    "connections:uploads": _on_uploads,
    "connections:upload_new": _on_uploads,
    "connections:upload_file": lambda w: [{"pk": w.uploads.pk, "upload_id": w.upload.pk}],
    "connections:upload_errors": lambda w: [{"pk": w.uploads.pk, "upload_id": w.upload.pk}],
    "connections:upload_cancel": lambda w: [{"pk": w.uploads.pk, "upload_id": w.waiting_upload.pk}],
    "connections:api_key": _on_uploads,
    "connections:api_key_regenerate": _on_uploads,
    "connections:webhook_regenerate": _on_connection,
    "password_reset_confirm": lambda w: [{"uidb64": "MQ", "token": "not-a-real-token"}],
    "api:upload": lambda w: [{"upload_id": 1}],
    "hooks:receive": lambda w: [
        {"kind": w.connection.kind, "connection_uuid": w.connection.uuid, "secret": "not-the-secret"}
    ],
}


def urls_for(route: Route, world: SimpleNamespace) -> list[str]:
    """The concrete URLs to open for ``route``; LookupError if it cannot be filled."""
    if not route.params:
        return [route.url({})]
    if route.key not in URL_KWARGS:
        raise LookupError(
            f"{route.key} ({route.route}) takes {', '.join(route.params)}: "
            "add it to URL_KWARGS in tests/urlwalk.py"
        )
    return [route.url(kwargs) for kwargs in URL_KWARGS[route.key](world)]


def admin_urls(world: SimpleNamespace) -> list[str]:
    """The Django admin pages that show connections and runs (superusers only)."""
    c = world.connection.pk
    urls = [
        reverse("admin:index"),
        reverse("admin:connections_connection_changelist"),
        reverse("admin:connections_connection_add"),
        reverse("admin:connections_connection_change", args=[c]),
        reverse("admin:connections_connection_history", args=[c]),
        reverse("admin:connections_connection_delete", args=[c]),
        reverse("admin:connections_syncrun_changelist"),
        reverse("admin:mappings_employeemapping_changelist"),
        reverse("admin:mappings_depotmapping_changelist"),
        reverse("admin:people_person_change", args=[world.person.pk]),
    ]
    for run in world.runs:
        urls += [
            reverse("admin:connections_syncrun_change", args=[run.pk]),
            reverse("admin:connections_syncrun_history", args=[run.pk]),
        ]
    return urls
