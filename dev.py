#!/usr/bin/env python3
"""Run hrsync on this machine with nothing but Python 3.11+.

    python3 dev.py start   start the web UI and the background worker (with its
                           scheduler) on SQLite, with a Sample connection to sync
    python3 dev.py test    install the test tools and run the whole test suite
    python3 dev.py bench   measure sync speed on large rosters (docs/PERFORMANCE.md)

Each command creates a virtual environment in .venv next to this file on first
use and install hrsync into it; later runs skip the install until
pyproject.toml changes. This script itself uses only the standard library.

start [--host 127.0.0.1] [--port 8000]
    Migrates the database, runs `manage.py demo_setup` (an `admin` superuser and
    a "Sample HR data" connection, once), then runs the web server and a Celery
    worker with embedded beat until Ctrl-C. Data, generated keys and the queue
    live in HRSYNC_VAR_DIR (default: ./var).

test [pytest arguments...]
    Runs `python -m pytest` with the arguments given and exits with its code.

bench [--people N ...] [--db sqlite|postgres] [...]
    Installs the benchmark's extra (django-import-export, for comparison) and
    runs `python -m bench` with the arguments given: deterministic rosters
    synced through the CSV connector, timed, and written to
    docs/PERFORMANCE.md. `--personio N` syncs N people from a stand-in
    Personio instead, under Personio's rate limits; `--xml N` uploads an
    N-employee XML employee file to an XML upload connection instead.
    `python3 dev.py bench --help` lists its options.

Options for every command:
    --no-install   use the Python running this script as is: no .venv, no pip
                   (the test suite starts `dev.py start` this way)
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):
    sys.exit(
        "hrsync needs Python 3.11 or newer; this is Python "
        f"{sys.version.split()[0]} ({sys.executable}).\n"
        "Install a newer Python and run this script with it, e.g. `python3.11 dev.py start`."
    )

import argparse
import base64
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / "hrsync-install.json"
PYPROJECT = ROOT / "pyproject.toml"
IS_WINDOWS = os.name == "nt"


class Stop(Exception):
    """Raised by the SIGTERM/SIGHUP handler to leave the supervision loop."""


def say(message: str) -> None:
    print(f"hrsync: {message}", flush=True)


def fail(message: str, code: int = 1) -> None:
    print(f"hrsync: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


# -- The virtual environment ------------------------------------------------


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if IS_WINDOWS else "bin/python")


def project_python(*, extras: tuple[str, ...], install: bool) -> str:
    """Return the Python that has hrsync (and ``extras``) installed."""
    if not install:
        return sys.executable
    python = venv_python()
    if not python.exists():
        say(f"creating a virtual environment in {VENV}")
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if result.returncode != 0 or not python.exists():
            fail(
                "could not create the virtual environment. On Debian/Ubuntu install the "
                "python3-venv package, remove the .venv folder and try again."
            )
    install_project(python, extras)
    return str(python)


def install_project(python: Path, extras: tuple[str, ...]) -> None:
    """pip install -e . (with extras), unless the stamp says it is done already."""
    digest = hashlib.sha256(PYPROJECT.read_bytes()).hexdigest()
    stamp = read_stamp()
    installed = set(stamp.get("extras", [])) if stamp.get("pyproject") == digest else None
    if installed is not None and set(extras) <= installed:
        return
    check_venv_python(python)
    wanted = sorted(set(extras) | (installed or set()))
    target = "." + (f"[{','.join(wanted)}]" if wanted else "")
    say(f"installing hrsync{target[1:]} and its dependencies into .venv (first run only)")
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if subprocess.run([*command, "-e", target], cwd=ROOT).returncode != 0:
        fail("installing the dependencies failed (see pip's message above).")
    STAMP.write_text(json.dumps({"pyproject": digest, "extras": wanted}) + "\n")


def read_stamp() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def check_venv_python(python: Path) -> None:
    probe = [str(python), "-c", "import sys; sys.exit(sys.version_info < (3, 11))"]
    try:
        ok = subprocess.run(probe).returncode == 0
    except OSError:
        ok = False
    if not ok:
        fail(f"{VENV} does not hold a working Python 3.11+. Remove that folder and try again.")


# -- start --------------------------------------------------------------------


def var_dir() -> Path:
    # Resolved against the caller's working directory, like settings.py does,
    # then handed to the children as an absolute path.
    return Path(os.environ.get("HRSYNC_VAR_DIR") or ROOT / "var").resolve()


def child_env(var: Path) -> dict[str, str]:
    env = dict(os.environ, HRSYNC_VAR_DIR=str(var), PYTHONUNBUFFERED="1")
    env.setdefault("DJANGO_SETTINGS_MODULE", "hrsync.settings")
    return env


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def browse_address(host: str, port: int) -> str:
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def manage(python: str, env: dict[str, str], *args: str) -> None:
    """Run a management command in the foreground; stop dev.py if it fails."""
    result = subprocess.run([python, "manage.py", *args], cwd=ROOT, env=env)
    if result.returncode != 0:
        fail(f"`manage.py {' '.join(args)}` failed with exit code {result.returncode}.")


def spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    # Each child leads its own process group, so stopping it also stops
    # whatever it forked (celery's embedded beat), and a Ctrl-C in the
    # terminal reaches dev.py only, which then stops the children in order.
    if IS_WINDOWS:
        flags = subprocess.CREATE_NEW_PROCESS_GROUP
        return subprocess.Popen(command, cwd=ROOT, env=env, creationflags=flags)
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    # Signal the group even when its leader has exited: celery's embedded
    # beat may outlive a worker that crashed.
    try:
        if not IS_WINDOWS:
            os.killpg(proc.pid, sig)
        elif proc.poll() is None:
            proc.terminate()
    except OSError:  # nobody left in the group
        pass


def stop_all(children: dict[str, subprocess.Popen], grace: float = 15.0) -> None:
    """SIGTERM every child's group, wait up to ``grace`` seconds, then SIGKILL."""
    for proc in children.values():
        signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    try:
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        say("stopping immediately")
    for proc in children.values():
        signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
        proc.wait()


