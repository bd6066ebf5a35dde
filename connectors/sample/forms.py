"""The form of the sample roster's settings."""

from __future__ import annotations

from django import forms

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
