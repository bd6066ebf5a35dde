"""The benchmark's Personio scenario: ``python3 dev.py bench --personio 10000``.

A stand-in Personio (``tests/connectors/personio/fake_personio.py``) serves
a deterministic roster over HTTP on 127.0.0.1, speaking API v1 and enforcing
its limits: at most 15 requests a second and 300 a minute on the employees
endpoint, 429 beyond. A connection of kind ``personio`` reads it through the
real connector, planner and applier, on the database the bench uses; each
scenario (a first import, then a re-sync with nothing changed) runs in a
process of its own, like the CSV scenarios, while the stand-in keeps serving
from the bench's process and counts what it was asked and how often it said
429.

The time is set against the floor Personio's limits put under any client:
at 100 people a page, 10,000 people are 100 pages (and one read of the
attribute list). The sliding windows let those through 15 at a time, a
second apart: about 6–7 s however fast everything else is. A client pacing
itself at a steady 300 a minute would need 20 s. The table says which of
the two the client achieves, and the stand-in's count of 429s says whether
its own limiter kept it under the limits (it should: 0).

``python -m bench.personio sync --url URL`` is one scenario's probe, started
by the bench; its result is one JSON object on the last line of its output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import secrets
import shlex
import sys
import time
from pathlib import Path
from typing import Any

#: Limits of the employees endpoint: (requests, seconds).
LIMITS = ((15, 1.0), (300, 60.0))
#: Personio's largest page of employees.
PAGE = 100
CONNECTION_NAME = "Benchmark Personio"
CLIENT_ID = "hrsync-bench"
#: The probes read the client secret from here, never from their command line.
SECRET_VARIABLE = "BENCH_PERSONIO_CLIENT_SECRET"
EMPLOYEES_PATH = "/v1/company/employees"
#: Scenario → the probe's options. In this order, on one database.
SCENARIOS = (("first import", []), ("no-change re-sync", []))


# -- the floor ----------------------------------------------------------------------


def floor_windows(requests: int, limits=LIMITS) -> float:
    """The least time from the first to the last of ``requests`` requests that
    the sliding windows allow: each window lets ``count`` through, then the
    next ``count`` only once the first have aged out of it."""
    return max((math.ceil(requests / count) - 1) * seconds for count, seconds in limits)


def floor_steady(requests: int, *, per_minute: int = LIMITS[1][0]) -> float:
    """The time ``requests`` take at a steady ``per_minute`` (one every 0.2 s at 300)."""
    return requests * 60.0 / per_minute


# -- the probe (its own process) ------------------------------------------------------


def _connection(url: str):
    from connections import services
    from connections.models import Connection

    config = {
        "client_id": CLIENT_ID,
        "base_url": url,
        "partner_id": "HRSYNC",
        "app_id": "HRSYNC_BENCHMARK",
        "employee_number_attribute": "dynamic_21",
    }
    connection = Connection.objects.filter(name=CONNECTION_NAME).first()
    if connection is None:
        return services.connection_create(
            kind="personio", name=CONNECTION_NAME, config=config,
            secrets={"client_secret": os.environ[SECRET_VARIABLE]},
        )
    return services.connection_update(connection=connection, config=config)


def task_sync(args: argparse.Namespace) -> dict[str, Any]:
    """One sync of the stand-in through the real connector, planner and applier."""
    from django.db import connection as db

    from bench.probe import QueryCounter, run_measures
    from connections import runs
    from connections.sync import runner

    connection = _connection(args.url)
    counter = QueryCounter()
    # As the CSV probe does, plus the read: the part of the time Personio's limits set.
    runner.streams_read = counter.wrap("read", runner.streams_read)
    runner.directory_fingerprint = counter.wrap("plan", runner.directory_fingerprint)
    runner.directory_state_load = counter.wrap("plan", runner.directory_state_load)
    runner.plan = counter.wrap("plan", runner.plan)
    runner.apply_plan = counter.wrap("apply", runner.apply_plan)
    runner._finish = counter.wrap("finish", runner._finish)

    started = time.perf_counter()
    with db.execute_wrapper(counter):
        run = runs.sync_run_start(connection=connection, dry_run=args.dry_run, enqueue=False)
        run = runner.sync_run_execute(run_id=run.pk)
    return run_measures(
        counter, run, seconds=time.perf_counter() - started, timed=("read", "plan", "apply", "finish")
    )


def task_setup(args: argparse.Namespace) -> dict[str, Any]:
    """The organisation's depots, named like the stand-in's offices (the
    locations read maps each to its depot by name, as the CSV bench's do)."""
    from hrsync.people.models import Depot
    from tests.connectors.personio.fake_personio import OFFICES

    Depot.objects.bulk_create([Depot(name=name) for name in OFFICES], ignore_conflicts=True)
    return {"depots": Depot.objects.count()}


TASKS = {"setup": task_setup, "sync": task_sync}


def probe_main(argv: list[str]) -> int:
    import django

    parser = argparse.ArgumentParser(prog="python -m bench.personio")
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--url", default="", help="the stand-in Personio's address")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hrsync.settings")
    django.setup()
    print(json.dumps(TASKS[args.task](args), default=str))
    return 0


# -- the scenario (the bench's process) ------------------------------------------------


def _served(fake, since: int) -> dict[str, Any]:
    """What the stand-in was asked from request number ``since`` on."""
    asked = fake.requests[since:]
    employees = [r for r in asked if r.path.startswith(EMPLOYEES_PATH)]
    pages = [r for r in employees if r.path == EMPLOYEES_PATH and r.status == 200]
    return {
        "requests": len(asked),
        "employee_requests": len(employees),
        "pages": len(pages),
        "too_many_requests": sum(1 for r in asked if r.status == 429),
        "auth_calls": sum(1 for r in asked if r.path == "/v1/auth"),
        # From the first employees request's arrival to the last's: the part the limits govern.
        "employees_span": (employees[-1].at - employees[0].at) if len(employees) > 1 else 0.0,
        "partner_headers": all(r.partner_headers for r in asked),
    }


def _minute_clear(fake, say) -> None:
    """Wait until the stand-in's minute window holds none of the previous
    scenario's requests, so each scenario meets Personio as a scheduled sync
    does: the limiter of a new run's process knows nothing of the last run."""
    asked = [r.at for r in fake.requests if r.path.startswith(EMPLOYEES_PATH)]
    if not asked:
        return
    wait = asked[-1] + LIMITS[1][1] - time.monotonic()
    if wait > 0:
        say(f"  waiting {wait:.0f} s for the stand-in's minute window to clear (not timed)")
        time.sleep(wait + 0.1)


def scenario_run(args: argparse.Namespace, say, argv: list[str]) -> int:
    """``--personio N``: the scenarios, their table, and its section of PERFORMANCE.md."""
    from bench.__main__ import DOC, ROOT, BenchError, Databases, machine_description, run_python, write_doc
    from tests.connectors.personio.fake_personio import FakePersonio, fake_personio_roster

    people = args.personio
    workdir = Path(args.workdir).resolve() / args.db / f"personio-{people}"
    workdir.mkdir(parents=True, exist_ok=True)
    databases = Databases(engine=args.db, server_url=args.database_url, workdir=workdir, people=people)
    database_url = databases.url("personio")
    client_secret = secrets.token_urlsafe(24)
    # The probes inherit these: plain http to the stand-in on 127.0.0.1, and the secret.
    os.environ["HRSYNC_ALLOW_INSECURE_LOOPBACK"] = "true"
    os.environ[SECRET_VARIABLE] = client_secret

    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    try:
        databases.recreate("personio")
        run_python(["manage.py", "migrate", "--noinput", "-v", "0"], database_url)
        run_python(["-m", "bench.personio", "setup"], database_url)
        roster = fake_personio_roster(people)
        with FakePersonio(client_id=CLIENT_ID, client_secret=client_secret, employees=roster) as fake:
            for label, options in SCENARIOS:
                _minute_clear(fake, say)
                say(f"Personio, {people:,} people: {label}")
                since = len(fake.requests)
                output = run_python(["-m", "bench.personio", "sync", "--url", fake.url, *options], database_url)
                result = json.loads(output.strip().splitlines()[-1])
                served = _served(fake, since)
                say(f"  {result['seconds']:.2f} s (reading {result['read_seconds']:.2f} s, "
                    f"{served['pages']} pages in {served['employees_span']:.2f} s), "
                    f"{served['requests']} requests, {served['too_many_requests']} answered 429")
                if result["status"] not in ("succeeded", "completed_with_conflicts", "completed_with_errors"):
                    raise BenchError(f"Personio {label} ended {result['status']}: {result['error']}")
                rows.append((label, result, served))
        databases.drop("personio")
    except BenchError as exc:
        say(str(exc))
        return 2

    command = "python3 dev.py bench " + shlex.join(argv)
    section = "\n\n".join([
        f"## Personio, {people:,} people ({'PostgreSQL' if args.db == 'postgres' else 'SQLite'})",
        f"Measured on {dt.date.today().isoformat()} with `{command.strip()}` on: "
        f"{machine_description(args.db, args.database_url)}.",
        render(rows, people=people),
    ])
    print(section)
    if not args.no_write:
        write_doc(f"personio-{args.db}", section)
        say(f"wrote {DOC.relative_to(ROOT)}")
    if any(served["too_many_requests"] for _, _, served in rows):
        say("FAIL: the stand-in Personio answered 429: the client went over Personio's limits")
        return 1
    return 0


def render(rows: list[tuple[str, dict[str, Any], dict[str, Any]]], *, people: int) -> str:
    pages = math.ceil(people / PAGE)
    lines = [
        f"A stand-in Personio on 127.0.0.1 serves {people:,} employees, {PAGE} a page ({pages} pages), "
        "and answers 429 beyond 15 requests in any second or 300 in any minute on the employees "
        "endpoints (the list and its attributes). Each run (scope: all data) reads them through the "
        "Personio connector and its client, with its own limiter, then plans and applies as any sync "
        "does. The bench lets the stand-in's minute window clear before each run.",
        "",
        f"The floor Personio's limits set: the sliding windows let {pages} requests through in "
        f"{floor_windows(pages):.1f} s at the least (15 at once, a second apart; {pages / 15:.1f} s at a "
        f"steady 15 a second); at a steady 300 a minute they take {floor_steady(pages):.0f} s. "
        "**Read in** is the time from the first employees request's arrival to the last's; the floors "
        "beside it are for the number of employees requests that run made.",
        "",
        "| Scenario | People | Seconds | Reading | Employees requests | Read in | Floor: windows / 300 a minute "
        "| Achieves | 429s | Requests, all | Auth calls | Queries (planner / applier / all) | Peak RSS MB |",
        "|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|",
    ]
    for label, result, served in rows:
        asked, span = served["employee_requests"], served["employees_span"]
        windows, steady = floor_windows(asked), floor_steady(asked)
        # Closer to which floor: the windows' bursts, or a steady 300 a minute.
        achieves = "the windows' floor" if abs(span - windows) <= abs(span - steady) else "300 a minute"
        lines.append(
            f"| {label} | {people:,} | {result['seconds']:.2f} | {result['read_seconds']:.2f} s | {asked} "
            f"| {span:.2f} s | {windows:.1f} s / {steady:.0f} s | {achieves} | {served['too_many_requests']} "
            f"| {served['requests']} | {served['auth_calls']} "
            f"| {result['plan_queries']} / {result['apply_queries']} / {result['queries']} "
            f"| {result['peak_rss_mb']:.0f} |"
        )
    asked = sorted({served["employee_requests"] for _, _, served in rows})
    if asked and asked[0] >= 2 * pages:
        lines += ["", f"Each run made {' or '.join(map(str, asked))} employees requests for {pages} pages of people: "
                  "the locations (the offices) are read from the employee list in a read of their own, "
                  "and every page read counts against the same limits."]
    counts = [f"{label}: {_counts_said(result['counts'])}" for label, result, _ in rows]
    lines += ["", "What the runs did: " + "; ".join(counts) + "."]
    return "\n".join(lines)


def _counts_said(counts: dict[str, Any] | None) -> str:
    """A run's counts in a line: actions with a number, and the locations' in brackets."""
    counts = dict(counts or {})
    locations = counts.pop("locations", None)
    said = ", ".join(f"{value:,} {key}" for key, value in sorted(counts.items()) if isinstance(value, int) and value)
    if isinstance(locations, dict):
        said += " (locations: " + (", ".join(f"{v:,} {k}" for k, v in sorted(locations.items()) if v) or "none") + ")"
    return said or "nothing"


if __name__ == "__main__":
    sys.exit(probe_main(sys.argv[1:]))
