"""The sample roster's typed settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import ConnectorError, ConnectorSettings
from connectors.sample.forms import SampleConfigForm
from connectors.sample.roster import DEFAULT_SEED, DEFAULT_SIZE


@dataclass(frozen=True, slots=True)
class SampleSettings(ConnectorSettings):
    """How many people the demo roster has, and the seed that picks them."""

    size: int = DEFAULT_SIZE
    seed: int = DEFAULT_SEED

    @classmethod
    def from_stored(cls, *, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> SampleSettings:
        # The stored config is plain JSON and may have been written by hand:
        # its form's own rules (the size's bounds) apply to it as well.
        data = {name: config.get(name) for name in ("size", "seed")}
        if data["size"] in (None, ""):
            data["size"] = DEFAULT_SIZE
        if data["seed"] in (None, ""):
            data["seed"] = DEFAULT_SEED
        form = SampleConfigForm(data=data)
        if not form.is_valid():
            problems = "; ".join(
                f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()
            )
            raise ConnectorError(f"The sample roster settings are not valid. {problems}", permanent=True)
        return cls(size=form.cleaned_data["size"], seed=form.cleaned_data["seed"])
