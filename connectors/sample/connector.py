"""The "Sample HR data (demo)" connector: serves the bundled roster."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.base import Check, Connector, ConnectorError, RemoteEmployee, RemoteLocation
from connectors.sample import roster
from connectors.sample.forms import SampleConfigForm
from connectors.sample.settings import SampleSettings


class SampleConnector(Connector):
    kind = "sample"
    label = "Sample HR data (demo)"
    description = "Serves a bundled demo roster of made-up people and depots, to try hrsync without an HR system."
    config_form = SampleConfigForm
    settings_class = SampleSettings
    settings: SampleSettings
    secret_fields = ()
    streams = frozenset({"employees", "locations"})
    full_snapshot = True
    provides = frozenset({*RemoteEmployee.PERSON_FIELDS, "depot", "manager"})
    default_status_map = {
        roster.CANDIDATE: "candidate",
        roster.ONBOARDING: "onboarding",
        roster.ACTIVE: "active",
        roster.ON_LEAVE: "on_leave",
        roster.INACTIVE: "inactive",
        roster.TERMINATED: "terminated",
    }

    def check(self) -> Check:
        try:
            employees = self._roster().employees
        except ConnectorError as exc:
            return Check(ok=False, message=exc.message)
        return Check(
            ok=True,
            message=(
                f"Sample roster ready: {len(employees)} people in {len(roster.LOCATIONS)} "
                "locations (demo data, no HR system is contacted)."
            ),
            sample=[dict(employee.raw) for employee in employees[:5]],
        )

    def fetch_locations(self) -> Iterator[RemoteLocation]:
        yield from roster.locations()

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        yield from self._roster().employees

    def describe(self) -> str:
        return "bundled demo roster"

    def _roster(self) -> roster.Roster:
        return roster.build_roster(size=self.settings.size, seed=self.settings.seed)


__all__ = ["SampleConfigForm", "SampleConnector"]
