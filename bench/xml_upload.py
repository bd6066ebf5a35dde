"""The benchmark's XML upload scenario: ``python3 dev.py bench --xml 100000``.

A deterministic employee file of N employees (the format of an XML upload:
``<employees><employee>`` with forename, surname, employee_id with its
leading zeros, employee_type, department, start_date, country and email) is
written to the bench's workdir, and a connection of kind ``xml_upload``
takes it as the command line does (``manage.py upload``): the file is stored
with ``inbound_file_receive`` and processed in the same process with
``inbound_file_process``, which reads it through the connector's incremental
parser, plans, safeguards and applies it as any run. Four scenarios, each in
a process of its own so its peak memory is its own:

* the first import of the file;
* the same file again, which is skipped without a run (same bytes as the last
  completed file): the time is storing and hashing it;
* a changed file: a few hundred people changed, a few hundred leavers (well
  under the 75 % safeguard) and a few joiners;
* the parser alone (``employee_file_read``, no database), and, for
  contrast, lxml building the whole file as one tree, which the parser never
  does.

The departments are the locations; the organisation's depots are named like
them, so each maps to its depot by name, as the CSV bench's do.

``python -m bench.xml_upload TASK --file PATH`` is one scenario's probe,
started by the bench; its result is one JSON object on the last line of its
output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench.personio import _counts_said
from bench.roster import FIRST_NAMES, LAST_NAMES

KIND = "xml_upload"
REGISTRY_ENTRY = ("XML upload (REST API)", "connectors.xml_upload.connector.XmlUploadConnector")
CONNECTION_NAME = "Benchmark XML upload"
#: The locations (the connector's default location element): a few dozen.
DEPARTMENTS = (
    "Accounts", "Administration", "Business Development", "Catering", "Cleaning", "Compliance",
    "Contracts", "Customer Service", "Data", "Design", "Distribution", "Engineering", "Estates",
    "Facilities", "Finance", "Fleet", "Goods In", "Health and Safety", "Human Resources",
    "Information Technology", "Internal Audit", "Legal", "Logistics", "Maintenance", "Marketing",
    "Operations", "Payroll", "Planning", "Procurement", "Quality", "Research", "Retail", "Sales",
    "Security", "Training", "Transport", "Warehouse", "Workshop",
)
EMPLOYEE_TYPES = (("Full time", 70), ("Part time", 20), ("Contractor", 6), ("Temporary", 4))
COUNTRIES = (("GB", 85), ("IE", 10), ("NL", 5))
#: Employee ids are eight digits with their leading zeros: "00000042".
ID_DIGITS = 8
#: The changed file, at most: people changed, leavers and joiners.
CHANGED, LEAVERS, JOINERS = 400, 300, 100
#: Scenario → (file generation, label). In this order, on one database.
SCENARIOS = (
    ("first import", 0),
    ("same file again (skipped)", 0),
    ("changed file", 1),
)
#: The connection's default largest file; a larger benchmark file raises it.
DEFAULT_MAX_UPLOAD_MB = 50
MEGABYTE = 1024 * 1024


# -- the files -------------------------------------------------------------------------


def _employee(rng: random.Random, number: int) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    types, type_weights = zip(*EMPLOYEE_TYPES, strict=True)
    countries, country_weights = zip(*COUNTRIES, strict=True)
    return {
        "forename": first,
        "surname": last,
        "employee_id": f"{number:0{ID_DIGITS}d}",
        "employee_type": rng.choices(types, type_weights)[0],
        "department": DEPARTMENTS[number % len(DEPARTMENTS)],
        "start_date": f"{rng.randint(1995, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "country": rng.choices(countries, country_weights)[0],
        "email": f"{first}.{last}.{number}@example.com".lower().replace("'", ""),
    }


def employees_generate(people: int, *, seed: int = 2026) -> list[dict[str, str]]:
    """``people`` distinct, valid employees: an employee file is used whole
    or not at all, so one bad record would reject the benchmark's file."""
    rng = random.Random(f"{seed}:xml:{people}")
    return [_employee(rng, number) for number in range(1, people + 1)]


