"""One measurement in a fresh process: ``python -m bench.probe TASK ARGS``.

Each scenario runs in its own process so its peak memory (RSS) is its own,
not the largest of everything the bench did before. The result is one JSON
object on the last line of standard output. The database and settings come
from the environment the bench sets (DATABASE_URL and the secrets).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django

PHASES = ("plan", "apply")


class QueryCounter:
    """Counts SQL statements, by the phase of the sync they belong to."""

    def __init__(self) -> None:
        self.by_phase: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.phase = "other"

    def __call__(self, execute, sql, params, many, context):
        self.by_phase[self.phase] += 1
        return execute(sql, params, many, context)

    @contextlib.contextmanager
    def during(self, phase: str) -> Iterator[None]:
        outer, self.phase = self.phase, phase
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - started
            self.phase = outer

    def wrap(self, phase: str, function: Callable) -> Callable:
        def wrapped(*args, **kwargs):
            with self.during(phase):
                return function(*args, **kwargs)

        return wrapped


def run_measures(
    counter: QueryCounter, run: Any, *, seconds: float, timed: tuple[str, ...] = ("plan", "apply", "finish")
) -> dict[str, Any]:
    """What every scenario reports of one run it timed: its outcome, the
    statements by phase, the seconds of the ``timed`` phases, peak memory."""
    return {
        "seconds": seconds,
        "status": run.status if run else "",
        "error": run.error if run else "",
        "counts": run.counts if run else {},
        "queries": sum(counter.by_phase.values()),
        "plan_queries": counter.by_phase["plan"],
        "apply_queries": counter.by_phase["apply"],
        **{f"{phase}_seconds": counter.seconds[phase] for phase in timed},
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's own peak resident memory, in MB.

    Linux carries ``ru_maxrss`` over from the parent across fork and exec, so
    a probe started by a bench holding a 100,000-row roster would report the
    bench's memory, not its own. ``VmHWM`` is the peak of this process's
    address space alone.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # Elsewhere: ru_maxrss (KiB on Linux, bytes on macOS), which may include the parent's.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _connection(uri: str):
    from connections import services
    from connections.models import Connection

    connection = Connection.objects.filter(name="Benchmark roster").first()
    if connection is None:
        return services.connection_create(kind="csv_file", name="Benchmark roster", config={"uri": uri})
    return services.connection_update(connection=connection, config={"uri": uri})


def task_sync(args: argparse.Namespace) -> dict[str, Any]:
    """One sync of the CSV file through the real connector, planner and applier."""
    from django.db import connection as db

    from connections import runs
    from connections.models import SyncRun
    from connections.sync import runner

    connection = _connection(Path(args.csv).resolve().as_uri())
    counter = QueryCounter()
    # Tag the engine's two halves so their query counts are told apart.
    runner.directory_fingerprint = counter.wrap("plan", runner.directory_fingerprint)
    runner.directory_state_load = counter.wrap("plan", runner.directory_state_load)
    runner.plan = counter.wrap("plan", runner.plan)
    runner.apply_plan = counter.wrap("apply", runner.apply_plan)
    runner._finish = counter.wrap("finish", runner._finish)

    started = time.perf_counter()
    with db.execute_wrapper(counter):
        if args.apply_dry_run:
            dry_run = SyncRun.objects.filter(connection=connection, dry_run=True).latest("pk")
            run = runs.sync_run_apply_dry_run(dry_run=dry_run, enqueue=False)
        else:
            run = runs.sync_run_start(connection=connection, dry_run=args.dry_run, enqueue=False)
        run = runner.sync_run_execute(run_id=run.pk)
    return run_measures(counter, run, seconds=time.perf_counter() - started)


def task_setup(args: argparse.Namespace) -> dict[str, Any]:
    """The organisation's depots, named like the roster's locations."""
    from bench.roster import depot_names
    from hrsync.people.models import Depot

    Depot.objects.bulk_create([Depot(name=name) for name in depot_names()], ignore_conflicts=True)
    return {"depots": Depot.objects.count()}


def task_parse(args: argparse.Namespace) -> dict[str, Any]:
    """The CSV connector reading the file, and nothing else: no database."""
    from connectors.csv_file.connector import CsvFileConnector

    connector = CsvFileConnector(config={"uri": Path(args.csv).resolve().as_uri()}, secrets={}, field_map={})
    started = time.perf_counter()
    records = sum(1 for _ in connector.fetch_employees())
    return {"seconds": time.perf_counter() - started, "records": records, "peak_rss_mb": peak_rss_mb()}


def task_copy(args: argparse.Namespace) -> dict[str, Any]:
    """PostgreSQL's COPY loading the file into a table shaped like Person's."""
    from django.db import connection as db

    from bench.roster import HEADER

    columns = {
        "Employee ID": "employee_reference varchar(100)",
        "First Name": "first_name varchar(150)",
        "Last Name": "last_name varchar(150)",
        "Email": "email varchar(254)",
        "Job Title": "job_title varchar(200)",
        "Location": "location varchar(200)",
        "Manager ID": "manager_reference varchar(100)",
        "Status": "status varchar(20)",
        "Start Date": "hire_date date",
        "Date of Birth": "date_of_birth date",
        "Mobile": "mobile_phone varchar(50)",
    }
    with db.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_floor")
        cursor.execute(
            "CREATE TABLE bench_copy_floor (id bigserial PRIMARY KEY, "
            + ", ".join(columns[name] for name in HEADER)
            + ")"
        )
        names = ", ".join(columns[name].split()[0] for name in HEADER)
        started = time.perf_counter()
        with open(args.csv, "rb") as handle, cursor.connection.cursor().copy(
            f"COPY bench_copy_floor ({names}) FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        cursor.execute("SELECT count(*) FROM bench_copy_floor")
        (rows,) = cursor.fetchone()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy_floor")
    return {"seconds": seconds, "records": rows, "peak_rss_mb": peak_rss_mb()}


def task_import_export(args: argparse.Namespace) -> dict[str, Any]:
    """django-import-export importing the file into Person (see bench/importexport.py)."""
    from django.db import connection as db

    from bench.importexport import import_csv, lookup_index_create

    lookup_index_create()
    counter = QueryCounter()
    started = time.perf_counter()
    with db.execute_wrapper(counter):
        outcome = import_csv(args.csv, bulk=args.bulk)
    return {
        "seconds": time.perf_counter() - started,
        **outcome,
        "queries": sum(counter.by_phase.values()),
        "peak_rss_mb": peak_rss_mb(),
    }


#: Each run page request is rendered this many times; the median is reported.
PAGE_REPEATS = 5


def task_pages(args: argparse.Namespace) -> dict[str, Any]:
    """The server's render of the first import's run page — the largest
    report there is, one change per person: its first page, a search, and a
    late page of one action. Through Django's test client, so every
    middleware, query and template of a real request is in the time."""
    import statistics

    from django.contrib.auth import get_user_model
    from django.db import connection as db
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    from connections.models import Connection, SyncRun, SyncRunChange

    connection = Connection.objects.get(name="Benchmark roster")
    run = SyncRun.objects.filter(connection=connection, dry_run=False).defer("report").earliest("pk")
    listed = SyncRunChange.objects.filter(run=run).count()
    # A name from late in the report: the search reads the whole index either way.
    search = SyncRunChange.objects.filter(run=run, seq=listed * 7 // 10).values_list("search", flat=True).first() or ""
    query = " ".join(search.split()[:2])
    user, _ = get_user_model().objects.get_or_create(username="bench-pages", defaults={"is_staff": True})
    client = Client()
    client.force_login(user)
    url = reverse("connections:run", args=[connection.pk, run.pk])
    requests = {
        "first page": {},
        f"search “{query}”": {"q": query},
        f"action=create, page {max(listed // 50 - 10, 1):,}": {"action": "create", "page": max(listed // 50 - 10, 1)},
    }
    pages = []
    # The probe runs in deployed mode (no DEBUG): the test client's host and plain HTTP are let in.
    with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False):
        for label, params in requests.items():
            times, counter = [], QueryCounter()
            for _ in range(PAGE_REPEATS):
                counter.by_phase.clear()
                started = time.perf_counter()
                with db.execute_wrapper(counter):
                    response = client.get(url, params)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or b'class="table changes-table' not in response.content:
                    raise SystemExit(f"{url} {params} answered {response.status_code} without its changes")
            pages.append({
                "label": label,
                "ms": statistics.median(times),
                "slowest_ms": max(times),
                "queries": sum(counter.by_phase.values()),
            })
    return {"listed": listed, "pages": pages, "seconds": 0.0, "peak_rss_mb": peak_rss_mb()}


TASKS = {
    "setup": task_setup, "sync": task_sync, "parse": task_parse, "copy": task_copy,
    "import-export": task_import_export, "pages": task_pages,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe")
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--csv", required=True)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--apply-dry-run", action="store_true")
    parser.add_argument("--bulk", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hrsync.settings")
    django.setup()
    result = TASKS[args.task](args)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