def wait_until_listening(host: str, port: int, children: dict[str, subprocess.Popen]) -> bool:
    address = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in children.values()):
            return False
        try:
            with socket.create_connection((address, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def print_banner(url: str) -> None:
    if os.environ.get("HRSYNC_ADMIN_PASSWORD"):
        password = "the password in HRSYNC_ADMIN_PASSWORD"
    else:
        password = "the password printed above when the account was created"
    print(
        f"\n  hrsync is running at {url}\n"
        f"  Sign in as \"admin\" with {password}.\n"
        "  To sync: Connections → tick \"Sample HR data\" → action \"Sync all data now\".\n"
        "  Press Ctrl-C to stop.\n",
        flush=True,
    )


def supervise(children: dict[str, subprocess.Popen]) -> int:
    """Wait until a child exits (an error) or dev.py is told to stop (fine)."""
    try:
        while True:
            for name, proc in children.items():
                code = proc.poll()
                if code is not None:
                    others = [other for other in children if other != name]
                    say(f"the {name} exited with code {code}; stopping the {', '.join(others)}.")
                    stop_all(children)
                    return 1
            time.sleep(0.5)
    except (KeyboardInterrupt, Stop):
        say("stopping…")
        stop_all(children)
        say("stopped.")
        return 0


def cmd_start(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dev.py start", description="Run hrsync locally.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--no-install", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    python = project_python(extras=(), install=not args.no_install)
    var = var_dir()
    env = child_env(var)
    if os.environ.get("DATABASE_URL"):
        say("DATABASE_URL is set: using that database instead of SQLite")
    else:
        say(f"data lives in {var}")
    if not port_is_free(args.host, args.port):
        fail(f"port {args.port} on {args.host} is in use; pick another with --port.")

    manage(python, env, "migrate", "--noinput")
    manage(python, env, "demo_setup")

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _raise_stop)
    address = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
    children: dict[str, subprocess.Popen] = {}
    try:
        children["web server"] = spawn(
            [python, "manage.py", "runserver", address, "--noreload"], env
        )
        children["worker"] = spawn(
            [
                python, "-m", "celery", "-A", "hrsync", "worker", "-B",
                "--pool=solo", "--loglevel=INFO",
                # One worker on one machine: no peers to sync with.
                "--without-mingle", "--without-gossip",
                f"--schedule={var / 'celerybeat-schedule'}",
            ],
            env,
        )
        if wait_until_listening(args.host, args.port, children):
            print_banner(browse_address(args.host, args.port))
    except (KeyboardInterrupt, Stop):
        stop_all(children)
        return 0
    return supervise(children)


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop


# -- test ---------------------------------------------------------------------


def test_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if env.get("DATABASE_URL"):
        # DATABASE_URL switches settings.py to deployed mode, which has no
        # default for secrets: give the run throwaway ones. setdefault, so
        # values exported by the caller win. SSL redirect off, or the test
        # client would be redirected to https; static files from the source
        # tree, so the suite never needs `collectstatic`.
        env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
        env.setdefault("HRSYNC_ENCRYPTION_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
        env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
        env.setdefault("DJANGO_STATIC_MANIFEST", "false")
    return env


def cmd_test(argv: list[str]) -> int:
    install = True
    while argv and argv[0] == "--no-install":
        install, argv = False, argv[1:]
    python = project_python(extras=("test",), install=install)
    say(f"running the test suite: pytest {' '.join(argv)}".rstrip())
    proc = subprocess.Popen([python, "-m", "pytest", *argv], cwd=ROOT, env=test_env())
    while True:
        try:
            # pytest is in our process group and handles Ctrl-C itself.
            return proc.wait()
        except KeyboardInterrupt:
            continue


# -- bench --------------------------------------------------------------------


def cmd_bench(argv: list[str]) -> int:
    install = True
    while argv and argv[0] == "--no-install":
        install, argv = False, argv[1:]
    python = project_python(extras=("bench",), install=install)
    return subprocess.run([python, "-m", "bench", *argv], cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode


# -- main -----------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "start":
        return cmd_start(rest)
    if command == "test":
        return cmd_test(rest)
    if command == "bench":
        return cmd_bench(rest)
    print(f"hrsync: unknown command {command!r}\n\n{__doc__.strip()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
