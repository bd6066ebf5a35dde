from __future__ import annotations

from django.apps import apps

from connections.models import SyncRun
from connections.runs import sync_run_start
from connections.sync import runner


def linked_person(*, connection, remote_id: str = "E1", first_name: str = "Ada", last_name: str = "Lovelace"):
    """A person linked to the connection's employee record ``remote_id``."""
    from tests.factories import EmployeeMappingFactory, PersonFactory

    return EmployeeMappingFactory(
        connection=connection, remote_id=remote_id, person=PersonFactory(first_name=first_name, last_name=last_name)
    ).person


def run_sync(connection, *, scope: str = "all", dry_run: bool = False) -> SyncRun:
    """Start and execute a run in-process, as the CLI does."""
    run = sync_run_start(connection=connection, scope=scope, dry_run=dry_run, enqueue=False)
    return runner.sync_run_execute(run_id=run.pk)


#: What a run observed about the connection's reachability is saved on the
#: connection by every run, dry or real; it is not directory data.
HEALTH_COLUMNS = frozenset({"last_check_ok", "last_check_message", "last_check_at"})


def table_snapshot(*, exclude: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every project table (and auth users), for "nothing changed" assertions.

    Excluding ``connections.SyncRun`` excludes the rows its report is stored in too."""
    if "connections.SyncRun" in exclude:
        exclude = (*exclude, "connections.SyncRunChange", "connections.SyncRunChangeChunk")
    snapshot = {}
    for model in apps.get_models():
        label = model._meta.label
        if model._meta.app_label not in {"people", "connections", "mappings", "auth"} or label in exclude:
            continue
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in HEALTH_COLUMNS]
        snapshot[label] = sorted(map(repr, model.objects.order_by("pk").values_list(*columns)))
    return snapshot
