"""Shared pieces of the operator commands (connections, sync, runs, depots, people).

The command line is a contract for operators and scripts: the exit codes
below, the flags and the JSON keys must not drift.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

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


# -- the base command and its console -------------------------------------------

#: The handler in settings.LOGGING that writes to the terminal.
CONSOLE_HANDLER = "console"
#: From this ``--verbosity`` on, the console shows tracebacks too.
TRACEBACK_VERBOSITY = 2


class OperatorCommand(BaseCommand):
    """The base of every hrsync command.

    An operator reads sentences: below ``--verbosity 2`` the console leaves
    tracebacks out of log records, because the command already says what
    went wrong and what to do. ``HRSYNC_LOG_FILE`` always receives them.
    ``--verbosity`` may also follow a subcommand (``connections test NAME -v 2``).
    """

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for subparser in action.choices.values():
                    subparser.add_argument(
                        "-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=argparse.SUPPRESS,
                        help=f"{TRACEBACK_VERBOSITY} or more: show tracebacks on the console.",
                    )
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        with console_logging(verbosity=options["verbosity"]):
            return super().execute(*args, **options)


class _WithoutTraceback(logging.Formatter):
    """The console's own format, with a pointer where a traceback was."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.formatter = formatter or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if not (record.exc_info or record.exc_text or record.stack_info):
            return self.formatter.format(record)
        brief = logging.makeLogRecord(record.__dict__)
        brief.exc_info = brief.exc_text = brief.stack_info = None
        log_file = getattr(settings, "HRSYNC_LOG_FILE", "")
        where = f"in {log_file}" if log_file else f"shown with --verbosity {TRACEBACK_VERBOSITY}"
        return f"{self.formatter.format(brief)} (the traceback is {where})"


def _not_paramikos_handled_exception(record: logging.LogRecord) -> bool:
    # paramiko's transport thread logs the exception it is handling as lines
    # of text, not as the record's traceback, and hrsync turns that exception
    # into a sentence. A filter runs in the thread that logs, inside its
    # ``except`` block, so the exception being handled identifies them.
    return not (record.name.startswith("paramiko") and sys.exc_info()[0] is not None)


@contextmanager
def console_logging(*, verbosity: int) -> Iterator[None]:
    """While a command runs: the console without tracebacks, below ``TRACEBACK_VERBOSITY``."""
    consoles = [h for h in logging.getLogger().handlers if h.name == CONSOLE_HANDLER]
    if verbosity >= TRACEBACK_VERBOSITY or not consoles:
        yield
        return
    formatters = {handler: handler.formatter for handler in consoles}
    for handler in consoles:
        handler.setFormatter(_WithoutTraceback(handler.formatter))
        handler.addFilter(_not_paramikos_handled_exception)
    try:
        yield
    finally:
        for handler, formatter in formatters.items():
            handler.setFormatter(formatter)
            handler.removeFilter(_not_paramikos_handled_exception)
