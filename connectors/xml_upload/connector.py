"""XML upload (REST API): the customer's IT uploads an employee file and,
optionally, a position file to hrsync (VENDORS.md, "XML files pushed to our
REST API"); hrsync never reads anything from their side.

Files arrive at ``connections.api`` with this connection's API key, are
stored as ``InboundFile`` rows and processed one at a time; this connector
only turns a stored file into records (``parsing``). The employee file lists
every active employee, so whoever is missing from it has left.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from django.conf import settings as django_settings
from django.urls import reverse

from connectors.base import Check, Connector, ConnectorError, RemoteEmployee, Uploadable
from connectors.xml_upload.forms import XmlUploadConfigForm
from connectors.xml_upload.settings import XmlUploadSettings

#: The status of everyone in an employee file, which lists active employees only.
ACTIVE = "active"


def upload_endpoint(kind: str = "employee") -> str:
    """The full address a file of ``kind`` is posted to, for messages and pages."""
    return f"{django_settings.HRSYNC_BASE_URL}{reverse(f'api:{kind}')}"


class XmlUploadConnector(Connector, Uploadable):
    kind = "xml_upload"
    label = "XML upload (REST API)"
    description = (
        "Receives an employee file and a position file in XML, uploaded to hrsync's REST API by your "
        "HR system or a script, with this connection's API key."
    )
    config_form = XmlUploadConfigForm
    settings_class = XmlUploadSettings
    settings: XmlUploadSettings
    secret_fields = ()
    #: The locations are the values of the employee file's location element.
    streams = frozenset({"employees", "locations"})
    locations_in_records = True
    inbound = frozenset({"upload"})
    upload_kinds: ClassVar[tuple[str, ...]] = ("employee", "position")
    full_snapshot = True
    default_status_map = {ACTIVE: "active"}
    #: Vendor-side imports of this kind block above 75 %; a missing file's
    #: worth of leavers is the usual accident (ids that lost leading zeros).
    default_safeguard_percent = 75
    #: What an employee file fills. Job titles and managers come from the
    #: position file, whose runs set only those: an employee file must not
    #: blank them.
    provides = frozenset({"first_name", "last_name", "email", "employee_reference", "hire_date", "depot"})

    def check(self) -> Check:
        # Nothing to reach: the settings load, and files are posted to us.
        return Check(ok=True, message=f"Ready to receive files at {upload_endpoint()}")

    def fetch_employees(self) -> Iterator[RemoteEmployee]:
        raise ConnectorError(
            "This connection does not read its employees: they arrive as files uploaded to "
            f"{upload_endpoint()}. Upload a file to sync.",
            # Not the connection's health: its settings are fine.
            permanent=False,
        )

    def describe(self) -> str:
        return "files uploaded to hrsync's REST API"

    @property
    def max_upload_bytes(self) -> int:
        return self.settings.max_upload_bytes

    @property
    def upload_contacts(self) -> tuple[str, ...]:
        """The ``contacts`` setting: who hears of failed, blocked and partly failed files."""
        return self.settings.contacts

    def parse_upload(self, inbound_file: Any) -> Iterator[RemoteEmployee]:
        """The records of a stored file; ``parsing`` raises ``UploadRejected``
        for a file refused as a whole (nothing of it is used).

        An employee file: its employees, from XML or, stored as text/csv,
        from CSV (``csv_upload``, with the connection's CSV columns). A
        position file: one record per position, in file order: ``remote_id``
        its holder's employee id ("" when vacant), ``job_title`` its title,
        ``manager_remote_id`` the holder of the nearest filled position above
        it, and the position's id in ``raw["position_id"]``.
        """
        from connections.inbound import CSV_CONTENT_TYPE
        from connectors.xml_upload import parsing  # loads lxml: only runs that read a file need it

        path = inbound_file.content.path
        if getattr(inbound_file, "content_type", "") == CSV_CONTENT_TYPE:
            from connectors.xml_upload import csv_upload

            if inbound_file.kind == "position":
                message = "A position file is XML; only an employee file can be sent as CSV."
                raise parsing.UploadRejected(message, [parsing.UploadProblem(None, "", message)])
            settings = self.settings
            yield from csv_upload.csv_employee_file_read(
                path,
                columns=settings.csv_columns,
                delimiter=settings.csv_delimiter,
                location_element=settings.location_element,
            )
            return
        if inbound_file.kind != "position":
            yield from parsing.employee_file_read(path, location_element=self.settings.location_element)
            return
        tree = parsing.position_file_read(path)
        assignments = parsing.position_assignments(tree)
        for position in tree.positions.values():
            _title, manager = assignments.get(position.employee_id, ("", "")) if position.employee_id else ("", "")
            yield RemoteEmployee(
                remote_id=position.employee_id,
                job_title=position.title,
                manager_remote_id=manager,
                status=ACTIVE,
                raw={"position_id": position.position_id, "parent_position_id": position.parent_id},
                source_position=f"line {position.line}" if position.line else "",
            )


__all__ = ["XmlUploadConfigForm", "XmlUploadConnector", "upload_endpoint"]
