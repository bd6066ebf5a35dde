"""The same CSV imported with django-import-export, for comparison.

A ``ModelResource`` on Person keyed on the employee reference, with IE's
default settings (a transaction, a savepoint per row) or its bulk mode. It
maps every column the bench's roster has except the manager: IE resolves a
foreign key with one query per row and fails the row, and so rolls back the
whole import, when a manager comes later in the file than their report.
Leaving the manager out makes IE's job smaller, never bigger.

IE finds each row's person by its import id, one query per row. hrsync finds
people through its mappings and never needs ``employee_reference`` indexed,
so the bench gives IE an index on it (``lookup_index_create``): without one,
each of those queries scans the whole table, and IE would be measured
against a missing index rather than against itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tablib
from django.db import connection
from import_export import fields, resources, widgets

from hrsync.people.models import Depot, Person

STATUSES = {"active": "active", "on leave": "on_leave", "onboarding": "onboarding"}


class StatusWidget(widgets.CharWidget):
    """The file's "On Leave" → Person's "on_leave" (as the status map does)."""

    def clean(self, value: Any, row=None, **kwargs: Any) -> str:
        text = str(value or "").strip()
        return STATUSES.get(text.casefold(), text)


def _column(attribute: str, header: str, widget: widgets.Widget | None = None) -> fields.Field:
    return fields.Field(attribute=attribute, column_name=header, widget=widget)


class PersonResource(resources.ModelResource):
    employee_reference = _column("employee_reference", "Employee ID")
    first_name = _column("first_name", "First Name")
    last_name = _column("last_name", "Last Name")
    email = _column("email", "Email")
    job_title = _column("job_title", "Job Title")
    depot = _column("depot", "Location", widgets.ForeignKeyWidget(Depot, field="name"))
    status = _column("status", "Status", StatusWidget())
    hire_date = _column("hire_date", "Start Date", widgets.DateWidget())
    date_of_birth = _column("date_of_birth", "Date of Birth", widgets.DateWidget())
    mobile_phone = _column("mobile_phone", "Mobile")

    class Meta:
        model = Person
        import_id_fields = ("employee_reference",)
        fields = (
            "employee_reference", "first_name", "last_name", "email", "job_title", "depot",
            "status", "hire_date", "date_of_birth", "mobile_phone",
        )


class BulkPersonResource(PersonResource):
    class Meta(PersonResource.Meta):
        use_bulk = True


def lookup_index_create() -> None:
    """An index on IE's import id (see the module's docstring)."""
    table = connection.ops.quote_name(Person._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS bench_import_id ON {table} (employee_reference)")


def import_csv(path: str | Path, *, bulk: bool) -> dict[str, Any]:
    """Read the file with tablib and import it: IE's totals, and the first
    error when IE rolled the import back (it does on any row error)."""
    dataset = tablib.Dataset().load(Path(path).read_text(encoding="utf-8"), format="csv")
    resource = BulkPersonResource() if bulk else PersonResource()
    result = resource.import_data(dataset, dry_run=False)
    error = ""
    if result.has_errors():
        first = result.row_errors()[0][1][0] if result.row_errors() else result.base_errors[0]
        error = str(first.error).splitlines()[0]
    return {"totals": {str(key): value for key, value in result.totals.items()}, "error": error}
