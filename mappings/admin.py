from django.contrib import admin

from mappings.models import DepotMapping, EmployeeMapping


@admin.register(EmployeeMapping)
class EmployeeMappingAdmin(admin.ModelAdmin):
    list_display = ("connection", "remote_id", "remote_name", "remote_email", "state", "person")
    list_filter = ("connection", "state")
    search_fields = ("remote_id", "remote_name", "remote_email")
    raw_id_fields = ("person", "missing_since_run")


@admin.register(DepotMapping)
class DepotMappingAdmin(admin.ModelAdmin):
    list_display = ("connection", "remote_location_id", "remote_name", "depot")
    list_filter = ("connection",)
    search_fields = ("remote_location_id", "remote_name")
