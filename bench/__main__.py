"""python -m bench [--people N ...] [--db sqlite|postgres] [--personio N] [--xml N]: see bench/__init__.py."""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
import os
import platform
import secrets
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.roster import roster_generate, roster_mutate, roster_write

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "PERFORMANCE.md"

#: Targets for 100,000 people on PostgreSQL (seconds, MB).
TARGET_PEOPLE = 100_000
TIME_TARGETS = {"first import": 15.0, "no-change re-sync": 5.0, "changed re-sync": 8.0, "dry run": 6.0}
PEAK_RSS_TARGET_MB = 500
#: The server's render of one page of the largest run report (milliseconds).
PAGE_TARGET_MS = 500
RATIO_TARGETS = {"first import": 10.0, "changed re-sync": 30.0}
#: The applier writes in batches of at most this many rows on SQLite
#: (connections.sync.bulk.BATCH_SIZE; PostgreSQL COPYs every row at once) ...
BATCH_ROWS = 2000
#: ... and issues at most this many statements per batch (people, mappings,
#: managers, logins, inserts and updates).
STATEMENTS_PER_BATCH = 10
#: The smallest roster, run as the reference for "does not grow" whatever --people says.
REFERENCE_PEOPLE = 1000

#: Scenario → (roster generation, probe options). In this order, on one database.
SCENARIOS = (
    ("first import", 0, []),
    ("no-change re-sync", 0, []),
    ("changed re-sync", 1, []),
    ("dry run", 2, ["--dry-run"]),
    ("applying the dry run", 2, ["--apply-dry-run"]),
)
IMPORT_EXPORT_SCENARIOS = (("first import", 0), ("changed re-sync", 1))


@dataclass
class Row:
    label: str
    people: int
    rows: int
    result: dict[str, Any]
    target: str = ""
    verdict: str = ""

    @property
    def seconds(self) -> float:
        return self.result["seconds"]


class BenchError(Exception):
    pass


# -- databases --------------------------------------------------------------------


class Databases:
    """Throwaway databases for one roster size: ours, and one per IE mode."""

    NAMES = ("hrsync", "import_export", "import_export_bulk")

    def __init__(self, *, engine: str, server_url: str, workdir: Path, people: int) -> None:
        self.engine, self.server_url, self.workdir, self.people = engine, server_url, workdir, people

    def url(self, name: str) -> str:
        if self.engine == "sqlite":
            return f"sqlite:///{self.workdir / f'{name}.sqlite3'}"
        parts = urlsplit(self.server_url)
        return urlunsplit(parts._replace(path=f"/bench_{name}_{self.people}"))

    def recreate(self, name: str) -> None:
        if self.engine == "sqlite":
            (self.workdir / f"{name}.sqlite3").unlink(missing_ok=True)
            return
        database = f"bench_{name}_{self.people}"
        admin = urlunsplit(urlsplit(self.server_url)._replace(path="/postgres"))
        for statement in (f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f'CREATE DATABASE "{database}"'):
            _psql(admin, statement)

    def drop(self, name: str) -> None:
        if self.engine == "postgres":
            admin = urlunsplit(urlsplit(self.server_url)._replace(path="/postgres"))
            _psql(admin, f'DROP DATABASE IF EXISTS "bench_{name}_{self.people}" WITH (FORCE)')


def _psql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


#: Throwaway secrets, the same for every process of one bench run (a
#: connection saved by one probe is read by the next).
SECRETS = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "HRSYNC_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
}


def probe_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        **SECRETS,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "hrsync.settings",
        "HRSYNC_ALLOW_LOCAL_FILES": "true",
        "DJANGO_STATIC_MANIFEST": "false",
        "PYTHONPATH": str(ROOT),
    }


