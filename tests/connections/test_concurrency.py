"""One run per connection, guaranteed by the database under real concurrency."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db
from django.db import connections

from connections import services
from connections.models import SyncRun
from tests.conftest import need_service
from tests.factories import ConnectionFactory


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_start_exactly_one_run(source):
    need_service(db.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    connection = ConnectionFactory(name="Racy HR")
    attempts = 8
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def request_sync() -> None:
        try:
            barrier.wait(timeout=10)
            services.sync_run_start(connection=connection, enqueue=False)
            outcome = "started"
        except services.SyncAlreadyRunning as exc:
            outcome = str(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=request_sync) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["A sync is already running for Racy HR."] * (attempts - 1) + ["started"]
    assert SyncRun.objects.filter(connection=connection).count() == 1
