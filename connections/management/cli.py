"""Shared pieces of the operator commands (connections, sync, runs, depots, people).

The command line is a contract for operators and scripts: the exit codes
below, the flags and the JSON keys must not drift.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.utils.text import Truncator

from connections.models import Connection, SyncRun
from connections.services import CONNECTION_OPTIONS, connection_find, sync_interval_message
from connectors.registry import connector_class
from hrsync.people.models import Person

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_ALREADY_RUNNING = 4

_RUN_EXIT_CODES = {
    SyncRun.Status.SUCCEEDED: EXIT_OK,
    SyncRun.Status.COMPLETED_WITH_CONFLICTS: EXIT_OK,
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


_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def boolean_parse(text: str) -> bool:
    """yes/no, true/false, on/off or 1/0, as an operator types them. Raises ValidationError."""
    lowered = str(text).strip().lower()
    if lowered in _TRUE_WORDS:
        return True
    if lowered in _FALSE_WORDS:
        return False
    raise ValidationError(f"'{Truncator(str(text)).chars(40)}' is not yes/no (use true or false).")


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """``--set`` values as the keyword arguments of ``connection_create`` /
    ``connection_update``."""

    options: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    status_map: dict[str, str] = field(default_factory=dict)
    field_map: dict[str, str] = field(default_factory=dict)

    def as_kwargs(self) -> dict[str, dict[str, Any]]:
        return {
            "options": self.options, "config": self.config, "secrets": self.secrets,
            "status_map": self.status_map, "field_map": self.field_map,
        }


def settings_from_key_values(*, kind: str, values: Mapping[str, str]) -> ConnectionSettings:
    """``--set`` KEY=VALUE pairs (``parse_set_values``) of a ``kind``
    connection, typed: the connector form's fields (secret ones apart), the
    connection options, ``sync_interval_hours``, ``status_map.<status>``
    and ``field_map.<field>``. Raises ValidationError."""
    cls = connector_class(kind)
    form_fields = cls.config_form.base_fields
    typed = ConnectionSettings()
    unknown = []
    for key, value in values.items():
        if key.startswith("status_map."):
            typed.status_map[key.removeprefix("status_map.")] = value
        elif key.startswith("field_map."):
            typed.field_map[key.removeprefix("field_map.")] = value
        elif key in CONNECTION_OPTIONS or key == "sync_interval_hours" or key in form_fields:
            continue
        else:
            unknown.append(key)
    if unknown:
        known = ", ".join([*form_fields, *CONNECTION_OPTIONS, "status_map.<status>", "field_map.<field>"])
        raise ValidationError(f"Unknown setting(s) {', '.join(sorted(unknown))}. Known: {known}.")
    for option in CONNECTION_OPTIONS:
        if option not in values:
            continue
        if option.startswith("safeguard_"):
            try:
                typed.options[option] = int(values[option])
            except ValueError:
                raise ValidationError(f"{option} must be a whole number.") from None
        else:
            typed.options[option] = boolean_parse(values[option])
    if "sync_interval_hours" in values:
        raw = values["sync_interval_hours"]
        try:
            hours = float(raw)
        except ValueError:
            raise ValidationError(sync_interval_message(raw)) from None
        if not math.isfinite(hours):
            raise ValidationError(sync_interval_message(raw))
        typed.options["sync_interval"] = dt.timedelta(hours=hours)
    for name, form_field in form_fields.items():
        if name not in values:
            continue
        value: Any = values[name]
        if isinstance(form_field, forms.BooleanField):
            value = boolean_parse(value)
        elif isinstance(form_field, forms.FileField):
            value = file_setting_read(name=name, path=value)
        (typed.secrets if name in cls.secret_fields else typed.config)[name] = value
    return typed


def file_setting_read(*, name: str, path: str) -> SimpleUploadedFile:
    """A file setting's ``--set NAME=PATH``: the file at PATH, as the form
    takes an upload. Raises ValidationError."""
    try:
        content = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ValidationError(
            f"{name}: cannot read the file '{Truncator(path).chars(80)}' ({exc.strerror or 'unreadable'})."
        ) from None
    return SimpleUploadedFile(Path(path).name, content)


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


def find_person(email: str) -> Person:
    person = Person.objects.filter(email__iexact=email.strip()).first()
    if person is None:
        raise usage_error(f"No person with the email '{email}'.")
    return person


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
