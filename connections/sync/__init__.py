"""The sync engine: plan (pure) and apply (bulk, atomic).

``streams`` says which streams a run reads and ``runner`` executes a run
(read → plan → safeguard → apply → finish); both are imported by their
module path, not from here, so that importing the pure engine never pulls
in the run lifecycle and the connection services.
"""

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
