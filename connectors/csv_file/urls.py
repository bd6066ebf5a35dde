"""The CSV file connection's own pages, mounted by the registry under
/connections/<pk>/csv_file/ (URL names connections:csv_file:…)."""

from django.urls import path

from connectors.csv_file import views

app_name = "csv_file"

urlpatterns = [
    path("columns/", views.ColumnMappingView.as_view(), name="columns"),
    path("pin-host-key/", views.HostKeyPinView.as_view(), name="pin_host_key"),
]
