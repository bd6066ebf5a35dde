"""A sync requested in the web process is run by a real Celery worker, and a
task queue that is down or hangs is said so to the admin, with no run left
waiting for a worker that will never see it.

Everything else in the suite runs tasks eagerly; these tests prove the deployed
shape: PostgreSQL, Redis, and a separate `celery worker` process that picks the
run up from the broker.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection as db
from django.urls import reverse
from kombu import pools as kombu_pools

from connections import services
from connections.models import SyncRun
from connections.runs import TaskQueueUnreachable, sync_run_start
from hrsync.celery import app as celery_app
from hrsync.people.models import Person
from tests.conftest import need_service
from tests.factories import ConnectionFactory, SyncRunFactory

ROOT = Path(__file__).resolve().parents[2]
# A Redis database of its own, so a developer's worker on the app's database
# never takes this test's task (and stale test messages never reach theirs).
TEST_REDIS_DB = int(os.environ.get("HRSYNC_TEST_REDIS_DB", "15"))
FINISHED_OK = set(SyncRun.COMPLETED_STATUSES)
QUEUE_DOWN = (
    "The task queue is unreachable, so this sync could not start; nothing was changed. "
    "Try again once the worker's queue (Redis) is back."
)


def redis_answers(url: str) -> bool:
    if not url.startswith(("redis://", "rediss://")):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def with_db_number(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


def worker_database_url() -> str:
    """DATABASE_URL of the database this test runs in (pytest-django's test_…)."""
    s = db.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else ""
    auth = f"{user}{password}@" if user else ""
    host = quote(s["HOST"] or "", safe="")  # a socket directory is percent-encoded
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{auth}{host}{port}/{quote(s['NAME'], safe='')}"


@contextmanager
def tasks_sent_to(url: str) -> Iterator[None]:
    """Send tasks for real (not eagerly) to the broker at ``url``, then put things back."""
    # Celery copies broker_url into the read/write URLs when configured.
    keys = ("task_always_eager", "broker_url", "broker_read_url", "broker_write_url")
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(
        task_always_eager=False, broker_url=url, broker_read_url=url, broker_write_url=url
    )
    _drop_broker_connections()
    try:
        yield
    finally:
        celery_app.conf.update(saved)
        _drop_broker_connections()


@pytest.fixture
def broker_url():
    """Send tasks for real, to a dedicated Redis database, then put things back."""
    need_service(db.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    need_service(redis_answers(settings.CELERY_BROKER_URL), "Redis (CELERY_BROKER_URL)")
    url = with_db_number(settings.CELERY_BROKER_URL, TEST_REDIS_DB)
    with tasks_sent_to(url):
        with celery_app.connection_for_write() as conn:
            assert conn.as_uri(include_password=True) == url, "tasks would go to another broker"
        celery_app.control.purge()  # leftovers of an interrupted earlier run
        yield url
        celery_app.control.purge()


def _drop_broker_connections() -> None:
    # Celery caches its connection pools; reset them so the next send uses the
    # broker URL configured now (the same reset Celery does after a fork).
    # Kombu keeps them per URL too: closed, they would be handed out again
    # when a test points back at a URL used before.
    kombu_pools.reset()
    celery_app._after_fork()


def start_worker(broker: str, log_path: Path) -> tuple[subprocess.Popen, object]:
    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=broker,
        CELERY_TASK_ALWAYS_EAGER="false",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        HRSYNC_ENCRYPTION_KEY=",".join(settings.HRSYNC_ENCRYPTION_KEYS),
        HRSYNC_VAR_DIR=str(log_path.parent),
        PYTHONUNBUFFERED="1",
    )
    log = log_path.open("wb")
    command = [
        sys.executable, "-m", "celery", "-A", "hrsync", "worker",
        "--pool=solo", "--loglevel=INFO", "--without-mingle", "--without-gossip",
        "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )
    return proc, log


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_requested_sync_is_run_by_a_separate_worker(transactional_db, broker_url, tmp_path):
    log_path = tmp_path / "worker.log"
    worker, log = start_worker(broker_url, log_path)

    def worker_output() -> str:
        log.flush()
        return log_path.read_text(errors="replace")[-8000:]

    try:
        # The service seeds the connector's default status map, as the CLI and demo_setup do.
        connection = services.connection_create(kind="sample", name="Sample HR (worker test)")
        run = sync_run_start(
            connection=connection, scope="all", dry_run=False, trigger="manual"
        )
        assert run.status == SyncRun.Status.QUEUED

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status not in SyncRun.ACTIVE_STATUSES:
                break
            if worker.poll() is not None:
                pytest.fail(f"the worker exited with code {worker.returncode}\n{worker_output()}")
            time.sleep(0.5)

        assert run.status in FINISHED_OK, (
            f"run ended {run.status!r} (error: {run.error!r})\n--- worker ---\n{worker_output()}"
        )
        assert Person.objects.exists(), (
            f"no people after the run (status {run.status!r}, counts {run.counts}, "
            f"error {run.error!r})\n--- worker ---\n{worker_output()}"
        )
    finally:
        stop_worker(worker)
        log.close()


# -- a task queue that is down or hangs ------------------------------------------------------


def closed_port_url() -> str:
    """A Redis URL on a loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def silent_broker_url():
    """A loopback port that accepts connections and never answers, like a hung
    broker; it drops each connection after a while, so a client with no
    timeout of its own fails slowly instead of waiting for ever."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    held: list[tuple[float, socket.socket]] = []
    stop = threading.Event()

    def hold_connections() -> None:
        while not stop.is_set():
            try:
                held.append((time.monotonic(), server.accept()[0]))
            except TimeoutError:
                pass
            for accepted_at, client in list(held):
                if time.monotonic() - accepted_at > 12:
                    client.close()
                    held.remove((accepted_at, client))

    thread = threading.Thread(target=hold_connections, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for _, client in held:
            client.close()
        server.close()


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("admin", is_staff=True))
    return client


def page_messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def tasks_waiting(url: str) -> int:
    import redis

    return redis.Redis.from_url(url).llen("celery")


def test_a_sync_clicked_while_the_queue_is_down_says_so_and_the_next_click_works(
    transactional_db, broker_url, staff_client, source
):
    connection = ConnectionFactory(name="Queue HR")
    sync = reverse("connections:sync", args=[connection.pk])

    with tasks_sent_to(closed_port_url()):
        started = time.monotonic()
        response = staff_client.post(sync, {"action": "employees"}, follow=True)
        answered_in = time.monotonic() - started

    assert response.status_code == 200 and answered_in < 10
    assert ("error", QUEUE_DOWN) in page_messages(response)
    failed = connection.runs.get()
    assert (failed.status, failed.error) == (SyncRun.Status.FAILED, QUEUE_DOWN)
    assert failed.finished_at is not None

    # The queue is back (the broker of this test's fixture): the next click works.
    response = staff_client.post(sync, {"action": "employees"}, follow=True)

    queued = connection.runs.exclude(pk=failed.pk).get()
    assert queued.status == SyncRun.Status.QUEUED
    assert ("success", f"Sync #{queued.pk} of employees queued.") in page_messages(response)
    assert tasks_waiting(broker_url) == 1


def test_approving_while_the_queue_is_down_keeps_the_run_blocked_for_another_try(
    transactional_db, broker_url, staff_client, source
):
    connection = ConnectionFactory(name="Queue HR")
    safeguard = "This sync would deactivate 9 of 10 people. Nothing was changed."
    blocked = SyncRunFactory(connection=connection, status=SyncRun.Status.BLOCKED, error=safeguard)
    approve = reverse("connections:run_approve", args=[connection.pk, blocked.pk])

    with tasks_sent_to(closed_port_url()):
        response = staff_client.post(approve, {"confirm": "yes"}, follow=True)

    assert ("error", QUEUE_DOWN) in page_messages(response)
    blocked.refresh_from_db()
    assert (blocked.status, blocked.error, blocked.decided_at) == (SyncRun.Status.BLOCKED, safeguard, None)

    response = staff_client.post(approve, {"confirm": "yes"}, follow=True)

    blocked.refresh_from_db()
    assert blocked.status == SyncRun.Status.QUEUED and blocked.decided_at is not None
    assert ("success", f"Approved: Sync #{blocked.pk} is being applied.") in page_messages(response)
    assert tasks_waiting(broker_url) == 1


def test_applying_a_dry_run_while_the_queue_is_down_says_so_and_can_be_applied_later(
    transactional_db, broker_url, staff_client, source
):
    connection = ConnectionFactory(name="Queue HR")
    dry_run = SyncRunFactory(connection=connection, dry_run=True, status=SyncRun.Status.SUCCEEDED)
    apply = reverse("connections:run_apply", args=[connection.pk, dry_run.pk])

    with tasks_sent_to(closed_port_url()):
        response = staff_client.post(apply, {"confirm": "yes"}, follow=True)

    assert ("error", QUEUE_DOWN) in page_messages(response)
    failed = dry_run.applications.get()
    assert (failed.status, failed.error) == (SyncRun.Status.FAILED, QUEUE_DOWN)

    staff_client.post(apply, {"confirm": "yes"})

    assert dry_run.applications.exclude(pk=failed.pk).get().status == SyncRun.Status.QUEUED
    assert tasks_waiting(broker_url) == 1


def test_a_broker_that_never_answers_is_given_up_on_within_seconds(transactional_db, source, silent_broker_url):
    # The timeouts are those of a deployment whose broker is Redis.
    need_service(redis_answers(settings.CELERY_BROKER_URL), "Redis (CELERY_BROKER_URL)")
    connection = ConnectionFactory(name="Queue HR")

    with tasks_sent_to(silent_broker_url):
        started = time.monotonic()
        with pytest.raises(TaskQueueUnreachable, match="could not start"):
            sync_run_start(connection=connection)
        gave_up_in = time.monotonic() - started

    assert gave_up_in < 10
    assert connection.runs.get().status == SyncRun.Status.FAILED
