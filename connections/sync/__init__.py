"""The sync engine: plan (pure) and apply (bulk, atomic)."""

from connections.sync.applier import ApplyResult, apply_plan
from connections.sync.changes import Action, Change, LocationAction, LocationChange, SyncPlan
from connections.sync.planner import PlanSettings, plan, status_key
from connections.sync.state import DirectoryState, directory_fingerprint, directory_state_load

__all__ = [
    "Action",
    "ApplyResult",
    "Change",
    "DirectoryState",
    "LocationAction",
    "LocationChange",
    "PlanSettings",
    "SyncPlan",
    "apply_plan",
    "directory_fingerprint",
    "directory_state_load",
    "plan",
    "status_key",
]
