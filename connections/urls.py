from django.urls import path

from connections.views import connections as views
from connections.views import absences, runs, training, uploads
from connections.views import webhooks
from connectors.registry import connector_urlpatterns
from mappings import views as mapping_views

app_name = "connections"

urlpatterns = [
    path("", views.ConnectionListView.as_view(), name="list"),
    path("new/", views.ConnectionCreateView.as_view(), name="new"),
    path("<int:pk>/", views.ConnectionOverviewView.as_view(), name="overview"),
    path("<int:pk>/sync/", views.ConnectionSyncView.as_view(), name="sync"),
    path("<int:pk>/options/", views.ConnectionOptionsView.as_view(), name="options"),
    path("<int:pk>/progress.json", views.ConnectionProgressView.as_view(), name="progress"),
    path("<int:pk>/settings/", views.ConnectionSettingsView.as_view(), name="settings"),
    path("<int:pk>/test/", views.ConnectionTestView.as_view(), name="test"),
    path("<int:pk>/delete/", views.ConnectionDeleteView.as_view(), name="delete"),
    path("<int:pk>/runs/", runs.RunListView.as_view(), name="runs"),
    path("<int:pk>/runs/<int:run_id>/", runs.RunDetailView.as_view(), name="run"),
    path("<int:pk>/runs/<int:run_id>/report.csv", runs.RunReportCsvView.as_view(), name="run_csv"),
    path("<int:pk>/runs/<int:run_id>/approve/", runs.RunApproveView.as_view(), name="run_approve"),
    path("<int:pk>/runs/<int:run_id>/reject/", runs.RunRejectView.as_view(), name="run_reject"),
    path("<int:pk>/runs/<int:run_id>/apply/", runs.RunApplyView.as_view(), name="run_apply"),
    path("<int:pk>/employees/", mapping_views.EmployeeMappingListView.as_view(), name="employees"),
    path(
        "<int:pk>/employees/<int:mapping_id>/",
        mapping_views.EmployeeMappingActionView.as_view(),
        name="employee_action",
    ),
    path(
        "<int:pk>/employees/conflicts/resolve/",
        mapping_views.ConflictGroupResolveView.as_view(),
        name="conflict_resolve",
    ),
    path("<int:pk>/depots/", mapping_views.DepotMappingView.as_view(), name="depots"),
    path("<int:pk>/absences/", absences.AbsenceListView.as_view(), name="absences"),
    path("<int:pk>/training/", training.TrainingListView.as_view(), name="training"),
    path(
        "<int:pk>/training/<int:record_id>/decide/", training.TrainingDecideView.as_view(), name="training_decide"
    ),
    path("<int:pk>/uploads/", uploads.UploadListView.as_view(), name="uploads"),
    path("<int:pk>/uploads/new/", uploads.UploadNewView.as_view(), name="upload_new"),
    path("<int:pk>/uploads/<int:upload_id>/file/", uploads.UploadFileView.as_view(), name="upload_file"),
    path("<int:pk>/uploads/<int:upload_id>/errors.csv", uploads.UploadErrorsCsvView.as_view(), name="upload_errors"),
    path("<int:pk>/uploads/<int:upload_id>/cancel/", uploads.UploadCancelView.as_view(), name="upload_cancel"),
    path("<int:pk>/api-key/", uploads.ApiKeyView.as_view(), name="api_key"),
    path("<int:pk>/api-key/regenerate/", uploads.ApiKeyRegenerateView.as_view(), name="api_key_regenerate"),
    path(
        "<int:pk>/webhook/regenerate/", webhooks.WebhookSecretRegenerateView.as_view(), name="webhook_regenerate"
    ),
    # Each connector's own pages: /connections/<pk>/<kind>/…, named connections:<kind>:…
    *connector_urlpatterns(),
]