def run_python(args: list[str], database_url: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=probe_env(database_url), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BenchError(f"`{' '.join(args)}` failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
    return result.stdout


def probe(task: str, csv: Path, database_url: str, *options: str) -> dict[str, Any]:
    output = run_python(["-m", "bench.probe", task, "--csv", str(csv), *options], database_url)
    result = json.loads(output.strip().splitlines()[-1])
    # Said as it comes: a full run takes a while, and this much survives an interrupted one.
    said = f"bench:   {result['seconds']:.2f} s, peak {result['peak_rss_mb']:.0f} MB"
    if "finish_seconds" in result:
        said += f" (plan {result['plan_seconds']:.2f} s, apply {result['apply_seconds']:.2f} s, " \
                f"saving the run and its report {result['finish_seconds']:.2f} s)"
    for page in result.get("pages", []):
        said += f"\nbench:   run page, {page['label']}: {page['ms']:.0f} ms, {page['queries']} queries"
    print(said, file=sys.stderr, flush=True)
    return result


def prepare(database_url: str) -> None:
    """Migrate, and create the organisation's depots (the roster's locations)."""
    run_python(["manage.py", "migrate", "--noinput", "-v", "0"], database_url)
    run_python(["-m", "bench.probe", "setup", "--csv", "-"], database_url)


# -- one roster size ------------------------------------------------------------------


def bench_size(people: int, args: argparse.Namespace, say, pages: list) -> list[Row]:
    workdir = Path(args.workdir).resolve() / args.db / str(people)
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"{people:,} people: writing the rosters to {workdir}")
    generations = [roster_generate(people)]
    for generation in (1, 2):
        generations.append(roster_mutate(generations[-1], generation=generation))
    files = [roster_write(rows, workdir / f"roster-{n}.csv") for n, rows in enumerate(generations)]
    sizes = [len(rows) for rows in generations]
    del generations

    databases = Databases(engine=args.db, server_url=args.database_url, workdir=workdir, people=people)
    rows: list[Row] = []
    databases.recreate("hrsync")
    prepare(databases.url("hrsync"))
    for label, generation, options in SCENARIOS:
        say(f"{people:,} people: {label}")
        result = probe("sync", files[generation], databases.url("hrsync"), *options)
        if result["status"] not in ("succeeded", "completed_with_conflicts", "completed_with_errors"):
            raise BenchError(f"{label} ended {result['status']}: {result['error']}")
        rows.append(Row(f"hrsync: {label}", people, sizes[generation], result))
        if label == "first import":
            say(f"{people:,} people: the first import's run page")
            pages.append((people, probe("pages", Path("-"), databases.url("hrsync"))))

    say(f"{people:,} people: reading the CSV alone")
    rows.append(Row("floor: CSV read by the connector, no database", people, sizes[0],
                    probe("parse", files[0], databases.url("hrsync"))))
    if args.db == "postgres":
        say(f"{people:,} people: PostgreSQL COPY")
        rows.append(Row("floor: PostgreSQL COPY into a table of the same shape", people, sizes[0],
                        probe("copy", files[0], databases.url("hrsync"))))
    databases.drop("hrsync")

    if not args.skip_import_export:
        for mode, name, options in (("default", "import_export", []),
                                    ("bulk mode", "import_export_bulk", ["--bulk"])):
            databases.recreate(name)
            prepare(databases.url(name))
            for label, generation in IMPORT_EXPORT_SCENARIOS:
                say(f"{people:,} people: django-import-export ({mode}): {label}")
                result = probe("import-export", files[generation], databases.url(name), *options)
                rows.append(Row(f"django-import-export {mode}: {label}", people, sizes[generation], result))
            databases.drop(name)
    return rows


# -- verdicts -------------------------------------------------------------------------


def _find(rows: list[Row], label: str, people: int) -> Row | None:
    return next((r for r in rows if r.label == label and r.people == people), None)


def judge(rows: list[Row], *, engine: str, largest: int, reference: int) -> None:
    for row in rows:
        if row.people != largest or not row.label.startswith("hrsync: "):
            continue
        scenario = row.label.removeprefix("hrsync: ")
        checks: list[tuple[str, bool]] = []
        at_target = engine == "postgres" and largest >= TARGET_PEOPLE
        if at_target:
            if scenario in TIME_TARGETS:
                checks.append((f"≤ {TIME_TARGETS[scenario]:g} s", row.seconds <= TIME_TARGETS[scenario]))
            checks.append((f"≤ {PEAK_RSS_TARGET_MB} MB", row.result["peak_rss_mb"] <= PEAK_RSS_TARGET_MB))
        small = _find(rows, row.label, reference)
        if small is not None and reference != largest:
            same = row.result["plan_queries"] == small.result["plan_queries"]
            checks.append((f"planner queries = {small.result['plan_queries']} (as at {reference:,})", same))
            extra_batches = _batches(row) - _batches(small)
            allowed = small.result["apply_queries"] + STATEMENTS_PER_BATCH * max(extra_batches, 0)
            checks.append((f"applier queries ≤ {allowed}", row.result["apply_queries"] <= allowed))
        # The targets are against django-import-export's default settings.
        other = _find(rows, f"django-import-export default: {scenario}", largest)
        if at_target and other is not None and scenario in RATIO_TARGETS:
            ratio = other.seconds / row.seconds
            wanted = RATIO_TARGETS[scenario]
            checks.append((f"≥ {wanted:g}× faster than import-export ({ratio:.0f}×)", ratio >= wanted))
        row.target = "; ".join(text for text, _ in checks)
        row.verdict = "PASS" if all(ok for _, ok in checks) else "FAIL"
        if not checks:
            row.verdict = ""


def _batches(row: Row) -> int:
    counts = row.result["counts"] or {}
    written = sum(counts.get(k, 0) for k in ("created", "linked", "updated", "deactivated", "reactivated"))
    return math.ceil(written / BATCH_ROWS)


# -- the table ------------------------------------------------------------------------


def machine_description(engine: str, database_url: str) -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    if engine == "postgres":
        import psycopg

        with psycopg.connect(database_url) as connection:
            version = connection.execute("SHOW server_version").fetchone()[0]
        database = f"PostgreSQL {version.split()[0]}"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"
    import django

    return (
        f"{os.cpu_count()} cores ({cpu or platform.machine()}){memory}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; Django {django.get_version()}; {database}"
    )


def render(rows: list[Row]) -> str:
    hrsync = {(r.people, r.label.split(": ", 1)[1]): r for r in rows if r.label.startswith("hrsync: ")}
    lines = [
        "| Scenario | People | Rows | Seconds | Rows/s | Queries (planner / applier / all) | Peak RSS MB | Target | |",
        "|---|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        result = row.result
        if "plan_queries" in result:
            queries = f"{result['plan_queries']} / {result['apply_queries']} / {result['queries']}"
        else:
            queries = str(result.get("queries", "—"))
        target, verdict = row.target, row.verdict
        if row.label.startswith("django-import-export"):
            ours = hrsync.get((row.people, row.label.split(": ", 1)[1]))
            if ours is not None:
                target = f"hrsync is {row.seconds / ours.seconds:.1f}× faster"
            if result.get("error"):
                target += f"; IE rolled the whole import back: {result['error'][:120]}"
        lines.append(
            f"| {row.label} | {row.people:,} | {row.rows:,} | {row.seconds:.2f} | "
            f"{row.rows / row.seconds:,.0f} | {queries} | {result['peak_rss_mb']:.0f} | {target} | {verdict} |"
        )
    return "\n".join(lines)


def render_pages(pages: list[tuple[int, dict[str, Any]]], *, largest: int) -> str:
    """The server's render of the first import's run page, per roster size."""
    lines = [
        "The first import's run page, rendered by the server (Django's test client, median of "
        "5 requests): its report lists one change per person.",
        "",
        "| Run page | People | Changes listed | Milliseconds | Queries | Target | |",
        "|---|--:|--:|--:|--:|---|---|",
    ]
    for people, result in pages:
        for page in result["pages"]:
            judged = people == largest
            verdict = ("PASS" if page["ms"] <= PAGE_TARGET_MS else "FAIL") if judged else ""
            lines.append(
                f"| {page['label']} | {people:,} | {result['listed']:,} | {page['ms']:.0f} | {page['queries']} | "
                f"{f'≤ {PAGE_TARGET_MS} ms' if judged else ''} | {verdict} |"
            )
    return "\n".join(lines)


def write_doc(engine: str, section: str) -> None:
    begin, end = f"<!-- bench:{engine} -->", f"<!-- /bench:{engine} -->"
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    block = f"{begin}\n{section.strip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


# -- main -------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Sync deterministic CSV rosters through hrsync and django-import-export; print the table.",
    )
    parser.add_argument("--people", type=int, nargs="+", default=[TARGET_PEOPLE],
                        help=f"roster sizes (default {TARGET_PEOPLE:,}); a {REFERENCE_PEOPLE:,}-person run "
                             "is always added as the reference for query counts")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/"),
                        help="the PostgreSQL server to create throwaway databases on (with --db postgres)")
    parser.add_argument("--workdir", default=str(ROOT / "var" / "bench"), help="where the rosters are written")
    parser.add_argument("--skip-import-export", action="store_true", help="leave out django-import-export")
    parser.add_argument("--no-write", action="store_true", help=f"print the table only; leave {DOC.name} alone")
    parser.add_argument("--personio", type=int, metavar="N",
                        help="instead: sync N people from a stand-in Personio through the Personio connector "
                             "(bench/personio.py), under Personio's rate limits")
    parser.add_argument("--xml", type=int, metavar="N",
                        help="instead: upload an N-employee XML employee file to an XML upload connection and "
                             "process it (bench/xml_upload.py): first import, the same file, a changed file")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    if args.personio:
        from bench.personio import scenario_run

        return scenario_run(args, say, argv)

    if args.xml:
        from bench.xml_upload import scenario_run as xml_scenario_run

        return xml_scenario_run(args, say, argv)

    if not args.skip_import_export:
        try:
            import import_export  # noqa: F401
        except ImportError:
            parser.error("django-import-export is not installed: run `python3 dev.py bench` (it installs the "
                         "bench extra), pip install -e '.[bench]', or pass --skip-import-export.")

    sizes = sorted({REFERENCE_PEOPLE, *args.people})
    rows: list[Row] = []
    #: (people, the pages probe's result) per roster size.
    pages: list[tuple[int, dict[str, Any]]] = []
    try:
        for people in sizes:
            rows.extend(bench_size(people, args, say, pages))
    except BenchError as exc:
        say(str(exc))
        return 2
    judge(rows, engine=args.db, largest=sizes[-1], reference=sizes[0])

    command = "python3 dev.py bench " + shlex.join(argv)
    section = "\n\n".join([
        f"## {'PostgreSQL' if args.db == 'postgres' else 'SQLite'}",
        f"Measured on {dt.date.today().isoformat()} with `{command.strip()}` on: "
        f"{machine_description(args.db, args.database_url)}.",
        render(rows),
        render_pages(pages, largest=sizes[-1]),
    ])
    print(section)
    if not args.no_write:
        write_doc(args.db, section)
        say(f"wrote {DOC.relative_to(ROOT)}")
    failed = [row.label for row in rows if row.verdict == "FAIL"]
    failed += [f"run page, {page['label']}" for people, result in pages for page in result["pages"]
               if people == sizes[-1] and page["ms"] > PAGE_TARGET_MS]
    if failed:
        say(f"FAIL: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
