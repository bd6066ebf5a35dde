"""Every page a staff member reads, at 1280 and 390 px, checked as a user sees it.

One browser context, one sign-in, every page of the URL walk (plus the
sign-in page and the "page expired" page), each loaded once and checked at
1280 px, then resized to 390 px and checked again. A page fails, naming the
URL, the width and the element, when:

* **it is wider than the screen**: ``document.documentElement.scrollWidth``
  is more than ``innerWidth``, so the whole page scrolls sideways;
* **something scrolls sideways without saying so**: the only element allowed
  to be wider inside than outside is a *scroll region*, a ``.table-wrap``
  that ``static/js/scroll_regions.js`` has marked ``data-scrolls="x"``,
  which also makes it focusable (``tabindex=0``), names it (``role=region``
  and an ``aria-label``) and shows a visible "more →" fade on the side that
  has more to see. Anything else with ``overflow-x: auto`` that overflows,
  fails;
* **text is clipped**: a table header or cell, button, tab, badge, chip,
  label or counter whose text overflows its own box (``scrollWidth >
  clientWidth + 1`` where its overflow is hidden or ellipsised, or the text's
  extent runs out of the box where overflow is visible), or whose box is cut
  by an ancestor that hides overflow (a scroll region is not a cut: the user
  can scroll to it); or a drop-down too narrow for the option it shows while
  it could be wider;
* **fields side by side do not line up**: in a ``.form-grid`` row, one
  field's input starts lower than its neighbour's (a label on two lines);
* **axe-core** reports a violation of impact *serious* or *critical*. Every
  one is listed: rule, help, the elements.

Skipping a check is possible only for one element, with the reason, in
``EXEMPT`` below; there is no way to switch an axe rule off for a page.

The world is ``tests/urlwalk.build_world`` made realistic here: long names,
a long email, a long job title and depot name, a run whose report has long
messages, values and warnings, a conflict with a long name. The
screenshots (``$HRSYNC_SCREENSHOTS_DIR/layout-<page>.png`` and
``…-390.png``) are rewritten by every run.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone

from connections.models import SyncRun
from connections.sync.changes import Action, Change, SyncPlan
from mappings.models import EmployeeMapping
from tests.browser.conftest import DESKTOP, PHONE, shoot, sign_in
from tests.factories import sync_run_report_store
from tests.urlwalk import EXPECTED, build_world, urls_for, walk

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect
except ImportError:  # without the test extras the ``browser`` fixture skips (fails in CI)
    Axe = expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.services

PASSWORD = "layout-Passw0rd"
WIDTHS = (DESKTOP, PHONE)
SERIOUS = frozenset({"serious", "critical"})

#: (CSS selector, check) → why that element may fail that check. Checks:
#: "clipped", "scrolls", "aligned". Keep it empty unless the failure is the design.
EXEMPT: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Shown:
    name: str  # the screenshot's name
    url: str


# -- the world -----------------------------------------------------------------------

LONG_FIRST = "Maximiliana-Josephine"
LONG_LAST = "Featherstonehaugh-Wolstenholme"
LONG_EMAIL = "maximiliana-josephine.featherstonehaugh-wolstenholme@northern-distribution.example.co.uk"
LONG_TITLE = "Senior Regional Warehouse Operations and Health & Safety Coordinator (Nights)"
LONG_DEPOT = "North West Regional Distribution Centre (Warrington, Cheshire)"
LONG_MESSAGE = (
    "The manager reference 'E-0099-NW' does not match anyone in this connection, so the manager was left "
    "unchanged; check the manager's employee number in the HR system and sync again."
)


def _make_it_realistic(w) -> None:
    """Long names, emails, titles and messages: the content that overflows."""
    w.depot.name = LONG_DEPOT
    w.depot.save(update_fields=["name"])
    w.person.first_name, w.person.last_name, w.person.email = LONG_FIRST, LONG_LAST, LONG_EMAIL
    w.person.job_title = LONG_TITLE
    w.person.save(update_fields=["first_name", "last_name", "email", "job_title"])
    w.mapping.remote_name, w.mapping.remote_email = f"{LONG_FIRST} {LONG_LAST}", LONG_EMAIL
    w.mapping.save(update_fields=["remote_name", "remote_email"])
    w.conflict.remote_name, w.conflict.remote_email = f"{LONG_FIRST} {LONG_LAST}", LONG_EMAIL
    w.conflict.message = f"Two records share {LONG_EMAIL}: link this record to the right person or ignore it."
    w.conflict.save(update_fields=["remote_name", "remote_email", "message"])
    EmployeeMapping.objects.create(
        connection=w.connection, remote_id="R-000000000042-NW", state=EmployeeMapping.State.CONFLICT,
        remote_name="Bartholomew Ignatius Quackenbush-Oyelaran", remote_email=f"b.quackenbush-{LONG_EMAIL}",
        remote_status="Active", message=LONG_MESSAGE,
    )

    now = timezone.now()
    name = f"{LONG_FIRST} {LONG_LAST}"
    changes = [
        Change(
            action=Action.UPDATE, remote_id="R1", person_id=w.person.pk, name=name, email=LONG_EMAIL,
            fields={
                "job_title": ["Warehouse Operative", LONG_TITLE],
                "email": ["m.featherstonehaugh@example.com", LONG_EMAIL],
                "custom.shift": ["early", "late-rotating-four-on-four-off"],
            },
            values={"job_title": LONG_TITLE, "email": LONG_EMAIL},
            warnings=[LONG_MESSAGE],
        ),
        Change(
            action=Action.CONFLICT, remote_id="R-000000000042-NW", email=f"b.quackenbush-{LONG_EMAIL}",
            name="Bartholomew Ignatius Quackenbush-Oyelaran", message=LONG_MESSAGE,
        ),
        Change(
            action=Action.ERROR, remote_id="R-000000000043-NW", name="Record without a usable email",
            message="The email 'not-an-email-address-at-all' is not a valid email address; this record was skipped.",
        ),
    ] + [
        Change(
            action=Action.CREATE, remote_id=f"N{i:03}", email=f"new.starter.{i:03}@northern-distribution.example.co.uk",
            name=f"New Starter Number {i:03} Longsurname",
            fields={"first_name": [None, "New Starter"], "job_title": [None, LONG_TITLE]},
            values={"first_name": "New Starter", "job_title": LONG_TITLE},
        )
        for i in range(8)
    ]
    plan = SyncPlan(changes=changes, employees_planned=True, mapped_count=2)
    w.long_run = SyncRun.objects.create(
        connection=w.connection, requested_by=w.staff, started_at=now - dt.timedelta(minutes=5),
        finished_at=now - dt.timedelta(minutes=4), counts=plan.count(),
        status=SyncRun.Status.COMPLETED_WITH_ERRORS, error=LONG_MESSAGE,
    )
    SyncRun.objects.filter(pk=w.long_run.pk).update(created_at=now - dt.timedelta(minutes=5))  # queued, then started
    sync_run_report_store(run=w.long_run, report=plan.to_report())
    w.runs = (*w.runs, w.long_run)


@pytest.fixture
def world(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # sign-ins are not under test
    world = build_world()
    world.superuser.set_password(PASSWORD)
    world.superuser.save(update_fields=["password"])
    _make_it_realistic(world)
    return world


def staff_pages(world) -> list[Shown]:
    """The URL walk's pages that a staff member reads as HTML, each with a screenshot name."""
    shown = []
    for route in walk():
        access = EXPECTED[route.key]
        if not (access.staff_reads_it and access.staff.content_type == "text/html"):
            continue
        urls = urls_for(route, world)
        for index, url in enumerate(urls):
            slug = route.key.replace(":", "-").strip("/") or "root"
            shown.append(Shown(f"layout-{slug}" + (f"-{index + 1}" if len(urls) > 1 else ""), url))
    return shown


