"""The REST API's addresses, under ``/api/v2/hrdatasync/`` (the HR Data Sync
paths customers' scripts already use)."""

from django.urls import path, re_path

from connections.api import views

app_name = "api"

urlpatterns = [
    path("employees.xsd", views.schema, {"kind": "employee"}, name="employees_xsd"),
    path("positions.xsd", views.schema, {"kind": "position"}, name="positions_xsd"),
    path("employee", views.upload, {"kind": "employee"}, name="employee"),
    path("position", views.upload, {"kind": "position"}, name="position"),
    path("uploads/<int:upload_id>", views.upload_status, name="upload"),
    # Last: any other address under the API is answered in JSON too.
    re_path(r"^.*$", views.not_found, name="not_found"),
]