def employees_change(rows: list[dict[str, str]], *, seed: int = 2026) -> tuple[list[dict[str, str]], dict[str, int]]:
    """The next file: some people changed (surname, department, email or
    start date), some left (missing from the file), a few joined. Returns
    the rows and how many of each."""
    rng = random.Random(f"{seed}:xml:{len(rows)}:changed")
    people = len(rows)
    leavers = set(rng.sample(range(people), min(LEAVERS, people // 30)))
    kept = [index for index in range(people) if index not in leavers]
    changed = rng.sample(kept, min(CHANGED, people // 20))
    result = [dict(row) for row in rows]
    for index in changed:
        row = result[index]
        change = rng.randrange(4)
        if change == 0:
            row["surname"] = rng.choice([name for name in LAST_NAMES if name != row["surname"]])
        elif change == 1:
            row["department"] = rng.choice([name for name in DEPARTMENTS if name != row["department"]])
        elif change == 2:
            row["email"] = f"{row['forename']}.{row['employee_id']}@example.org".lower()
        else:
            row["start_date"] = f"{rng.randint(1995, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    result = [row for index, row in enumerate(result) if index not in leavers]
    joiners = min(JOINERS, people // 100)
    result.extend(_employee(rng, number) for number in range(people + 1, people + 1 + joiners))
    return result, {"changed": len(changed), "leavers": len(leavers), "joiners": joiners}


def employee_file_write(rows: list[dict[str, str]], path: Path) -> Path:
    """An employee file as an HR system exports one: UTF-8, indented, one
    element a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write('<?xml version="1.0" encoding="UTF-8"?>\n<employees>\n')
        for row in rows:
            handle.write(
                "  <employee>\n"
                + "".join(f"    <{tag}>{escape(value)}</{tag}>\n" for tag, value in row.items())
                + "  </employee>\n"
            )
        handle.write("</employees>\n")
    return path


# -- the probe (its own process) ------------------------------------------------------


def _registered() -> None:
    """The connector, in this process's registry whether or not it is listed there yet."""
    from connectors import registry

    registry.CONNECTORS.setdefault(KIND, REGISTRY_ENTRY)


def task_setup(args: argparse.Namespace) -> dict[str, Any]:
    """The organisation's depots, named like the departments, and the connection."""
    from connections import services
    from connections.models import Connection
    from hrsync.people.models import Depot

    Depot.objects.bulk_create([Depot(name=name) for name in DEPARTMENTS], ignore_conflicts=True)
    largest = max(DEFAULT_MAX_UPLOAD_MB, -(-args.size // MEGABYTE) + 1)
    if not Connection.objects.filter(name=CONNECTION_NAME).exists():
        services.connection_create(kind=KIND, name=CONNECTION_NAME, config={"max_upload_mb": largest})
    return {"depots": Depot.objects.count(), "max_upload_mb": largest}


def task_upload(args: argparse.Namespace) -> dict[str, Any]:
    """The file stored and processed as ``manage.py upload`` does: receive,
    then process in this process, through the real parser, planner and applier."""
    from django.db import connection as db

    from bench.probe import QueryCounter, run_measures
    from connections.inbound import inbound_file_receive
    from connections.models import Connection
    from connections.services import connection_connector
    from connections.sync import inbound, runner
    from connectors.xml_upload import parsing

    connection = Connection.objects.get(name=CONNECTION_NAME)
    connector = connection_connector(connection=connection)
    counter = QueryCounter()
    # The parser inside the run's read, and the engine's halves, told apart.
    parsing.employee_file_read = counter.wrap("parse", parsing.employee_file_read)
    runner.upload_read = counter.wrap("read", runner.upload_read)
    runner.directory_fingerprint = counter.wrap("plan", runner.directory_fingerprint)
    runner.directory_state_load = counter.wrap("plan", runner.directory_state_load)
    runner.plan = counter.wrap("plan", runner.plan)
    runner.apply_plan = counter.wrap("apply", runner.apply_plan)
    runner._finish = counter.wrap("finish", runner._finish)
    settle = counter.wrap("settle", inbound.inbound_file_settle)
    inbound.inbound_file_settle = settle

    started = time.perf_counter()
    with db.execute_wrapper(counter):
        with counter.during("store"), open(args.file, "rb") as stream:
            stored = inbound_file_receive(
                connection=connection,
                kind="employee",
                stream=stream,
                content_type="application/xml",
                max_bytes=connector.max_upload_bytes,
                original_name=Path(args.file).name,
                received_from="command line",
                dispatch=False,
            )
        processed_at = time.perf_counter()
        upload = inbound.inbound_file_process(inbound_file_id=stored.pk)
    ended = time.perf_counter()
    return {
        **run_measures(
            counter, upload.run, seconds=ended - started,
            timed=("parse", "read", "plan", "apply", "finish", "settle"),
        ),
        "store_seconds": processed_at - started,
        "process_seconds": ended - processed_at,
        "file_status": upload.status,
        "file_error": upload.error,
        "size": upload.size,
        "store_queries": counter.by_phase["store"],
    }


def task_parse(args: argparse.Namespace) -> dict[str, Any]:
    """The employee file read by the connector's parser, and nothing else: no database."""
    from bench.probe import peak_rss_mb
    from connectors.xml_upload import parsing

    started = time.perf_counter()
    records = len(parsing.employee_file_read(args.file))
    return {"seconds": time.perf_counter() - started, "records": records, "peak_rss_mb": peak_rss_mb()}


def task_tree(args: argparse.Namespace) -> dict[str, Any]:
    """For contrast: lxml building the whole file as one tree (what the parser never does)."""
    from lxml import etree

    from bench.probe import peak_rss_mb

    started = time.perf_counter()
    tree = etree.parse(args.file, etree.XMLParser(resolve_entities=False, no_network=True))
    records = sum(1 for _ in tree.getroot().iterchildren("employee"))
    return {"seconds": time.perf_counter() - started, "records": records, "peak_rss_mb": peak_rss_mb()}


TASKS = {"setup": task_setup, "upload": task_upload, "parse": task_parse, "tree": task_tree}


def probe_main(argv: list[str]) -> int:
    import django

    parser = argparse.ArgumentParser(prog="python -m bench.xml_upload")
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--file", default="", help="the employee file")
    parser.add_argument("--size", type=int, default=0, help="the largest file's size, in bytes (setup)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hrsync.settings")
    django.setup()
    _registered()
    print(json.dumps(TASKS[args.task](args), default=str))
    return 0


# -- the scenario (the bench's process) ------------------------------------------------


def scenario_run(args: argparse.Namespace, say, argv: list[str]) -> int:
    """``--xml N``: the scenarios, their table, and its section of PERFORMANCE.md."""
    from bench.__main__ import (
        DOC, PEAK_RSS_TARGET_MB, ROOT, TARGET_PEOPLE, BenchError, Databases, machine_description, run_python,
        write_doc,
    )

    people = args.xml
    workdir = Path(args.workdir).resolve() / args.db / f"xml-{people}"
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"XML upload, {people:,} employees: writing the files to {workdir}")
    first = employees_generate(people)
    changed, changes = employees_change(first)
    files = [employee_file_write(first, workdir / "employees-0.xml"), employee_file_write(changed, workdir / "employees-1.xml")]
    employees = [len(first), len(changed)]
    del first, changed
    sizes = [path.stat().st_size for path in files]

    databases = Databases(engine=args.db, server_url=args.database_url, workdir=workdir, people=people)
    database_url = databases.url("xml")
    # The stored uploads go to the workdir, not the project's var/.
    os.environ["HRSYNC_MEDIA_ROOT"] = str(workdir / "media")

    def probe(task: str, path: Path | None = None, *options: str) -> dict[str, Any]:
        output = run_python(["-m", "bench.xml_upload", task, *(["--file", str(path)] if path else []), *options],
                            database_url)
        return json.loads(output.strip().splitlines()[-1])

    rows: list[tuple[str, int, int, dict[str, Any]]] = []
    try:
        databases.recreate("xml")
        run_python(["manage.py", "migrate", "--noinput", "-v", "0"], database_url)
        probe("setup", None, "--size", str(max(sizes)))
        for label, generation in SCENARIOS:
            say(f"XML upload, {people:,} employees: {label}")
            result = probe("upload", files[generation])
            said = f"  {result['seconds']:.2f} s (storing {result['store_seconds']:.2f} s"
            if result["status"]:
                said += (f", reading {result['read_seconds']:.2f} s of which parsing {result['parse_seconds']:.2f} s, "
                         f"plan {result['plan_seconds']:.2f} s, apply {result['apply_seconds']:.2f} s, "
                         f"report {result['finish_seconds']:.2f} s, settling the file {result['settle_seconds']:.2f} s")
            say(said + f"), peak {result['peak_rss_mb']:.0f} MB: {result['file_status']}")
            wanted = "skipped" if "skipped" in label else "complete"
            if result["file_status"] != wanted:
                raise BenchError(f"The {label} ended {result['file_status']}, not {wanted}: "
                                 f"{result['file_error'] or result['error']}")
            rows.append((label, employees[generation], sizes[generation], result))
        for task, label in (("parse", "parser alone (employee_file_read), no database"),
                            ("tree", "contrast: lxml building the whole file as one tree")):
            say(f"XML upload, {people:,} employees: {label}")
            result = probe(task, files[0])
            say(f"  {result['seconds']:.2f} s, peak {result['peak_rss_mb']:.0f} MB")
            rows.append((label, employees[0], sizes[0], result))
        databases.drop("xml")
        # The stored uploads belonged to the dropped database's rows.
        shutil.rmtree(workdir / "media", ignore_errors=True)
    except BenchError as exc:
        say(str(exc))
        return 2

    judged = args.db == "postgres" and people >= TARGET_PEOPLE
    command = "python3 dev.py bench " + shlex.join(argv)
    section = "\n\n".join([
        f"## XML upload, {people:,} employees ({'PostgreSQL' if args.db == 'postgres' else 'SQLite'})",
        f"Measured on {dt.date.today().isoformat()} with `{command.strip()}` on: "
        f"{machine_description(args.db, args.database_url)}.",
        render(rows, changes=changes, judged=judged, rss_target=PEAK_RSS_TARGET_MB),
    ])
    print(section)
    if not args.no_write:
        write_doc(f"xml-{args.db}", section)
        say(f"wrote {DOC.relative_to(ROOT)}")
    if judged and any(result["peak_rss_mb"] > PEAK_RSS_TARGET_MB for _, _, _, result in rows):
        say(f"FAIL: a scenario's peak memory was over {PEAK_RSS_TARGET_MB} MB")
        return 1
    return 0


def render(
    rows: list[tuple[str, int, int, dict[str, Any]]], *, changes: dict[str, int], judged: bool, rss_target: int
) -> str:
    lines = [
        "Each upload is stored with `inbound_file_receive` and processed in the same process with "
        "`inbound_file_process`, as `manage.py upload` does. **Seconds** is both; **Storing** is streaming "
        "the file to storage and hashing it; **Reading** is the run's read of the stored file, and in "
        "brackets the part of it that is the connector's parser (`employee_file_read`, incremental: lxml's "
        "iterparse, each record cleared once read); **Plan + apply** is reading the directory, planning, and "
        "writing; **Report** is saving the run and its report; **Other** is the rest (starting the run, "
        "settling the file from it, the commit). The parser's row without a database holds the parsed "
        "records (a list the run needs whole to plan), not the XML; the whole-tree row is what reading the "
        "file as one tree would cost before a single record is made. The same file again is skipped without a run (its bytes are those of the last "
        f"completed file). The changed file has {changes['changed']:,} people changed, {changes['leavers']:,} "
        f"leavers and {changes['joiners']:,} joiners; the {len(DEPARTMENTS)} departments are the locations.",
        "",
        "| Scenario | Employees | File MB | Seconds | Storing | Reading (parsing) | Plan + apply | Report | Other "
        "| Queries (planner / applier / all) | Peak RSS MB | Target | |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for label, employees, size, result in rows:
        target = f"≤ {rss_target} MB" if judged else ""
        verdict = ("PASS" if result["peak_rss_mb"] <= rss_target else "FAIL") if judged else ""
        if "store_seconds" not in result:  # the parser alone, or the whole tree: no database
            lines.append(
                f"| {label} | {employees:,} | {size / MEGABYTE:.1f} | {result['seconds']:.2f} | — | "
                f"({result['seconds']:.2f}) | — | — | — | — | {result['peak_rss_mb']:.0f} | "
                f"{target if label.startswith('parser') else ''} | {verdict if label.startswith('parser') else ''} |"
            )
            continue
        ran = bool(result["status"])
        reading = f"{result['read_seconds']:.2f} ({result['parse_seconds']:.2f})" if ran else "—"
        other = result["seconds"] - result["store_seconds"] - sum(
            result[f"{phase}_seconds"] for phase in ("read", "plan", "apply", "finish")
        )
        queries = (f"{result['plan_queries']} / {result['apply_queries']} / {result['queries']}" if ran
                   else f"— / — / {result['queries']}")
        lines.append(
            f"| {label} | {employees:,} | {size / MEGABYTE:.1f} | {result['seconds']:.2f} | "
            f"{result['store_seconds']:.2f} | {reading} | "
            f"{_seconds(result, 'plan', ran, result['apply_seconds'])} | {_seconds(result, 'finish', ran)} | "
            f"{other:.2f} | "
            f"{queries} | {result['peak_rss_mb']:.0f} | {target} | {verdict} |"
        )
    said = [f"{label}: {_counts_said(result.get('counts'))}" for label, _, _, result in rows if result.get("status")]
    lines += ["", "What the runs did: " + "; ".join(said) + "."]
    return "\n".join(lines)


def _seconds(result: dict[str, Any], phase: str, ran: bool, plus: float = 0.0) -> str:
    return f"{result[f'{phase}_seconds'] + plus:.2f}" if ran else "—"


if __name__ == "__main__":
    sys.exit(probe_main(sys.argv[1:]))
