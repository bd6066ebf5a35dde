"""Shared pieces of the operator commands (connections, sync, runs, depots, people).

The command line is a contract for operators and scripts: the exit codes
below, the flags and the JSON keys must not drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, OutputWrapper

from connections.models import Connection, SyncRun
from connections.services import connection_find

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_ALREADY_RUNNING = 4

_RUN_EXIT_CODES = {
    SyncRun.Status.SUCCEEDED: EXIT_OK,
    SyncRun.Status.COMPLETED_WITH_ERRORS: EXIT_OK,
    SyncRun.Status.BLOCKED: EXIT_BLOCKED,
}


def run_exit_code(status: str) -> int:
    """The exit code of a command that ran a sync to its end."""
    return _RUN_EXIT_CODES.get(status, EXIT_FAILED)


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


def parse_set_values(pairs: Iterable[str] | None) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` → dict. Values may contain '='; the last KEY wins."""
    values: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise usage_error(f"--set expects KEY=VALUE, got '{pair}'.")
        values[key] = value
    return values


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            " ".join(messages) if field == "__all__" else f"{field}: {' '.join(messages)}"
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def find_connection(id_or_name: str) -> Connection:
    try:
        return connection_find(id_or_name=id_or_name)
    except Connection.DoesNotExist as exc:
        raise usage_error(str(exc) or f"No connection with id or name '{id_or_name}'.") from None


def find_run(run_id: str | int) -> SyncRun:
    try:
        return SyncRun.objects.select_related("connection").get(pk=int(run_id))
    except (ValueError, SyncRun.DoesNotExist):
        raise usage_error(f"No sync run with id '{run_id}'.") from None


def write_json(stdout: OutputWrapper, data: Any) -> None:
    stdout.write(json.dumps(data, indent=2, ensure_ascii=False))


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    text_rows = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [list(headers), *text_rows]
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())
