from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="connections:list", permanent=False)),
    path("connections/", include("connections.urls")),
    path("people/", include("hrsync.people.urls")),
    # What other systems call: API keys, not sessions (connections/api/).
    path("api/v2/hrdatasync/", include("connections.api.urls")),
    # What sources' webhooks call: a connection's webhook secret, not a session.
    path("hooks/", include("connections.api.webhook_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
