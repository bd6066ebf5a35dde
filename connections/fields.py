"""CompressedJSONField: a large JSON document stored zlib-compressed.

A run's report lists every change of a sync: for a first import of 100,000
people that is about 80 MB of JSON. As ``jsonb`` it took seconds to write
and as long to read back; compressed (fast level) it is a tenth of the size
and writes in a fraction of the time. Nothing queries inside a report, so
nothing is lost by storing it opaque.

``json_compress`` makes the same bytes from JSON given as a stream of
fragments, for a writer that should never hold the whole text at once (a
run's report and its chunks of changes: ``connections.reports``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from typing import Any

from django.db import models

#: zlib's fastest level: about 10× smaller for reports, at JSON-encoding speed.
LEVEL = 1


#: Compact JSON, as every stored report part is written.
json_encode = json.JSONEncoder(separators=(",", ":")).encode


def json_compress(fragments: Iterable[str]) -> bytes:
    """Compress JSON text given as consecutive fragments, one at a time."""
    compressor = zlib.compressobj(LEVEL)
    parts = [compressor.compress(fragment.encode()) for fragment in fragments]
    parts.append(compressor.flush())
    return b"".join(parts)


class CompressedJSONField(models.BinaryField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("default") is dict:
            del kwargs["default"]
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression, connection) -> Any:
        if value is None:
            return None
        return json.loads(zlib.decompress(bytes(value))) if value else {}

    def to_python(self, value: Any) -> Any:
        if isinstance(value, bytes | memoryview):
            return self.from_db_value(value, None, None)
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bytes):
            return value  # compressed already (json_compress), as a bulk writer passes it
        return zlib.compress(json_encode(value).encode(), LEVEL)

    def get_db_prep_value(self, value: Any, connection, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        return connection.Database.Binary(value) if value is not None else None

    def value_to_string(self, obj) -> str:
        return json.dumps(self.value_from_object(obj))
