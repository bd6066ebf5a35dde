"""A sync requested in the web process is run by a real Celery worker.

Everything else in the suite runs tasks eagerly; this test proves the deployed
shape: PostgreSQL, Redis, and a separate `celery worker` process that picks the
run up from the broker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection as db

from connections import services
from connections.models import SyncRun
from hrsync.celery import app as celery_app
from hrsync.people.models import Person
from tests.conftest import need_service

ROOT = Path(__file__).resolve().parents[2]
# A Redis database of its own, so a developer's worker on the app's database
# never takes this test's task (and stale test messages never reach theirs).
TEST_REDIS_DB = int(os.environ.get("HRSYNC_TEST_REDIS_DB", "15"))
FINISHED_OK = {SyncRun.Status.SUCCEEDED, SyncRun.Status.COMPLETED_WITH_ERRORS}


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


@pytest.fixture
def broker_url():
    """Send tasks for real, to a dedicated Redis database, then put things back."""
    need_service(db.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    need_service(redis_answers(settings.CELERY_BROKER_URL), "Redis (CELERY_BROKER_URL)")
    url = with_db_number(settings.CELERY_BROKER_URL, TEST_REDIS_DB)
    # Celery copies broker_url into the read/write URLs when configured.
    keys = ("task_always_eager", "broker_url", "broker_read_url", "broker_write_url")
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(
        task_always_eager=False, broker_url=url, broker_read_url=url, broker_write_url=url
    )
    _drop_broker_connections()
    try:
        with celery_app.connection_for_write() as conn:
            assert conn.as_uri(include_password=True) == url, "tasks would go to another broker"
        celery_app.control.purge()  # leftovers of an interrupted earlier run
        yield url
    finally:
        celery_app.conf.update(saved)
        _drop_broker_connections()


def _drop_broker_connections() -> None:
    # Celery caches its connection pools; reset them so the next send uses the
    # broker URL configured now (the same reset Celery does after a fork).
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
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
        run = services.sync_run_start(
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
