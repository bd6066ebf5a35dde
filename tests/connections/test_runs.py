"""The SyncRun lifecycle: dry runs, applying them, atomicity, one run at a time,
the safeguard, and failures saved on the run."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from connections.models import SyncRun
from connections.runs import (
    ConnectionDisabled,
    SyncAlreadyRunning,
    SyncRunStateError,
    sync_run_apply_dry_run,
    sync_run_approve,
    sync_run_reject,
    sync_run_start,
)
from connections.sync import PlanSettings, applier, directory_state_load, plan, runner
from connectors.base import ConnectorError
from hrsync.people.models import Person
from mappings.models import EmployeeMapping
from tests.connections.helpers import run_sync, table_snapshot
from tests.connections.static_connector import employee
from tests.factories import EmployeeMappingFactory, PersonFactory

pytestmark = pytest.mark.django_db
Status = SyncRun.Status


def _seed_mapped_people(connection, count: int) -> list[Person]:
    people = []
    for i in range(count):
        person = PersonFactory(email=f"{i}@example.com")
        EmployeeMappingFactory(connection=connection, remote_id=str(i), person=person)
        people.append(person)
    return people


def test_a_dry_run_writes_nothing_but_its_run(connection, source):
    _seed_mapped_people(connection, 3)
    source.employees = [employee("0", first_name="Changed"), employee("new")]
    before = table_snapshot(exclude=("connections.SyncRun",))

    run = run_sync(connection, scope="employees", dry_run=True)

    assert run.status == Status.SUCCEEDED
    assert table_snapshot(exclude=("connections.SyncRun",)) == before
    assert run.counts == {
        "created": 1,
        "linked": 0,
        "updated": 1,
        "unchanged": 0,
        "deactivated": 2,
        "reactivated": 0,
        "conflicts": 0,
        "errors": 0,
        "warnings": 0,
        "skipped": 0,
    }
    assert {c["action"] for c in run.changes} == {"create", "update", "deactivate"}


def test_applying_a_dry_run_applies_exactly_its_plan(connection, source):
    _seed_mapped_people(connection, 2)
    source.employees = [employee("0", first_name="Changed"), employee("1"), employee("new")]
    dry = run_sync(connection, scope="employees", dry_run=True)

    applied = sync_run_apply_dry_run(dry_run=dry, enqueue=False)
    applied = runner.sync_run_execute(run_id=applied.pk)

    assert applied.status == Status.SUCCEEDED
    assert applied.applied_from == dry
    assert applied.changes == dry.changes
    assert applied.counts == dry.counts
    assert f"Dry run #{dry.pk} was applied exactly as previewed." in applied.report["notes"]
    assert Person.objects.get(email="0@example.com").first_name == "Changed"
    assert Person.objects.filter(email="new@example.com").exists()


def test_applying_a_stale_dry_run_plans_again_and_says_so(connection, source):
    source.employees = [employee("1")]
    dry = run_sync(connection, scope="employees", dry_run=True)
    source.employees = [employee("1"), employee("2")]  # the source moved on

    applied = runner.sync_run_execute(
        run_id=sync_run_apply_dry_run(dry_run=dry, enqueue=False).pk
    )

    assert applied.counts["created"] == 2
    assert any(f"changed since Dry run #{dry.pk}" in note for note in applied.report["notes"])
    assert Person.objects.count() == 2


def test_a_directory_edit_after_a_dry_run_also_triggers_a_fresh_plan(connection, source):
    source.employees = [employee("1")]
    dry = run_sync(connection, scope="employees", dry_run=True)
    PersonFactory(email="1@example.com")  # someone added the person by hand meanwhile

    applied = runner.sync_run_execute(
        run_id=sync_run_apply_dry_run(dry_run=dry, enqueue=False).pk
    )

    assert applied.counts["linked"] == 1 and applied.counts["created"] == 0
    assert Person.objects.count() == 1


def test_an_error_in_the_middle_of_apply_leaves_every_table_as_it_was(connection, source, monkeypatch):
    _seed_mapped_people(connection, 3)
    source.employees = [employee("0", first_name="Changed"), employee("1"), employee("new", manager_remote_id="0")]
    before = table_snapshot(exclude=("connections.SyncRun",))
    reached = []

    def explode(*args, **kwargs):
        # People were already created and updated when this step runs.
        reached.append(Person.objects.filter(email="new@example.com").exists())
        raise RuntimeError("disk full")

    monkeypatch.setattr(applier, "_apply_mappings", explode)
    run = run_sync(connection, scope="employees")

    assert reached == [True]
    assert run.status == Status.FAILED
    assert "nothing was changed" in run.error
    assert table_snapshot(exclude=("connections.SyncRun",)) == before


def test_a_second_run_for_the_same_connection_is_refused(connection, source):
    sync_run_start(connection=connection, enqueue=False)

    with pytest.raises(SyncAlreadyRunning, match="A sync is already running for Static HR"):
        sync_run_start(connection=connection, enqueue=False)
    assert SyncRun.objects.filter(connection=connection).count() == 1


def test_the_database_itself_refuses_a_second_active_run(connection):
    SyncRun.objects.create(connection=connection, status=Status.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(connection=connection, status=Status.QUEUED)
    # Finished runs do not count.
    SyncRun.objects.create(connection=connection, status=Status.SUCCEEDED)


def test_a_finished_run_lets_the_next_one_start(connection, source):
    run_sync(connection, scope="employees")
    run = sync_run_start(connection=connection, enqueue=False)
    assert run.status == Status.QUEUED


def test_the_safeguard_blocks_a_mass_deactivation_and_applies_it_on_approval(connection, source):
    connection.safeguard_percent, connection.safeguard_min = 20, 2
    connection.save()
    _seed_mapped_people(connection, 10)
    source.employees = [employee(str(i)) for i in range(6)]  # 4 of 10 left: 40 %
    before = table_snapshot(exclude=("connections.SyncRun",))

    blocked = run_sync(connection, scope="employees")

    assert blocked.status == Status.BLOCKED
    assert "deactivate 4 of 10 people" in blocked.error
    assert table_snapshot(exclude=("connections.SyncRun",)) == before

    approved = sync_run_approve(run=blocked, enqueue=False)
    approved = runner.sync_run_execute(run_id=approved.pk)

    assert approved.pk == blocked.pk
    assert approved.status == Status.SUCCEEDED
    assert sorted(Person.objects.filter(status="inactive").values_list("email", flat=True)) == [
        f"{i}@example.com" for i in range(6, 10)
    ]


def test_a_rejected_run_is_rejected_and_changes_nothing(connection, source):
    connection.safeguard_min = 0
    connection.save()
    _seed_mapped_people(connection, 4)
    source.employees = []
    blocked = run_sync(connection, scope="employees")
    assert blocked.status == Status.BLOCKED

    rejected = sync_run_reject(run=blocked)

    assert rejected.status == Status.REJECTED
    assert rejected.get_status_display() == "Rejected"
    assert not Person.objects.filter(status="inactive").exists()
    with pytest.raises(SyncRunStateError):
        sync_run_approve(run=rejected, enqueue=False)


def test_an_approved_run_is_not_applied_if_the_directory_changed_meanwhile(connection, source):
    connection.safeguard_min = 0
    connection.save()
    _seed_mapped_people(connection, 4)
    source.employees = []
    blocked = run_sync(connection, scope="employees")
    PersonFactory(email="hand-made@example.com")

    run = runner.sync_run_execute(run_id=sync_run_approve(run=blocked, enqueue=False).pk)

    assert run.status == Status.FAILED
    assert "directory changed" in run.error
    assert not Person.objects.filter(status="inactive").exists()


def test_small_deactivations_under_the_floor_are_not_blocked(connection, source):
    connection.safeguard_min = 5
    connection.save()
    _seed_mapped_people(connection, 6)
    source.employees = [employee(str(i)) for i in range(3)]
    assert run_sync(connection, scope="employees").status == Status.SUCCEEDED


def test_an_empty_full_source_is_blocked_whatever_the_thresholds_and_applies_on_approval(connection, source):
    _seed_mapped_people(connection, 4)  # 4 ≤ the default floor of 5
    source.employees = []
    before = table_snapshot(exclude=("connections.SyncRun",))

    blocked = run_sync(connection, scope="employees")

    assert blocked.status == Status.BLOCKED
    assert blocked.error == (
        "Static HR returned no records, so this sync would deactivate all 4 people mapped to it. "
        "Nothing was changed: check the source, and approve it only if everyone has really left."
    )
    assert table_snapshot(exclude=("connections.SyncRun",)) == before

    approved = runner.sync_run_execute(run_id=sync_run_approve(run=blocked, enqueue=False).pk)

    assert approved.status == Status.SUCCEEDED
    assert Person.objects.filter(status="inactive").count() == 4


def test_a_full_source_of_nothing_but_error_rows_is_blocked_whatever_the_thresholds(connection, source):
    connection.safeguard_percent, connection.safeguard_min = 100, 100
    connection.save()
    people = _seed_mapped_people(connection, 4)
    people[3].status = "inactive"
    people[3].save()
    source.employees = [employee("x", status="Mystery"), employee("", email="nobody@example.com")]
    before = table_snapshot(exclude=("connections.SyncRun",))

    blocked = run_sync(connection, scope="employees")

    assert blocked.status == Status.BLOCKED
    assert blocked.error == (
        "Static HR returned 2 records but none of them is usable (each is an error row), so this sync "
        "would deactivate 3 of the 4 people mapped to it. Nothing was changed: review the errors, and "
        "approve it only if everyone has really left."
    )
    assert table_snapshot(exclude=("connections.SyncRun",)) == before


def test_a_full_source_with_one_usable_record_follows_the_thresholds(connection, source):
    _seed_mapped_people(connection, 4)
    source.employees = [employee("0"), employee("x", status="Mystery")]

    run = run_sync(connection, scope="employees")

    assert run.status == Status.COMPLETED_WITH_ERRORS
    assert Person.objects.filter(status="inactive").count() == 3


def test_a_connector_failure_fails_the_run_with_its_reason_and_changes_nothing(connection, source):
    _seed_mapped_people(connection, 2)
    source.employees = [employee("0"), employee("1")]
    source.error = ConnectorError("ActionHRM rejected the username or password (401).", permanent=True)
    before = table_snapshot(exclude=("connections.SyncRun", "connections.Connection"))

    run = run_sync(connection, scope="employees")
    connection.refresh_from_db()

    assert run.status == Status.FAILED
    assert run.error.startswith("ActionHRM rejected the username or password (401).")
    assert connection.last_check_ok is False
    assert table_snapshot(exclude=("connections.SyncRun", "connections.Connection")) == before


def test_plan_reads_state_in_the_same_number_of_queries_for_10_and_1000_records(
    connection, source, django_assert_num_queries
):
    def measure(count: int) -> int:
        Person.objects.all().delete()
        EmployeeMapping.objects.all().delete()
        people = Person.objects.bulk_create(Person(email=f"{i}@example.com") for i in range(count))
        EmployeeMapping.objects.bulk_create(
            EmployeeMapping(connection=connection, remote_id=str(i), person=p) for i, p in enumerate(people)
        )
        records = [employee(str(i), first_name="Renamed", manager_remote_id="0") for i in range(count)]
        records += [employee(f"new{i}") for i in range(count // 10)]
        from django.db import connection as db
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(db) as ctx:
            state = directory_state_load(connection_id=connection.pk)
            result = plan(
                settings=PlanSettings(
                    connection_id=connection.pk,
                    connection_name=connection.name,
                    status_map=connection.status_map,
                    provides=source.provides,
                    full_snapshot=True,
                ),
                state=state,
                records={"employees": records, "locations": []},
            )
        assert result.count()["updated"] == count
        return len(ctx.captured_queries)

    assert measure(10) == measure(1000)


def test_credential_notifications_create_a_login_without_a_usable_password(connection, source, settings):
    settings.HRSYNC_BASE_URL = "https://hr.example.com"
    connection.credential_notifications = True
    connection.save()
    source.employees = [employee("1", email="New.Starter@example.com", first_name="Nina")]

    run = run_sync(connection, scope="employees")

    person = Person.objects.get()
    assert run.status == Status.SUCCEEDED
    assert person.user is not None
    assert person.user.username == "new.starter@example.com"
    assert not person.user.has_usable_password()


@pytest.mark.django_db(transaction=True)
def test_invitation_emails_hold_a_link_never_a_password(source, settings):
    from tests.factories import ConnectionFactory

    settings.HRSYNC_BASE_URL = "https://hr.example.com"
    connection = ConnectionFactory(name="Notify HR", credential_notifications=True)
    source.employees = [employee("1", email="nina@example.com", first_name="Nina"), employee("2", email="")]

    run_sync(connection, scope="employees")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nina@example.com"]
    assert "https://hr.example.com/accounts/reset/" in message.body
    assert "password:" not in message.body.lower()
    # A second sync does not invite again.
    run_sync(connection, scope="employees")
    assert len(mail.outbox) == 1


def test_a_disabled_connection_does_not_sync(connection, source):
    connection.enabled = False
    connection.save()
    with pytest.raises(ConnectionDisabled, match="Static HR is disabled"):
        sync_run_start(connection=connection, enqueue=False)
    assert not connection.runs.exists()


def test_a_run_reports_progress_and_heartbeat_while_it_reads(connection, source, monkeypatch):
    source.employees = [employee(str(i)) for i in range(1200)]
    seen: list[tuple[str, int]] = []
    original = runner._Progress._write

    def spy(self, **fields):
        original(self, **fields)
        run = SyncRun.objects.get(pk=self.run.pk)
        assert run.heartbeat_at is not None
        seen.append((run.progress_stage, run.progress_done))

    monkeypatch.setattr(runner._Progress, "_write", spy)
    monkeypatch.setattr(runner._Progress, "min_interval", 0)
    run = run_sync(connection, scope="employees")

    assert run.status == Status.SUCCEEDED
    reading = [done for stage, done in seen if stage.startswith("Reading employees")]
    assert reading == [0, 500, 1000, 1200]
    assert seen[-1][0] == "Applying"
    assert run.started_at <= run.finished_at

    # A fast read writes its progress far less often.
    seen.clear()
    monkeypatch.setattr(runner._Progress, "min_interval", 3600)
    run_sync(connection, scope="employees")
    assert [done for stage, done in seen if stage.startswith("Reading employees")] == [0, 1200]


def test_a_dry_run_is_applied_at_most_once(connection, source):
    source.employees = [employee("1")]
    dry = run_sync(connection, scope="employees", dry_run=True)
    runner.sync_run_execute(run_id=sync_run_apply_dry_run(dry_run=dry, enqueue=False).pk)

    with pytest.raises(SyncRunStateError, match="applied already"):
        sync_run_apply_dry_run(dry_run=dry, enqueue=False)
