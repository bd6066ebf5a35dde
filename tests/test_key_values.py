"""KEY=VALUE settings and the words for yes and no are the command line's:
everything else passes typed values (connections/management/ parses them)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ("connections", "connectors", "mappings", "hrsync", "bench")
CLI = ROOT / "connections" / "management"
#: What parsing KEY=VALUE strings, their prefixed keys or yes/no words looks like.
PARSING = re.compile(
    r"""partition\(["']=["']\)|split\(["']=["']|(startswith|removeprefix)\(["'](status_map|field_map)\."""
    r"""|["'](yes|on|true)["'],\s*["'](yes|on|true|1)["']|["']1["'],\s*["'](yes|on|true)["']"""
)


def test_nothing_outside_the_command_line_parses_key_value_settings():
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for folder in CODE
        for path in sorted((ROOT / folder).rglob("*.py"))
        if CLI not in path.parents and "migrations" not in path.parts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PARSING.search(line)
    ]
    assert hits == []


def test_the_command_line_has_the_one_parser():
    cli = (CLI / "cli.py").read_text(encoding="utf-8")
    assert "def settings_from_key_values(" in cli and "def boolean_parse(" in cli
