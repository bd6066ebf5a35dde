"""Reading a webhook delivery (DESIGN §1, inbound): the run of a stored
delivery re-reads, through the connector, each record the delivery names,
and never takes the delivery's own data.

A record the source still has goes into the read of its stream; one it no
longer has (``webhook_reread`` answers None, after a DELETE or not) is
``gone`` from that stream. Every read is partial (``full_snapshot`` off): a
webhook says nothing of the records it does not name, so nobody is
deactivated or removed for being absent from it. Streams the delivery does
not name are not read at all, and the plan leaves them as they are.

A run may process a batch of deliveries (``connections.sync.inbound``):
it re-reads the union of the records they name, each once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from connections.models import InboundFile
from connections.sync.streams import EMPLOYEES, TRAINING, ReadProgress, Stream, StreamRead
from connectors.base import Connector, ConnectorError, WebhookReceiver, WebhookRefused, WebhookTarget

#: The streams a delivery can name.
WEBHOOK_STREAMS: Mapping[str, Stream] = {EMPLOYEES.name: EMPLOYEES, TRAINING.name: TRAINING}


def webhook_title(inbound_file: InboundFile) -> str:
    """The delivery's one name in messages: "Webhook #12"."""
    return f"Webhook #{inbound_file.pk}"


def webhook_read(
    *, inbound_files: Sequence[InboundFile], connector: Connector, progress: ReadProgress
) -> tuple[dict[str, StreamRead], dict[int, list[str]]]:
    """The reads of a webhook run: the records ``inbound_files`` (one
    delivery, or the batch a run processes) name, as the source has them
    now, by stream; each record once, however many deliveries name it (its
    re-read is the source's state now, whatever the events said). Also, by
    delivery id, the remote ids each delivery named. Raises ConnectorError
    (the run fails; nothing changes) when the connector takes no webhooks, a
    delivery cannot be read or names a stream the connector does not offer,
    or the source cannot answer a re-read."""
    title = webhook_title(inbound_files[0])
    if not isinstance(connector, WebhookReceiver):
        raise ConnectorError(
            f"{connector.label} does not receive webhooks, so {title} cannot be processed.", permanent=True
        )
    # By record, the target of the latest delivery naming it (the deliveries
    # come oldest first).
    targets: dict[tuple[str, str], WebhookTarget] = {}
    named: dict[int, list[str]] = {}
    for inbound_file in inbound_files:
        for target in _targets(inbound_file, connector):
            targets[(target.stream, target.remote_id)] = target
            named.setdefault(inbound_file.pk, []).append(target.remote_id)
    if len(inbound_files) == 1:
        progress.stage(f"Re-reading the records {title} names from {connector.label}")
    else:
        progress.stage(
            f"Re-reading the {len(targets)} records {len(inbound_files)} webhook deliveries name "
            f"from {connector.label}"
        )
    records: dict[str, list[Any]] = {}
    gone: dict[str, set[str]] = {}
    for target in targets.values():
        record = connector.webhook_reread(target)
        records.setdefault(target.stream, [])
        gone.setdefault(target.stream, set())
        if record is None:
            gone[target.stream].add(target.remote_id)
        else:
            records[target.stream].append(record)
    reads = {
        name: StreamRead(
            stream=WEBHOOK_STREAMS[name], records=records[name], full_snapshot=False, gone=frozenset(gone[name])
        )
        for name in records
    }
    return reads, named


def _targets(inbound_file: InboundFile, connector: WebhookReceiver) -> list[WebhookTarget]:
    """The records one delivery names, each of a stream this connection syncs."""
    title = webhook_title(inbound_file)
    if not inbound_file.content:
        raise ConnectorError(
            f"The contents of {title} were removed before it was processed. The next full sync brings the "
            "record up to date."
        )
    body = _body(inbound_file)
    try:
        targets = connector.webhook_targets(method=inbound_file.method, body=body)
    except WebhookRefused as exc:
        raise ConnectorError(f"{title}: {exc.message}") from None
    for target in targets:
        stream = WEBHOOK_STREAMS.get(target.stream)
        if stream is None or (stream is not EMPLOYEES and stream.name not in connector.streams):
            raise ConnectorError(
                f"{title} names a {target.stream} record ({target.remote_id}), but this connection does not "
                f"sync {stream.label if stream else target.stream}. Nothing was changed."
            )
    return list(targets)


def _body(inbound_file: InboundFile) -> Mapping[str, Any]:
    with inbound_file.content.open("rb") as handle:
        raw = handle.read()
    try:
        body = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        body = None
    if not isinstance(body, dict):
        raise ConnectorError(f"{webhook_title(inbound_file)} is not a JSON object. Nothing was changed.")
    return body
