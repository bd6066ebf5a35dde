"""A connector that takes uploaded files in a format of the tests' own: the
processing of uploads tested without any vendor's format in the way. Use the
``upload_source`` fixture (import it into the test module).

An employee file has one line per employee, ``id,first name,last name,email``;
a position file one line per position, ``position id,holder's id (or
empty),title,manager's id``. A line ``REJECT <message>`` refuses the whole
file, with a problem naming that line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from connectors import registry
from connectors.base import RemoteEmployee, Uploadable
from tests.connections.static_connector import StaticConnector


@dataclass(frozen=True)
class Problem:
    line: int | None
    employee_id: str
    message: str


class Rejected(Exception):
    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems


class UploadConnector(StaticConnector, Uploadable):
    kind = "static"
    label = "Static upload source"
    streams = frozenset({"employees"})
    upload_kinds = ("employee", "position")
    #: Every file parsed, by id, in order.
    parsed: list[int] = []

    @property
    def max_upload_bytes(self) -> int:
        return 1024 * 1024

    def parse_upload(self, inbound_file) -> Iterator[RemoteEmployee]:
        type(self).parsed.append(inbound_file.pk)
        with inbound_file.content.open("rb") as handle:
            lines = handle.read().decode().splitlines()
        records = []
        for number, line in enumerate(lines, start=1):
            if line.startswith("REJECT"):
                raise Rejected(
                    "The file does not match the schema.",
                    [Problem(line=number, employee_id="", message=line.removeprefix("REJECT").strip())],
                )
            if not line.strip():
                continue
            cells = [cell.strip() for cell in line.split(",")]
            if inbound_file.kind == "position":
                position_id, holder, title, manager = cells
                records.append(
                    RemoteEmployee(
                        remote_id=holder,
                        job_title=title,
                        manager_remote_id=manager,
                        source_position=f"line {number}",
                        raw={"position_id": position_id},
                    )
                )
            else:
                remote_id, first, last, email = cells
                records.append(
                    RemoteEmployee(
                        remote_id=remote_id,
                        first_name=first,
                        last_name=last,
                        email=email,
                        status="Active",
                        source_position=f"line {number}",
                    )
                )
        yield from records


def employee_file(*ids: str) -> str:
    return "".join(f"{remote_id},First{remote_id},Last{remote_id},{remote_id.lower()}@example.com\n" for remote_id in ids)


@pytest.fixture
def upload_source(monkeypatch, settings, tmp_path):
    """Connections of kind "static" take uploads; files are stored under a
    temporary MEDIA_ROOT."""
    monkeypatch.setitem(
        registry.CONNECTORS, "static", ("Static", "tests.connections.upload_source.UploadConnector")
    )
    monkeypatch.setattr(UploadConnector, "employees", [])
    monkeypatch.setattr(UploadConnector, "parsed", [])
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return UploadConnector
