from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from connections.models import Connection, SyncRun
from connections.runs import (
    ConnectionDisabled,
    SyncAlreadyRunning,
    SyncRunStateError,
    TaskQueueUnreachable,
    sync_run_approve,
    sync_run_reject,
    sync_run_start,
)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "enabled", "background_sync", "last_check_ok", "next_sync_at")
    list_filter = ("kind", "enabled", "background_sync")
    search_fields = ("name",)
    # Credentials are encrypted and write-only: they are set through the
    # connection's settings page or `manage.py connections set`, never shown.
    exclude = ("secrets",)
    readonly_fields = ("last_check_ok", "last_check_message", "last_check_at", "created_at", "updated_at")
    actions = ("sync_all_now", "dry_run_now")

    def _start(self, request: HttpRequest, queryset: QuerySet[Connection], *, dry_run: bool) -> None:
        for connection in queryset:
            try:
                run = sync_run_start(
                    connection=connection,
                    scope=SyncRun.Scope.ALL,
                    dry_run=dry_run,
                    trigger=SyncRun.Trigger.MANUAL,
                    user=request.user,
                )
            except (SyncAlreadyRunning, ConnectionDisabled) as exc:
                self.message_user(request, str(exc), messages.WARNING)
            except TaskQueueUnreachable as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{run.title} of {connection.name} queued.", messages.SUCCESS)

    @admin.action(description="Sync all data now")
    def sync_all_now(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        self._start(request, queryset, dry_run=False)

    @admin.action(description="Dry run now (shows what a sync would change)")
    def dry_run_now(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        self._start(request, queryset, dry_run=True)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("id", "connection", "scope", "dry_run", "trigger", "status", "created_at", "finished_at")
    list_filter = ("status", "dry_run", "trigger", "connection")
    actions = ("approve", "reject")
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Approve blocked runs (apply their changes)")
    def approve(self, request: HttpRequest, queryset: QuerySet[SyncRun]) -> None:
        for run in queryset:
            try:
                sync_run_approve(run=run, user=request.user)
            except (SyncRunStateError, SyncAlreadyRunning) as exc:
                self.message_user(request, str(exc), messages.WARNING)
            except TaskQueueUnreachable as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{run.title} approved and queued.", messages.SUCCESS)

    @admin.action(description="Reject blocked runs (change nothing)")
    def reject(self, request: HttpRequest, queryset: QuerySet[SyncRun]) -> None:
        for run in queryset:
            try:
                sync_run_reject(run=run, user=request.user)
            except SyncRunStateError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"{run.title} rejected.", messages.SUCCESS)
