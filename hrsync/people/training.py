"""People's training records (``TrainingRecord``): the pages' and the CLI's
reads, and deciding course requests.

The records come from a connection's training stream
(``connections.sync.training``); what an admin does here is approve or
reject a course request, which is sent to the source at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from connections.models import Connection
from connectors.base import ConnectorError
from hrsync.people.models import Person, TrainingRecord
from hrsync.search import PERSON_SEARCH_FIELDS, words_filter

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class TrainingRequestNotPending(ValueError):
    """The record is not a course request waiting for a decision."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def training_record_list(
    *,
    connection: Connection | None = None,
    person: Person | None = None,
    pending: bool = False,
    kind: str = "",
    query: str = "",
) -> QuerySet[TrainingRecord]:
    """Training records, latest start first: of ``connection``, of
    ``person``, only the course requests waiting for a decision
    (``pending``), of one ``kind``, and whose person's name or email or
    whose label contains every word of ``query``."""
    records = TrainingRecord.objects.select_related("person", "connection", "decided_by").defer(
        "person__custom_fields", *(f"connection__{name}" for name in Connection.NAME_ONLY_DEFERRED)
    )
    if connection is not None:
        records = records.filter(connection=connection)
    if person is not None:
        records = records.filter(person=person)
    if pending:
        records = records.filter(is_request=True, decision=TrainingRecord.Decision.NONE)
    if kind:
        records = records.filter(kind=kind)
    records = words_filter(records, query, fields=(*PERSON_SEARCH_FIELDS, "label"))
    return records.order_by("-is_request", F("start_date").desc(nulls_last=True), "-id")


def training_request_is_pending(*, record: TrainingRecord) -> bool:
    """Whether the record is a course request an admin may still decide."""
    return record.is_request and record.decision == TrainingRecord.Decision.NONE


def training_record_words(*, record: TrainingRecord) -> str:
    """"Jane Smith on First Aid, 12 Jan 2027", as messages name a request."""
    words = f"{record.person} on {record.label or record.get_kind_display()}"
    if record.start_date:
        words += f", {date_format(record.start_date, 'j M Y')}"
    return words


def training_request_decide(*, record: TrainingRecord, approve: bool, user: AbstractBaseUser | None) -> TrainingRecord:
    """Approve or reject a course request at its source, and record it.

    Only a pending request (``training_request_is_pending``) may be decided:
    otherwise ``TrainingRequestNotPending``. On success the record takes the
    status the source returns, stops being a request, and keeps who decided
    and when. When the source refuses or cannot be reached, the request
    stays pending with the reason in ``decision_error``; the
    ``ConnectorError`` goes no further. The row is locked while the decision
    is sent, so a second click waits and then finds it decided.
    """
    from connections.services import connection_connector

    decision = TrainingRecord.Decision.APPROVED if approve else TrainingRecord.Decision.REJECTED
    with transaction.atomic():
        locked = TrainingRecord.objects.select_for_update().select_related("connection", "person").get(pk=record.pk)
        if not training_request_is_pending(record=locked):
            raise TrainingRequestNotPending(
                f"{training_record_words(record=locked)} is not waiting for a decision, so it was not "
                f"{'approved' if approve else 'rejected'}."
            )
        connector = connection_connector(connection=locked.connection)
        try:
            status = connector.course_request_decide(locked.remote_id, approve=approve)
        except ConnectorError as exc:
            locked.decision_error = f"{exc.message} Nothing was changed in {connector.label}; try again."
            locked.save(update_fields=["decision_error", "updated_at"])
            return locked
        locked.status = str(status or locked.status)[: TrainingRecord._meta.get_field("status").max_length]
        locked.is_request = False
        locked.decision = decision
        locked.decided_by = user if user is not None and user.is_authenticated else None
        locked.decided_at = timezone.now()
        locked.decision_error = ""
        locked.save(
            update_fields=[
                "status", "is_request", "decision", "decided_by", "decided_at", "decision_error", "updated_at"
            ]
        )
    return locked
