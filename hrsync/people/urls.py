from django.urls import path

from hrsync.people import views

app_name = "people"

urlpatterns = [
    path("", views.PersonListView.as_view(), name="list"),
    path("new/", views.PersonCreateView.as_view(), name="new"),
    path("search.json", views.PersonSearchView.as_view(), name="search"),
    path("<int:pk>/", views.PersonDetailView.as_view(), name="detail"),
    path("<int:pk>/protect/", views.PersonProtectView.as_view(), name="protect"),
]
