"""The text of a page's search box (``?q=``), cleaned one way everywhere.

A query parameter is whatever the address bar says, so it is cleaned like
any form input before a query sees it: trimmed, at most 200 characters, and
refused when it holds a NUL character, which PostgreSQL cannot compare. A
refused search is ignored, as if the box were empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django import forms
from django.db.models import Q, QuerySet


class SearchForm(forms.Form):
    """A search box; pages with more filters extend it."""

    q = forms.CharField(
        label="Search", required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"})
    )


def search_text(params: Mapping[str, str]) -> str:
    """The cleaned ``q`` of ``params`` (a request's GET), or ``""``."""
    form = SearchForm(params)
    return form.cleaned_data["q"] if form.is_valid() else ""


#: A record's person, as a list of records searches them: by name or email.
PERSON_SEARCH_FIELDS = ("person__first_name", "person__last_name", "person__email")


def words_filter(queryset: QuerySet, query: str, *, fields: Sequence[str]) -> QuerySet:
    """``queryset`` narrowed to the rows where every word of ``query`` is in
    one of ``fields`` (ignoring case)."""
    for word in query.split():
        matches = Q()
        for name in fields:
            matches |= Q(**{f"{name}__icontains": word})
        queryset = queryset.filter(matches)
    return queryset
