"""The text of a page's search box (``?q=``), cleaned one way everywhere.

A query parameter is whatever the address bar says, so it is cleaned like
any form input before a query sees it: trimmed, at most 200 characters, and
refused when it holds a NUL character, which PostgreSQL cannot compare. A
refused search is ignored, as if the box were empty.
"""

from __future__ import annotations

from collections.abc import Mapping

from django import forms


class SearchForm(forms.Form):
    """A search box; pages with more filters extend it."""

    q = forms.CharField(
        label="Search", required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"})
    )


def search_text(params: Mapping[str, str]) -> str:
    """The cleaned ``q`` of ``params`` (a request's GET), or ``""``."""
    form = SearchForm(params)
    return form.cleaned_data["q"] if form.is_valid() else ""
