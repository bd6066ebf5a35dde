"""Field keys as an admin reads them: the one place that turns a key of a
report, a preview or a person's history into its label.

The keys are the sync engine's: person fields (``first_name``,
``employee_reference``), the related fields it writes by name (``depot``,
``manager``, ``status``), and custom fields as ``custom.<key>``. A custom
field is labelled as the connection names it (``custom_labels``: for a CSV
file, the header of the column mapped to it), or else from its key.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst

from hrsync.people.models import Person

CUSTOM_PREFIX = "custom."

#: Keys that are not a Person field of that name, or read better otherwise.
_LABELS = {
    "depot": "Depot",
    "depot_id": "Depot",
    "location": "Location",
    "manager": "Manager",
    "manager_remote_id": "Manager",
    "status": "Status",
    "email": "Email",
    "remote_id": "Record id",
}


def field_label(key: str, *, custom_labels: Mapping[str, str] | None = None) -> str:
    """``"first_name"`` → "First name"; ``"custom.shirt_size"`` → "Shirt size",
    or the connection's own name for it when ``custom_labels`` has one."""
    if key.startswith(CUSTOM_PREFIX):
        custom_key = key[len(CUSTOM_PREFIX):]
        named = (custom_labels or {}).get(custom_key, "").strip()
        return named or capfirst(custom_key.replace("_", " ").strip()) or key
    if key in _LABELS:
        return _LABELS[key]
    try:
        return capfirst(str(Person._meta.get_field(key).verbose_name))
    except FieldDoesNotExist:
        return capfirst(key.replace("_", " "))


def is_custom(key: str) -> bool:
    return key.startswith(CUSTOM_PREFIX)
