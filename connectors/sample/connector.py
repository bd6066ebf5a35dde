"""The "Sample HR data (demo)" connector: serves the bundled roster."""

from __future__ import annotations

from collections.abc import Iterator

from django import forms

from connectors.base import Check, Connector, ConnectorError, RemoteEmployee, RemoteLocation
from connectors.sample import roster
from connectors.sample.roster import DEFAULT_SEED, DEFAULT_SIZE, MAX_SIZE, MIN_SIZE


class SampleConfigForm(forms.Form):
    size = forms.IntegerField(
        label="Number of people",
        initial=DEFAULT_SIZE,
        min_value=MIN_SIZE,
        max_value=MAX_SIZE,
        help_text=f"How many employee records the demo roster has ({MIN_SIZE}–{MAX_SIZE}).",
    )
    seed = forms.IntegerField(
        label="Seed",
        required=False,
        initial=DEFAULT_SEED,
        min_value=0,
        max_value=2**31 - 1,
        help_text="The same seed always gives the same people. Change it for a different roster.",
    )


class SampleConnector(Connector):
    kind = "sample"
    label = "Sample HR data (demo)"
    config_form = SampleConfigForm
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
        size, seed = self._options()
        return roster.build_roster(size=size, seed=seed)

    def _options(self) -> tuple[int, int]:
        """Size and seed from the config, with defaults for missing values.

        The config normally comes from SampleConfigForm already, but it is
        plain JSON and may have been written by hand, so validate it again.
        """
        data = {
            "size": self.config.get("size"),
            "seed": self.config.get("seed"),
        }
        if data["size"] in (None, ""):
            data["size"] = DEFAULT_SIZE
        if data["seed"] in (None, ""):
            data["seed"] = DEFAULT_SEED
        form = SampleConfigForm(data=data)
        if not form.is_valid():
            problems = "; ".join(
                f"{form.fields[name].label}: {' '.join(errors)}"
                for name, errors in form.errors.items()
            )
            raise ConnectorError(
                f"The sample roster settings are not valid. {problems}", permanent=True
            )
        return form.cleaned_data["size"], form.cleaned_data["seed"]
