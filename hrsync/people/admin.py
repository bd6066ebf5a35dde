from django.contrib import admin

from hrsync.people.models import Depot, Person


@admin.register(Depot)
class DepotAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "active")
    search_fields = ("name", "code")


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "employee_reference", "depot", "status", "managed_by", "is_protected")
    list_filter = ("status", "depot", "managed_by", "is_protected")
    search_fields = ("first_name", "last_name", "email", "employee_reference")
    raw_id_fields = ("manager", "user")
    list_select_related = ("depot", "managed_by")
