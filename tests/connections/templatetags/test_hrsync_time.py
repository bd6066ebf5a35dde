"""``relative``: times as a person says them, never "0 minutes ago"."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import timezone

from connections.templatetags.hrsync_time import relative_time

NOW = dt.datetime(2026, 12, 1, 14, 5, 30, tzinfo=dt.UTC)
NBSP = "\xa0"


@pytest.mark.parametrize(
    ("ago", "said"),
    [
        (dt.timedelta(seconds=0), "just now"),
        (dt.timedelta(seconds=59), "just now"),
        (dt.timedelta(seconds=60), f"1{NBSP}minute ago"),
        (dt.timedelta(minutes=2, seconds=59), f"2{NBSP}minutes ago"),
        (dt.timedelta(minutes=59, seconds=59), f"59{NBSP}minutes ago"),
        (dt.timedelta(hours=1), f"1{NBSP}hour ago"),
        (dt.timedelta(hours=11, minutes=59), f"11{NBSP}hours ago"),
        (dt.timedelta(hours=13), f"13{NBSP}hours ago"),  # 01:05 the same day
        (dt.timedelta(hours=15), "yesterday"),  # 23:05 the day before
        (dt.timedelta(days=1, hours=14), "yesterday"),
        (dt.timedelta(days=3), f"3{NBSP}days ago"),
        (dt.timedelta(days=30), f"30{NBSP}days ago"),
        (dt.timedelta(days=45), "on 17 Oct 2026"),
        (-dt.timedelta(seconds=20), "in a moment"),
        (-dt.timedelta(minutes=5), f"in 5{NBSP}minutes"),
        (-dt.timedelta(hours=3), f"in 3{NBSP}hours"),
        (-dt.timedelta(hours=20), "tomorrow"),
        (-dt.timedelta(days=4), f"in 4{NBSP}days"),
    ],
)
def test_a_time_reads_as_a_person_says_it(ago, said, settings):
    settings.TIME_ZONE = "UTC"
    assert relative_time(NOW - ago, now=NOW) == said


def test_no_time_ever_reads_zero_minutes_ago():
    said = {relative_time(NOW - dt.timedelta(seconds=s), now=NOW) for s in range(0, 7200, 7)}
    assert not any(text.startswith("0") for text in said)
    assert not any(" 0" in text or f"{NBSP}0" in text for text in said)


def test_the_filter_gives_a_time_element_with_the_date_as_its_tooltip(settings):
    settings.TIME_ZONE = "Europe/London"
    finished = timezone.now() - dt.timedelta(seconds=5)

    html = Template("{% load hrsync_time %}{{ when|relative }}").render(Context({"when": finished}))

    local = timezone.localtime(finished)
    assert html == (
        f'<time datetime="{finished.isoformat()}" title="{local.day} {local:%b %Y, %H:%M}">just now</time>'
    )


def test_the_filter_says_a_dash_for_no_time():
    assert Template("{% load hrsync_time %}{{ when|relative }}").render(Context({"when": None})) == "—"
