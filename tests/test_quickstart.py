"""README quick start, command 1: `python3 dev.py start` on embedded defaults.

Starts dev.py as a user would (SQLite, filesystem broker, no servers), signs in
to the admin, syncs the bundled Sample connection through the real worker and
checks people arrived. Everything it creates lives in a temporary
HRSYNC_VAR_DIR; the processes are stopped whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "quick-start-Pa55word"
FINISHED_OK = {"succeeded", "completed_with_conflicts", "completed_with_errors"}
FINISHED_BAD = {"failed", "blocked", "cancelled", "rejected"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(var_dir: Path) -> dict[str, str]:
    """The environment of a fresh machine: no database, broker or secrets set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "HRSYNC_"))
    }
    env.update(
        HRSYNC_VAR_DIR=str(var_dir),
        HRSYNC_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    return env


def dotenv_overrides() -> set[str]:
    """Variables a developer's .env would add (settings.py reads it)."""
    path = ROOT / ".env"
    if not path.exists():
        return set()
    names = set()
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and not name.startswith("#") and value.strip():
            names.add(name.strip())
    return names & {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOWED_HOSTS", "DJANGO_DEBUG"}


class App:
    """The running `dev.py start`, and the CLI against the same data."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.env = env
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "dev.py", "start", "--no-install", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        """The start-up lines and the latest ones (a traceback can be long)."""
        self.log.flush()
        text = self.log_path.read_text(errors="replace")
        if len(text) <= 8000:
            return text
        return f"{text[:3000]}\n[…]\n{text[-5000:]}"

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- dev.py start output ---\n{self.output()}")

    def manage_json(self, *args: str):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            self.fail(
                f"`manage.py {' '.join(args)}` exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        try:
            return json.loads(result.stdout)
        except ValueError:
            self.fail(f"`manage.py {' '.join(args)}` did not print JSON:\n{result.stdout}")

    def wait_for_login_page(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"dev.py start exited with code {self.proc.returncode}")
            try:
                response = requests.get(f"{self.url}/accounts/login/", timeout=5)
            except requests.RequestException:  # not listening yet
                time.sleep(0.5)
                continue
            if response.status_code != 200:
                self.fail(f"/accounts/login/ answered {response.status_code}")
            return
        self.fail(f"/accounts/login/ did not answer 200 within {timeout:.0f} s")

    def stop(self) -> int | None:
        """SIGTERM dev.py (it stops its children); return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                return None
        return self.proc.returncode

    def kill_everything(self) -> None:
        """Last resort: kill dev.py's group and any child still using our var dir."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()
        marker = f"HRSYNC_VAR_DIR={self.env['HRSYNC_VAR_DIR']}".encode()
        for pid in _pids_with_environ(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.log.close()


def _pids_with_environ(marker: bytes) -> list[int]:
    """Processes (runserver, celery) started with this test's environment."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in pids if pid != os.getpid()]


def _items(payload, key: str) -> list[dict]:
    """Accept a bare JSON list or an object wrapping it ({"runs": [...]})."""
    if isinstance(payload, dict):
        payload = payload.get(key, [])
    return list(payload)


def sign_in(app: App) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{app.url}/admin/login/", timeout=10)
    assert page.status_code == 200, page.text[:500]
    response = session.post(
        f"{app.url}/admin/login/?next=/admin/",
        data={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text[:500]
    if urlpath(response.url) != "/admin/" or "sessionid" not in session.cookies:
        app.fail(f"signing in as admin failed; ended on {response.url}")
    return session


def urlpath(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0]


def sample_connection_id(app: App) -> int:
    connections = _items(app.manage_json("connections", "list", "--json"), "connections")
    samples = [c for c in connections if c.get("kind") == "sample"]
    if not samples:
        app.fail(f"demo_setup made no Sample connection; `connections list --json`: {connections}")
    return samples[0]["id"]


def wait_for_finished_run(app: App, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    runs: list[dict] = []
    while time.monotonic() < deadline:
        if app.proc.poll() is not None:
            app.fail(f"dev.py start exited with code {app.proc.returncode} during the sync")
        runs = _items(app.manage_json("runs", "list", "--json"), "runs")
        for run in runs:
            if run.get("status") in FINISHED_OK:
                return run
            if run.get("status") in FINISHED_BAD:
                app.fail(f"the sync ended {run['status']}: {run.get('error')!r}\n{run}")
        time.sleep(2)
    app.fail(f"no run finished within {timeout:.0f} s; runs: {runs}")


@pytest.mark.skipif(not Path("/proc").is_dir() or os.name != "posix", reason="POSIX only")
def test_dev_py_start_runs_web_and_worker_and_syncs_the_sample_connection(tmp_path):
    overridden = dotenv_overrides()
    if overridden:
        pytest.skip(f".env sets {', '.join(sorted(overridden))}: not a fresh machine")

    app = App(embedded_env(tmp_path / "var"), free_port(), tmp_path / "dev-start.log")
    try:
        app.wait_for_login_page()
        session = sign_in(app)

        connection_id = sample_connection_id(app)
        changelist = f"{app.url}/admin/connections/connection/"
        response = session.post(
            changelist,
            data={
                "action": "sync_all_now",
                "_selected_action": [str(connection_id)],
                "select_across": "0",
                "index": "0",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": changelist},
            timeout=30,
        )
        assert response.status_code == 200, response.text[:1000]
        assert "No action selected" not in response.text

        run = wait_for_finished_run(app)
        assert run.get("dry_run") is False, run

        people = _items(app.manage_json("people", "export", "--format", "json"), "people")
        assert people, "the sync finished but `people export` is empty"

        code = app.stop()
        if code != 0:
            app.fail(f"dev.py start did not stop cleanly on SIGTERM (exit code {code})")
    finally:
        app.kill_everything()
