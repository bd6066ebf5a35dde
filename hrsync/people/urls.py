from django.urls import path

from hrsync.people import absence_views, views

app_name = "people"

urlpatterns = [
    path("", views.PersonListView.as_view(), name="list"),
    path("new/", views.PersonCreateView.as_view(), name="new"),
    path("search.json", views.PersonSearchView.as_view(), name="search"),
    path("<int:pk>/", views.PersonDetailView.as_view(), name="detail"),
    path("<int:pk>/protect/", views.PersonProtectView.as_view(), name="protect"),
    path("<int:pk>/absences/new/", absence_views.PersonAbsenceCreateView.as_view(), name="absence_new"),
    path(
        "<int:pk>/absences/<int:absence_id>/remove/",
        absence_views.PersonAbsenceRemoveView.as_view(),
        name="absence_remove",
    ),
]
