"""Everything about one vendor lives under connectors/<kind>/: the shared
code names no vendor's features (it renders what a connector declares)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ("connections", "mappings", "hrsync", "templates/connections")
#: Names that belong to host-key pinning, column mapping or the CSV file connector.
VENDOR_NAMES = re.compile(
    r"host_key|HostKey|pin_host_key|column_headers|column_targets|ColumnMapping|ColumnLayout|SourceColumn"
    r"|has_column_mapping|csv_file"
)


def test_shared_code_names_no_vendor_feature():
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for folder in SHARED
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in {".py", ".html"} and "migrations" not in path.parts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if VENDOR_NAMES.search(line)
    ]
    assert hits == []
