"""The browser-test harness: Debian's Chromium driven by Playwright for Python.

What the fixtures give a test:

* ``browser`` (package-scoped): headless Chromium launched from the system
  browser (``/usr/bin/chromium``, or ``$HRSYNC_CHROMIUM``) through the
  Playwright driver bundled in the wheel. ``playwright install`` is never
  needed. Without the browser or the package the tests skip, except under
  ``HRSYNC_REQUIRE_SERVICES=1`` (CI), where they fail (``need_service``).
* ``page``: a fresh browser context (its own cookies) 1280 px wide, pointed at
  pytest-django's ``live_server``, with a 10 s default timeout for actions and
  ``expect`` assertions. Every Content-Security-Policy violation on any of its
  pages (Chromium's console error about it) is collected, and the test fails
  when there is one, even if every assertion held.
* ``staff_user`` and ``signed_in_page``: a staff login, signed in through the
  real login form.
* ``fake_actionhrm``: a stand-in ActionHRM on 127.0.0.1 (``fake_actionhrm.py``).
* ``fake_personio``: a stand-in Personio (API v1) on 127.0.0.1 with 12 people
  and no time-offs (``tests/connectors/personio/fake_personio.py``); a test
  may change ``employees`` and ``time_offs`` between syncs.
* ``sshd`` (from ``tests/conftest.py``): a real OpenSSH server on a loopback port, for CSV files over SFTP
  (``tests/connectors/csv_file/servers.py``; skips without sshd or root,
  except in CI).
* ``shoot(page, name)``: a full-page PNG in ``$HRSYNC_SCREENSHOTS_DIR``
  (default ``artifacts/screenshots``, which git ignores); ``width=390`` for
  the phone-sized one. A failing test also leaves ``FAILED-<test>.png`` there.
  ``test_page_layout.py`` rewrites ``layout-<page>.png`` and
  ``layout-<page>-390.png`` for every page on each run.

Layout and accessibility (page too wide, clipped text, axe-core's serious and
critical violations) are checked for every page in ``test_page_layout.py``;
its docstring gives the rules.

The app runs in ``live_server``: a real HTTP server in a thread of this
process, on the test database (transactional: every request commits for real,
and the tables are flushed after each test).

Celery: tests/conftest.py puts Celery in eager mode. Runs are enqueued with
``transaction.on_commit``; under ``live_server`` a request's transaction
really commits, so ``on_commit`` fires and the eager task runs the whole sync
inside that request, before its redirect is sent. So when the browser lands on
the next page the run has finished — no worker, no polling needed here.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.fake_actionhrm import FakeActionHRM
from tests.connectors.personio.fake_personio import FakePersonio, fake_personio_roster
from tests.conftest import need_service

try:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright
except ImportError:  # the test extras are not installed
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HRSYNC_CHROMIUM") or "/usr/bin/chromium"
# Headless, and nothing that phones home or needs a desktop session: the
# machine running the tests may have no network, no GPU and a tiny /dev/shm.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

STAFF_USERNAME = "ada"
STAFF_PASSWORD = "browser-test-Passw0rd"


def screenshots_dir() -> Path:
    path = Path(os.environ.get("HRSYNC_SCREENSHOTS_DIR") or ROOT / "artifacts" / "screenshots")
    if not path.is_absolute():
        path = ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def shoot(page: Page, name: str, *, width: int | None = None) -> Path:
    """Save a full-page screenshot of ``page`` as ``<name>.png``; return its path.

    ``width`` (e.g. 390) takes it at that viewport width instead, as
    ``<name>-<width>.png``, then puts the desktop size back.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    if width is None:
        path = screenshots_dir() / f"{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    path = screenshots_dir() / f"{slug}-{width}.png"
    previous = page.viewport_size or DESKTOP
    page.set_viewport_size({**PHONE, "width": width})
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(previous)
    return path


# -- the browser ------------------------------------------------------------------