# -- the checks ------------------------------------------------------------------------

#: Runs in the page; returns a list of problems, each naming the element.
LAYOUT_SCRIPT = r"""
(exemptions) => {
  const problems = [];
  const width = window.innerWidth;
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += "#" + el.id;
    if (el.classList.length) name += "." + Array.from(el.classList).join(".");
    const text = (el.textContent || el.getAttribute("aria-label") || "").trim().replace(/\s+/g, " ");
    return text ? `${name} "${text.slice(0, 60)}${text.length > 60 ? "…" : ""}"` : name;
  };
  const exempt = (el, check) => exemptions.some(([selector, c]) => c === check && el.matches(selector));
  const hiddenOnPurpose = (el) => {
    // Not shown (display: none, hidden, a closed menu) or visually hidden for screen readers.
    if (!el.checkVisibility({visibilityProperty: true})) return true;
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.clip !== "auto" && style.position === "absolute") return true;
      if (style.display === "contents" || style.display === "inline") continue;  // no box of its own to measure
      const box = a.getBoundingClientRect();
      if (box.width <= 1 || box.height <= 1) return true;
    }
    return false;
  };
  // Where the text shown inside el reaches, left and right (null if none is shown): text in a
  // <select> is its options, and visually hidden text is for screen readers only.
  const textExtent = (el) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let left = Infinity, right = -Infinity;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.data.trim() || node.parentElement.closest("select, option, script, template")) continue;
      if (hiddenOnPurpose(node.parentElement)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const box = range.getBoundingClientRect();
      if (!box.width) continue;
      left = Math.min(left, box.left); right = Math.max(right, box.right);
    }
    return right > left ? {left, right} : null;
  };
  const scrolls = (style) => style.overflowX === "auto" || style.overflowX === "scroll";
  const cuts = (style) => style.overflowX === "hidden" || style.overflowX === "clip";

  // 1. The page itself is wider than the screen: name the widest elements that stick out.
  const pageWidth = document.documentElement.scrollWidth;
  if (pageWidth > width) {
    const outside = [];
    for (const el of document.body.querySelectorAll("*")) {
      if (hiddenOnPurpose(el)) continue;
      let inRegion = false;
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (scrolls(getComputedStyle(a))) { inRegion = true; break; }
      }
      if (inRegion) continue;
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 && !Array.from(el.children).some((c) => c.getBoundingClientRect().right > width + 1)) {
        outside.push(`${describe(el)} (to ${Math.round(box.right)} px)`);
      }
    }
    problems.push(`the page is ${pageWidth} px wide on a ${width} px screen; sticking out: ` +
      (outside.slice(0, 6).join("; ") || "nothing visible"));
  }

  // 2. Something scrolls sideways: only a marked, focusable, named scroll region may.
  for (const el of document.body.querySelectorAll("*")) {
    const style = getComputedStyle(el);
    if (!scrolls(style) || el.scrollWidth <= el.clientWidth + 1 || hiddenOnPurpose(el)) continue;
    if (exempt(el, "scrolls")) continue;
    const marked = el.matches('.table-wrap[data-scrolls~="x"][tabindex="0"][role="region"][aria-label]');
    if (!marked) problems.push(`${describe(el)} scrolls sideways (${el.scrollWidth} px in ${el.clientWidth} px) ` +
      "but is not a marked scroll region (focusable, named, with its fade)");
  }

  // 3. Clipped text: headers, cells, buttons, tabs, badges, chips, labels, counters.
  const targets = "th, td, button, .button, .tabs a, .mainnav a, .badge, .kind, .pill, .chips a, label, .stat, " +
    ".pagination a, .pagination span";
  for (const el of document.querySelectorAll(targets)) {
    if (hiddenOnPurpose(el) || exempt(el, "clipped")) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if ((cuts(style) || style.textOverflow === "ellipsis") && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${describe(el)} is cut off: its text needs ${el.scrollWidth} px, it has ${el.clientWidth} px`);
      continue;
    }
    if (!scrolls(style)) {
      const text = textExtent(el);
      if (text && (text.right > box.right + 1 || text.left < box.left - 1)) {
        problems.push(`${describe(el)}: its text runs out of its box (${Math.round(text.left)}–` +
          `${Math.round(text.right)} px in ${Math.round(box.left)}–${Math.round(box.right)} px)`);
        continue;
      }
    }
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const outer = getComputedStyle(a);
      if (scrolls(outer)) break;  // the user can scroll to it
      if (!cuts(outer)) continue;
      const edge = a.getBoundingClientRect();
      if (box.right > edge.right + 1 || box.left < edge.left - 1) {
        problems.push(`${describe(el)} is cut off by ${describe(a).split(" ")[0]} ` +
          `(${Math.round(box.left)}–${Math.round(box.right)} px in ${Math.round(edge.left)}–${Math.round(edge.right)} px)`);
      }
      break;
    }
  }
  // 4. A drop-down shows its chosen option in its own box: it is cut when that text is wider
  // than the room beside the arrow (Chromium draws the arrow in about 16 px of the box) and the
  // drop-down could be wider, i.e. it does not already fill the box it sits in (a table cell
  // is not such a box: the table could give it more room). An option longer than the whole
  // screen can only be cut; the open list shows it whole.
  const measure = document.createElement("canvas").getContext("2d");
  const fillsItsBox = (el) => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.display.startsWith("table") || style.display === "contents" || style.display.startsWith("inline")) continue;
      const room = a.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return el.getBoundingClientRect().width >= room - 1;
    }
    return true;
  };
  for (const select of document.querySelectorAll("select")) {
    const option = select.selectedOptions[0];
    if (!option || select.multiple || select.size > 1 || hiddenOnPurpose(select) || exempt(select, "clipped")) continue;
    const style = getComputedStyle(select);
    measure.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
    const need = measure.measureText(option.text).width;
    if (need > room + 1 && !fillsItsBox(select)) {
      problems.push(`${describe(select).split(" ")[0]} showing "${option.text}" is cut off: ` +
        `it needs ${Math.round(need)} px, it has ${Math.round(room)} px`);
    }
  }
  // 5. Fields side by side (a .form-grid row): their inputs start at the same height, whatever
  // the length of their labels.
  for (const grid of document.querySelectorAll(".form-grid")) {
    const rows = new Map();
    for (const field of grid.children) {
      const control = field.querySelector("input:not([type=hidden]), select, textarea");
      if (!control || hiddenOnPurpose(control) || exempt(field, "aligned")) continue;
      const top = Math.round(field.getBoundingClientRect().top);
      if (!rows.has(top)) rows.set(top, []);
      rows.get(top).push(control);
    }
    for (const controls of rows.values()) {
      const tops = controls.map((c) => Math.round(c.getBoundingClientRect().top));
      if (Math.max(...tops) - Math.min(...tops) > 1) {
        problems.push(`fields side by side do not line up: ${controls.map((c) => describe(c).split(" ")[0]).join(", ")} ` +
          `start at ${tops.join(", ")} px`);
      }
    }
  }
  return problems;
}
"""


