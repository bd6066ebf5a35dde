"""connectors.registry: a connector's own pages are mounted under the connection."""

from __future__ import annotations

from django.urls import reverse

from connectors.registry import connector_class, connector_urlpatterns, enabled_kinds


def test_a_connectors_own_pages_are_served_under_the_connection_and_its_kind():
    assert reverse("connections:csv_file:columns", args=[7]) == "/connections/7/csv_file/columns/"
    assert reverse("connections:csv_file:pin_host_key", args=[7]) == "/connections/7/csv_file/pin-host-key/"


def test_only_connectors_with_pages_of_their_own_are_mounted():
    assert [resolver.namespace for resolver in connector_urlpatterns()] == ["csv_file"]


def test_every_connector_says_in_one_sentence_what_it_does(settings):
    settings.HRSYNC_SAMPLE_CONNECTOR = True
    for kind in enabled_kinds():
        description = connector_class(kind).description
        # The New connection card shows it: a sentence, not the streams' names.
        assert description.endswith(".") and len(description.split()) >= 6, kind
