"""The addresses sources' webhooks call, under ``/hooks/``."""

from django.urls import path

from connections.api import webhook_views

app_name = "hooks"

urlpatterns = [
    path("<str:kind>/<uuid:connection_uuid>/<str:secret>/", webhook_views.receive, name="receive"),
]
