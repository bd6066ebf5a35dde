"""``{% load hrsync_time %}…{{ run.finished_at|relative }}``: a time as a
person says it ("just now", "2 minutes ago", "yesterday", "in 3 hours"),
in a ``<time>`` whose tooltip gives the date and time.

The one way pages show how long ago (or how soon) something is: Django's
``timesince`` says "0 minutes" and "1 day, 3 hours", which nobody says.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

#: Beyond this many days a time is given as its date: "40 days ago" is a sum.
MAX_DAYS = 30
#: Under this many hours, hours are said even across midnight: at 00:30,
#: a run at 23:00 was "1 hour ago", not "yesterday".
HOURS_BEFORE_DAYS = 12


def _plural(count: int, unit: str) -> str:
    # A no-break space: "3 minutes" never wraps between the two.
    return f"{count}\xa0{unit}{'' if count == 1 else 's'}"


def relative_time(value: dt.datetime, *, now: dt.datetime | None = None) -> str:
    """``value`` said relative to ``now`` (default: the current time)."""
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    past = seconds >= 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now" if past else "in a moment"
    if seconds < 3600:
        amount = _plural(int(seconds // 60), "minute")
    elif seconds < HOURS_BEFORE_DAYS * 3600:
        amount = _plural(int(seconds // 3600), "hour")
    else:
        days = abs((timezone.localdate(now) - timezone.localdate(value)).days)
        if days == 0:
            amount = _plural(int(seconds // 3600), "hour")
        elif days == 1:
            return "yesterday" if past else "tomorrow"
        elif days <= MAX_DAYS:
            amount = _plural(days, "day")
        else:
            return f"on {dateformat.format(timezone.localtime(value), 'j M Y')}"
    return f"{amount} ago" if past else f"in {amount}"


def absolute_time(value: dt.datetime) -> str:
    """"1 Dec 2026, 14:05", in the site's time zone."""
    return dateformat.format(timezone.localtime(value), "j M Y, H:i")


@register.filter
def relative(value: dt.datetime | None) -> SafeString | str:
    """A ``<time>`` saying ``value`` relatively, its date and time as the
    tooltip; an em dash for no time."""
    if value is None:
        return "—"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        absolute_time(value),
        relative_time(value),
    )