def layout_problems(page: Page) -> list[str]:
    return page.evaluate(LAYOUT_SCRIPT, [list(key) for key in EXEMPT])


def accessibility_problems(page: Page, axe_script: str) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now.

    The script goes in through ``page.evaluate`` (DevTools, which the page's
    Content-Security-Policy does not govern), once per document.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_script)
    violations = page.evaluate("() => axe.run({resultTypes: ['violations']})")["violations"]
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']} — "
        + ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:8])
        + (f" and {len(v['nodes']) - 8} more" if len(v["nodes"]) > 8 else "")
        for v in violations
        if v["impact"] in SERIOUS
    ]


def check_at_each_width(page: Page, shown: Shown, axe_script: str) -> list[str]:
    """Check the loaded page at each width in turn (resized, not reloaded), with a screenshot of each."""
    found = []
    for viewport in WIDTHS:
        page.set_viewport_size(viewport)
        # Let resize observers (the scroll regions) run and the page lay out at this width.
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        problems = layout_problems(page) + accessibility_problems(page, axe_script)
        found += [f"{shown.url} at {viewport['width']} px: {problem}" for problem in problems]
        shoot(page, shown.name, width=None if viewport == DESKTOP else viewport["width"])
    return found


def open_page(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, f"GET {url}: {response and response.status}"


def show_expired_page(page: Page) -> None:
    """Post the sign-in form without its CSRF token: Django answers with 403_csrf.html."""
    page.goto("/accounts/login/")
    page.evaluate("() => document.querySelector('input[name=csrfmiddlewaretoken]').remove()")
    with page.expect_navigation():
        page.evaluate("() => document.querySelector('main form').submit()")
    assert "expired" in page.title().lower()


# -- the test ---------------------------------------------------------------------------


def test_every_page_fits_the_screen_clips_no_text_and_has_no_serious_accessibility_problem_at_1280_and_390_px(
    page: Page, world
):
    assert Axe is not None, "axe-playwright-python (the test extras) is needed"
    axe_script = Axe().axe_script
    problems: list[str] = []

    open_page(page, "/accounts/login/")
    problems += check_at_each_width(page, Shown("layout-login-signed-out", "/accounts/login/"), axe_script)
    show_expired_page(page)
    problems += check_at_each_width(page, Shown("layout-page-expired", "(a form posted without its token)"), axe_script)

    sign_in(page, world.superuser.username, PASSWORD)
    for shown in staff_pages(world):
        open_page(page, shown.url)
        problems += check_at_each_width(page, shown, axe_script)

    assert not problems, f"{len(problems)} layout or accessibility problems:\n  " + "\n  ".join(problems)


def test_the_layout_check_sees_clipped_text_a_page_wider_than_the_screen_and_an_unmarked_scroller(page: Page):
    """The checks themselves: each defect, planted on a real page, is reported by name."""
    open_page(page, "/accounts/login/")
    page.evaluate(
        """() => {
          document.querySelector("main").insertAdjacentHTML("beforeend",
            '<table class="table" id="narrow"><thead><tr><th id="hidden-header">Requested by someone</th>' +
            '<th id="spilling-header">Requested by someone</th></tr></thead></table>' +
            '<div id="scroller"><p id="wide">wide</p></div><p id="sticks-out">out</p>');
          // Set through the CSSOM, which the Content-Security-Policy allows (style= would not be).
          const table = document.getElementById("narrow");
          table.style.tableLayout = "fixed"; table.style.width = "12rem";
          for (const th of table.querySelectorAll("th")) th.style.whiteSpace = "nowrap";
          document.getElementById("hidden-header").style.overflow = "hidden";
          document.getElementById("scroller").style.cssText = "overflow-x: auto; width: 10rem";
          document.getElementById("wide").style.width = "40rem";
          document.getElementById("sticks-out").style.width = "3000px";
        }"""
    )
    problems = "\n".join(layout_problems(page))

    assert re.search(r'th#hidden-header "Requested by someone" is cut off', problems), problems
    assert re.search(r'th#spilling-header "Requested by someone": its text runs out of its box', problems), problems
    assert re.search(r"div#scroller .* is not a marked scroll region", problems), problems
    assert re.search(r"the page is \d+ px wide on a 1280 px screen; sticking out: p#sticks-out", problems), problems


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_on_a_phone_every_connection_tab_is_in_sight_and_the_current_one_stands_out(
    browser, live_server, _browser_settings, world, javascript
):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=javascript)
    try:
        page = context.new_page()
        sign_in(page, world.superuser.username, PASSWORD)
        page.goto(f"/connections/{world.connection.pk}/runs/")

        tabs = page.get_by_role("navigation", name="Connection")
        assert tabs.evaluate("(nav) => nav.scrollWidth <= nav.clientWidth"), "the tabs scroll sideways"
        links = tabs.get_by_role("link")
        assert links.count() >= 5
        for index in range(links.count()):
            box = links.nth(index).bounding_box()
            label = links.nth(index).inner_text()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{label!r} is out of sight"
            assert links.nth(index).evaluate("(a) => a.scrollWidth <= a.clientWidth"), f"{label!r} is cut off"
        current = tabs.locator('[aria-current="page"]')
        assert current.inner_text() == "Runs"
        background = current.evaluate("(a) => getComputedStyle(a).backgroundColor")
        other = tabs.locator("a:not([aria-current])").first
        assert background != other.evaluate("(a) => getComputedStyle(a).backgroundColor")
    finally:
        context.close()


def test_a_table_wider_than_a_phone_becomes_a_named_focusable_scroll_region_that_fades_where_there_is_more(
    page: Page, world
):
    sign_in(page, world.superuser.username, PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto("/people/")
    wrap = page.get_by_role("region", name="People, page 1 of 1 (scrolls sideways)")

    expect(wrap).to_have_attribute("tabindex", "0")
    expect(wrap).to_have_attribute("data-scroll-at", "start")
    assert "linear-gradient" in wrap.evaluate("(el) => getComputedStyle(el).maskImage")
    wrap.focus()
    expect(wrap).to_be_focused()  # so the arrow keys scroll it
    wrap.evaluate("(el) => el.scrollTo({left: el.scrollWidth})")
    expect(wrap).to_have_attribute("data-scroll-at", "end")

    page.set_viewport_size(DESKTOP)  # the table fits: it is a plain table again
    expect(page.locator(".table-wrap")).not_to_have_attribute("data-scrolls", "x")
    expect(page.locator(".table-wrap")).not_to_have_attribute("role", "region")
