from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "hrsync.people"
    label = "people"
    verbose_name = "People directory"