@pytest.fixture(scope="package")
def _allow_django_in_playwright_thread() -> Iterator[None]:
    """Let Django touch the database while Playwright's sync API is active.

    Playwright's sync API drives an asyncio event loop on this thread (in a
    greenlet) from ``start()`` to ``stop()``, so for that whole time
    ``asyncio.get_running_loop()`` succeeds here and Django's ORM, seeing a
    "running event loop", raises SynchronousOnlyOperation for the test's own
    queries and pytest-django's flushes. Nothing here is actually async, so
    tell Django so — for this package's tests only, then put it back.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(_allow_django_in_playwright_thread) -> Iterator[Browser]:
    need_service(sync_playwright is not None, "Playwright for Python (the test extras)")
    found = shutil.which(CHROMIUM) if os.sep not in CHROMIUM else CHROMIUM
    need_service(
        bool(found) and os.access(found, os.X_OK),
        f"Chromium ({CHROMIUM}; on Debian: apt-get install chromium)",
    )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=found, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # Checked as part of the test itself, so a violation fails the test
    # (rather than erroring in teardown) even when every assertion held.
    result = yield
    violations = getattr(item, "csp_violations", None)
    if violations:
        pytest.fail(
            "The Content-Security-Policy refused something on a page:\n  " + "\n  ".join(violations),
            pytrace=False,
        )
    return result


def _collect_csp_violations(context: BrowserContext, violations: list[str]) -> None:
    # Chromium reports every refusal of the policy as a console error, for
    # every page and frame of the context, whatever the page's own scripts do.
    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            where = message.location
            violations.append(f"{where['url']}:{where['lineNumber']}: {message.text}")

    context.on("console", console)


@pytest.fixture
def _browser_settings(settings) -> None:
    """Settings the browser tests need, whatever the environment says.

    * The fake ActionHRM speaks plain http on 127.0.0.1, which the ActionHRM
      Base URL accepts only with this setting (or DEBUG, which pytest-django
      turns off).
    * CI runs in deployed mode (DATABASE_URL set), where cookies are
      Secure-only; ``live_server`` is plain http, so turn that off here.
    """
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def page(browser: Browser, live_server, _browser_settings, request) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url,
        viewport=DESKTOP,
        accept_downloads=True,
        locale="en-GB",
        timezone_id="UTC",
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    request.node.csp_violations = []
    _collect_csp_violations(context, request.node.csp_violations)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "_report_call", None)
        if report is not None and report.failed:
            try:
                shoot(page, f"FAILED-{request.node.name}")
            except Exception:  # noqa: BLE001 - a failure screenshot is best effort
                pass
        context.close()


# -- people and places --------------------------------------------------------------


@pytest.fixture
def staff_user(transactional_db, django_user_model):
    return django_user_model.objects.create_user(
        username=STAFF_USERNAME,
        password=STAFF_PASSWORD,
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        is_staff=True,
    )


def sign_in(page: Page, username: str = STAFF_USERNAME, password: str = STAFF_PASSWORD) -> None:
    """Sign in through the login form, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def signed_in_page(page: Page, staff_user) -> Page:
    sign_in(page)
    return page


@pytest.fixture
def fake_actionhrm() -> Iterator[FakeActionHRM]:
    with FakeActionHRM(username="api-user", password="correct-horse-battery") as server:
        yield server


@pytest.fixture
def fake_personio() -> Iterator[FakePersonio]:
    with FakePersonio(
        client_id="hrsync-browser", client_secret="personio-Secret-0123", employees=fake_personio_roster(12)
    ) as server:
        yield server


@pytest.fixture(name="shoot")
def shoot_fixture() -> Callable[..., Path]:
    return shoot


@pytest.fixture
def started_at() -> float:
    # Screenshots must be newer than this: a stale PNG from an earlier run is
    # not evidence that this run took it.
    return time.time() - 1
