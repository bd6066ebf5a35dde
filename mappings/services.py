"""Mappings between a connection's remote records and the directory.

Keyword-only, typed functions named ``<noun>_<verb>`` (DESIGN §8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from connections.models import Connection
from hrsync.people.models import Depot, Person
from hrsync.people.rules import shown
from mappings.models import DepotMapping, EmployeeMapping


def depot_map(*, connection: Connection, remote_location_id: str, depot_name: str) -> DepotMapping:
    """Map a remote location of ``connection`` to the depot called ``depot_name``.

    An existing depot is found by name, ignoring case; otherwise one is
    created. The mapping is created if the location has not been seen yet
    (its remote name is filled in by the next locations sync), or re-pointed
    if it exists. People follow at the next employees sync.
    """
    remote_location_id = remote_location_id.strip()
    depot_name = " ".join(depot_name.split())
    if not remote_location_id:
        raise ValidationError("Enter the remote location id.")
    if not depot_name:
        raise ValidationError("Enter a depot name.")
    with transaction.atomic():
        depot = Depot.objects.filter(name__iexact=depot_name).order_by("pk").first()
        if depot is None:
            depot = Depot(name=depot_name)
            depot.full_clean()
            depot.save()
        mapping, _created = DepotMapping.objects.update_or_create(
            connection=connection,
            remote_location_id=remote_location_id,
            defaults={"depot": depot, "matched_by_name": False},
        )
    return mapping


# -- employee mappings (the Employees tab) ---------------------------------------

#: The message an unmatched record without an email carries until the next sync.
NOT_LINKED_MESSAGE = (
    "Not linked to anybody: the next sync links this record to the person with its email, "
    "or creates a new person."
)
#: The states of a record that claims its email (an ignored record does not).
_CLAIMING = (EmployeeMapping.State.LINKED, EmployeeMapping.State.CONFLICT, EmployeeMapping.State.UNMATCHED)


def email_key(email: str) -> str:
    """An email as records and people are matched by it: trimmed, lower-cased."""
    return (email or "").strip().lower()


def conflict_messages_refresh(*, connection_id: int, emails: Iterable[str]) -> int:
    """Say again why each waiting record with one of ``emails`` waits, now
    that an admin settled a record it collided with.

    The rules are the planner's (``connections.sync.planner``), read from the
    mappings instead of the source: two or more records of the connection
    that are not ignored and share an email are a conflict; a record whose
    email belongs to a person linked to another record, or managed by
    another connection, is a conflict; any other record is unmatched, and
    its message says what the next sync will do with it. Such a record is
    not linked here even when that is safe: the admin acted on another
    record, and the next sync (or its dry run) shows the link before it
    updates the person. A record the source sends more than once under one
    id keeps its conflict: only the source can settle that. Runs in the
    caller's transaction, in a fixed number of queries. Returns how many
    records changed.
    """
    from connections.sync.planner import status_key

    keys = {key for email in emails if (key := email_key(email))}
    if not keys:
        return 0
    State = EmployeeMapping.State
    claiming = list(
        EmployeeMapping.objects.filter(connection_id=connection_id, state__in=_CLAIMING)
        .annotate(email_key=Lower(Trim("remote_email")))
        .filter(email_key__in=keys)
        .order_by("pk")
    )
    people = {
        person.email_key: person
        for person in Person.objects.annotate(email_key=Lower(Trim("email")))
        .filter(email_key__in=keys)
        .select_related("managed_by")
    }
    links = dict(
        EmployeeMapping.objects.filter(person__in=[p.pk for p in people.values()], state=State.LINKED)
        .values_list("person_id", "id")
    )
    connection = Connection.objects.only("status_map").get(pk=connection_id)
    leaving = {status_key(k) for k, v in connection.status_map.items() if v in Person.GONE_STATUSES}
    by_key: dict[str, list[EmployeeMapping]] = {}
    for mapping in claiming:
        by_key.setdefault(mapping.email_key, []).append(mapping)
    now = timezone.now()
    changed = []
    for key, mappings in by_key.items():
        person = people.get(key)
        for mapping in mappings:
            if mapping.state == State.LINKED or len(mapping.remote_records) > 1:
                continue
            state, message = _waiting_state(
                mapping=mapping,
                claimants=len(mappings),
                person=person,
                linked_mapping_id=links.get(person.pk) if person else None,
                connection_id=connection_id,
                leaver=status_key(mapping.remote_status) in leaving,
            )
            if (state, message) != (mapping.state, mapping.message):
                mapping.state, mapping.message, mapping.updated_at = state, message, now
                changed.append(mapping)
    EmployeeMapping.objects.bulk_update(changed, ["state", "message", "updated_at"])
    return len(changed)


def _waiting_state(
    *,
    mapping: EmployeeMapping,
    claimants: int,
    person: Person | None,
    linked_mapping_id: int | None,
    connection_id: int,
    leaver: bool,
) -> tuple[str, str]:
    """(state, message) of a record that is not linked and not ignored."""
    State = EmployeeMapping.State
    if claimants > 1:
        return State.CONFLICT, f"{claimants} records in the source share the email {email_key(mapping.remote_email)}."
    if person is not None:
        if linked_mapping_id not in (None, mapping.pk):
            return State.CONFLICT, f"{person} has this email but is already linked to another record."
        if person.managed_by_id not in (None, connection_id):
            return State.CONFLICT, (
                f"{person} has this email but is managed by the connection {person.managed_by.name}."
            )
        return State.UNMATCHED, (
            f"Ready to link: the next sync links this record to {person}, who has its email. "
            "Link it now to do it yourself."
        )
    if leaver:
        return State.UNMATCHED, (
            f"Not linked: the source says they have left ({mapping.remote_status}), "
            "so the next sync does not create them."
        )
    return State.UNMATCHED, (
        "Ready to create: nobody has this email, so the next sync creates a new person from this record. "
        "Link it to somebody now if they are in the directory already."
    )


def _locked_mapping(mapping: EmployeeMapping) -> EmployeeMapping:
    # Row lock: two admins acting on one record at once are serialised.
    return EmployeeMapping.objects.select_for_update().get(pk=mapping.pk)


def _release_person(*, person_id: int | None, connection_id: int, keep_mapping_id: int) -> None:
    """The connection no longer owns this person: their fields become editable again.

    A queryset update does not run ``auto_now``, so ``updated_at`` is set by
    hand: the directory fingerprint must see the change.
    """
    if person_id is None:
        return
    still_linked = (
        EmployeeMapping.objects.filter(connection_id=connection_id, person_id=person_id)
        .exclude(pk=keep_mapping_id)
        .exists()
    )
    if not still_linked:
        Person.objects.filter(pk=person_id, managed_by_id=connection_id).update(
            managed_by=None, updated_at=timezone.now()
        )


def mapping_link(*, mapping: EmployeeMapping, person: Person) -> EmployeeMapping:
    """Link a remote record to ``person`` (relinking it if it pointed elsewhere).

    Invariants: a person is held by at most one record of a connection, and a
    person linked to or managed by another connection is not taken over (both raise
    ``ValidationError``). Linking makes the connection the person's manager
    (``managed_by``), sets the state to linked (an ignored record is
    un-ignored) and clears the conflict message. A person the record held
    before is released. The next sync updates the person from the record.
    Returns the saved mapping.
    """
    with transaction.atomic():
        locked_person = Person.objects.select_for_update().get(pk=person.pk)
        mapping = _locked_mapping(mapping)
        other = (
            EmployeeMapping.objects.filter(connection_id=mapping.connection_id, person=locked_person)
            .exclude(pk=mapping.pk)
            .only("remote_id", "remote_name")
            .first()
        )
        if other is not None:
            raise ValidationError(
                f"{locked_person} is already linked to another record of this connection "
                f"({other.remote_name or other.remote_id}). "
                "A person can be linked to one record only: unlink that record first."
            )
        elsewhere = (
            EmployeeMapping.objects.filter(person=locked_person, state=EmployeeMapping.State.LINKED)
            .exclude(connection_id=mapping.connection_id)
            .values_list("connection__name", flat=True)
            .first()
        )
        if elsewhere is not None:
            raise ValidationError(
                f"{locked_person} is already linked to the connection {elsewhere}. Unlink them there first."
            )
        if locked_person.managed_by_id not in (None, mapping.connection_id):
            owner = Connection.objects.filter(pk=locked_person.managed_by_id).values_list("name", flat=True).first()
            raise ValidationError(
                f"{locked_person} is managed by the connection {owner}. Unlink them there first."
            )
        previous_id = mapping.person_id
        mapping.person = locked_person
        mapping.state = EmployeeMapping.State.LINKED
        mapping.message = ""
        mapping.remote_records = []
        mapping.save(update_fields=["person", "state", "message", "remote_records", "updated_at"])
        if locked_person.managed_by_id != mapping.connection_id:
            locked_person.managed_by_id = mapping.connection_id
            locked_person.save(update_fields=["managed_by", "updated_at"])
        if previous_id != locked_person.pk:
            _release_person(
                person_id=previous_id, connection_id=mapping.connection_id, keep_mapping_id=mapping.pk
            )
        conflict_messages_refresh(
            connection_id=mapping.connection_id, emails=[mapping.remote_email, locked_person.email]
        )
    return mapping


def mapping_unlink(*, mapping: EmployeeMapping) -> EmployeeMapping:
    """Detach a record from its person.

    The record becomes ``person=None, state=unmatched``, with a message that
    says what the next sync does (``conflict_messages_refresh``; the records
    sharing its email are told again too): it waits in the Employees tab,
    and the next sync treats it like a record seen for the first time (link
    by email, else create) and writes the outcome to the mapping. ``state=linked`` with no
    person is deliberately not used: the planner only rewrites a linked
    mapping when its remote snapshot changes, so such a link would never be
    saved. The person is released (``managed_by`` cleared) and is no longer
    deactivated by this connection. To keep a record away from the
    directory for good, ignore it instead.
    """
    with transaction.atomic():
        mapping = _locked_mapping(mapping)
        previous_id = mapping.person_id
        mapping.person = None
        mapping.state = EmployeeMapping.State.UNMATCHED
        mapping.message = NOT_LINKED_MESSAGE
        mapping.save(update_fields=["person", "state", "message", "updated_at"])
        _release_person(person_id=previous_id, connection_id=mapping.connection_id, keep_mapping_id=mapping.pk)
        conflict_messages_refresh(connection_id=mapping.connection_id, emails=[mapping.remote_email])
        mapping.refresh_from_db(fields=["state", "message"])
    return mapping


def mapping_ignore(*, mapping: EmployeeMapping, ignored: bool) -> EmployeeMapping:
    """Ignore a record (syncs leave it out) or stop ignoring it.

    Ignoring releases the person the record held (``person=None``, their
    ``managed_by`` cleared): an ignored record neither updates nor
    deactivates anybody, and its email no longer counts against the records
    that share it, whose messages are recomputed at once. Un-ignoring puts
    the record in the unmatched state of ``mapping_unlink``, so the next
    sync matches it again by email or creates a person.
    """
    with transaction.atomic():
        mapping = _locked_mapping(mapping)
        previous_id = mapping.person_id
        mapping.person = None
        if ignored:
            mapping.state, mapping.message = EmployeeMapping.State.IGNORED, ""
        else:
            mapping.state, mapping.message = EmployeeMapping.State.UNMATCHED, NOT_LINKED_MESSAGE
        mapping.save(update_fields=["person", "state", "message", "updated_at"])
        _release_person(person_id=previous_id, connection_id=mapping.connection_id, keep_mapping_id=mapping.pk)
        conflict_messages_refresh(connection_id=mapping.connection_id, emails=[mapping.remote_email])
        mapping.refresh_from_db(fields=["state", "message"])
    return mapping


def mapping_create_person(*, mapping: EmployeeMapping, without_email: bool = False) -> Person:
    """Create a person from the record's last-seen snapshot and link them.

    Name, email and status come from the snapshot (the status through the
    connection's status map; a blank status means active); the next sync
    fills in every other field. Refused (``ValidationError``) when the record
    is linked already, when its email belongs to somebody (link to them
    instead) or when its status is not in the status map.

    ``without_email``: the person is created with no email, for a record
    whose email is somebody else's (two people the source gives one
    address). Syncs then report the record as a conflict, without updating
    the person, until the source gives it an address of its own.
    """
    from connections.sync.planner import status_key

    with transaction.atomic():
        mapping = _locked_mapping(mapping)
        if mapping.person_id is not None:
            raise ValidationError(
                f"Record {mapping.remote_id} is already linked to {mapping.person}: unlink it first."
            )
        email = "" if without_email else email_key(mapping.remote_email)
        if email:
            owner = Person.objects.filter(email__iexact=email).first()
            if owner is not None:
                raise ValidationError(
                    f"{owner} already has the email {email}: link the record to them instead."
                )
        status = Person.Status.ACTIVE.value
        if mapping.remote_status.strip():
            status_map = {
                status_key(k): v
                for k, v in Connection.objects.values_list("status_map", flat=True)
                .get(pk=mapping.connection_id)
                .items()
            }
            status = status_map.get(status_key(mapping.remote_status))
            if status not in Person.Status.values:
                raise ValidationError(
                    f"Status '{mapping.remote_status}' is not in the status map. "
                    "Map it under Settings → Status map first."
                )
        first_name, _, last_name = " ".join(mapping.remote_name.split()).partition(" ")
        if mapping.remote_records and mapping.remote_records[0].get("first_name"):
            # The record's own split of the name, when a conflict kept it.
            first_name = mapping.remote_records[0]["first_name"].strip()
            last_name = (mapping.remote_records[0].get("last_name") or "").strip()
        person = Person(
            first_name=first_name[:150],
            last_name=last_name[:150],
            email=email,
            status=status,
            managed_by_id=mapping.connection_id,
        )
        person.full_clean(exclude=["managed_by"])
        person.save()
        mapping.person = person
        mapping.state = EmployeeMapping.State.LINKED
        mapping.message = ""
        mapping.remote_records = []
        mapping.save(update_fields=["person", "state", "message", "remote_records", "updated_at"])
        conflict_messages_refresh(connection_id=mapping.connection_id, emails=[mapping.remote_email])
    return person


# -- selective sync (which records a connection syncs) -----------------------------

#: Remote ids read per query: well under any database's limit of parameters.
_IDS_PER_QUERY = 2000


class UnknownRecordsError(ValueError):
    """Some of the remote ids asked for are not records of the connection.

    ``remote_ids`` are those ids, in the order given. Raised before anything
    is written: nothing was changed.
    """

    def __init__(self, *, connection: Connection, remote_ids: Sequence[str]) -> None:
        self.remote_ids = list(remote_ids)
        named = ", ".join(shown(rid) for rid in self.remote_ids[:10])
        if len(self.remote_ids) > 10:
            named += f" and {len(self.remote_ids) - 10} more"
        super().__init__(
            f"{connection.name} has no record with the id{'s' if len(self.remote_ids) > 1 else ''} "
            f"{named}, so nothing was changed. A record is known once a sync has read it: "
            "check the ids, or run a sync first."
        )


def _mappings_selected(*, connection: Connection, remote_ids: Iterable[str]) -> list[EmployeeMapping]:
    """The connection's records with ``remote_ids``, locked until the commit
    (in id order, so two admins selecting overlapping pages wait in turn).
    Raises UnknownRecordsError naming the ids that are not its records."""
    wanted = list(dict.fromkeys(remote_ids))
    found: list[EmployeeMapping] = []
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        found.extend(
            EmployeeMapping.objects.select_for_update()
            .filter(connection=connection, remote_id__in=wanted[start:start + _IDS_PER_QUERY])
            .only("id", "remote_id", "person_id", "state", "remote_email")
            .order_by("pk")
        )
    known = {m.remote_id for m in found}
    if unknown := [rid for rid in wanted if rid not in known]:
        raise UnknownRecordsError(connection=connection, remote_ids=unknown)
    return found


def mappings_include(*, connection: Connection, remote_ids: Iterable[str]) -> int:
    """Include records of ``connection`` in its syncs again (selective sync,
    DESIGN §5.9). Returns how many were excluded and now are not.

    A record excluded after it was linked still has its person and is
    linked again, so the next sync updates them; unless that person was
    linked to, or is managed by, another connection meanwhile, when the
    record becomes unmatched like any other. A record without a person
    becomes unmatched: the next sync links it by email or creates a person,
    and invites them when the connection sends credential notifications.
    Records that are included already are left as they are. Unknown ids
    raise ``UnknownRecordsError`` and change nothing. In a fixed number of
    queries, whatever the number of ids.
    """
    State = EmployeeMapping.State
    with transaction.atomic():
        excluded = [
            m for m in _mappings_selected(connection=connection, remote_ids=remote_ids) if m.state == State.EXCLUDED
        ]
        if not excluded:
            return 0
        # Locked as ``mapping_link`` locks its person: a link made elsewhere
        # meanwhile is seen, and none is made while this one is decided.
        held = sorted({m.person_id for m in excluded if m.person_id is not None})
        managers = dict(
            Person.objects.select_for_update().filter(pk__in=held).order_by("pk").values_list("pk", "managed_by_id")
        )
        linked = set(
            EmployeeMapping.objects.filter(person_id__in=held, state=State.LINKED).values_list("person_id", flat=True)
        )
        free = {
            person_id
            for person_id, manager_id in managers.items()
            if person_id not in linked and manager_id in (None, connection.pk)
        }
        relinked = [m.pk for m in excluded if m.person_id in free]
        unmatched = [m for m in excluded if m.person_id not in free]
        now = timezone.now()
        EmployeeMapping.objects.filter(pk__in=relinked).update(state=State.LINKED, message="", updated_at=now)
        EmployeeMapping.objects.filter(pk__in=[m.pk for m in unmatched]).update(
            state=State.UNMATCHED, person=None, message=NOT_LINKED_MESSAGE, remote_records=[], updated_at=now
        )
        # The connection holds its people again (their fields are its to write).
        Person.objects.filter(pk__in=free, managed_by__isnull=True).update(managed_by=connection, updated_at=now)
        # The waiting ones say what the next sync does with them; and those
        # sharing an email with any of them are told again too.
        conflict_messages_refresh(connection_id=connection.pk, emails=[m.remote_email for m in excluded])
    return len(excluded)


def mappings_exclude(*, connection: Connection, remote_ids: Iterable[str]) -> int:
    """Leave records of ``connection`` out of its syncs (selective sync,
    DESIGN §5.9): syncs skip them, with the reason, and create or change
    nobody for them. Returns how many were included and now are not.

    Excluding a linked record unlinks nothing and deactivates nobody: the
    record keeps its person, who stays in the directory as they are and is
    no longer updated, nor deactivated when the record leaves the source,
    until the record is included again (``mappings_include``). A record in
    conflict stops claiming its email, so the records it collided with are
    told again what the next sync does with them; an ignored record becomes
    an excluded one. Unknown ids raise ``UnknownRecordsError`` and change
    nothing. In a fixed number of queries, whatever the number of ids.
    """
    State = EmployeeMapping.State
    with transaction.atomic():
        included = [
            m for m in _mappings_selected(connection=connection, remote_ids=remote_ids) if m.state != State.EXCLUDED
        ]
        if not included:
            return 0
        EmployeeMapping.objects.filter(pk__in=[m.pk for m in included]).update(
            state=State.EXCLUDED, message="", remote_records=[], updated_at=timezone.now()
        )
        conflict_messages_refresh(connection_id=connection.pk, emails=[m.remote_email for m in included])
    return len(included)


@dataclass(slots=True)
class ConflictResolution:
    """What ``conflict_group_resolve`` did."""

    kept: EmployeeMapping | None = None
    person: Person | None = None
    #: True when the kept record was linked to a person who was there already.
    linked: bool = False
    ignored: list[EmployeeMapping] = field(default_factory=list)
    created: list[Person] = field(default_factory=list)
    #: People created without the email the source gives them (it was taken).
    without_email: list[Person] = field(default_factory=list)


#: What happens to the records of a group that are not kept.
OTHERS_IGNORE = "ignore"
OTHERS_CREATE = "create"


def conflict_group_resolve(
    *,
    connection: Connection,
    mapping_ids: Sequence[int],
    keep_id: int | None,
    others: str,
) -> ConflictResolution:
    """Settle a group of colliding records (``mappings.selectors.conflict_group_list``) at once.

    The kept record (``keep_id``; None keeps none) is linked to the person
    who has its email, or, when nobody has it, a person is created from it.
    Every other record of ``mapping_ids`` is ignored (``OTHERS_IGNORE``) or
    becomes a new person of its own (``OTHERS_CREATE``: created without the
    email when that is somebody's already). All of it or nothing: any
    refusal of ``mapping_link``, ``mapping_ignore`` or
    ``mapping_create_person`` (which lock their rows) raises
    ``ValidationError`` and undoes the rest. Records of other connections, or
    ids that no longer exist, are refused as well: the page was out of date.
    """
    if others not in (OTHERS_IGNORE, OTHERS_CREATE):
        raise ValidationError("Choose what happens to the other records.")
    wanted = set(mapping_ids)
    if keep_id is not None and keep_id not in wanted:
        raise ValidationError("Choose one of the records of this group to keep.")
    if keep_id is None and others == OTHERS_CREATE:
        raise ValidationError("Choose the record to keep, or ignore them all.")
    result = ConflictResolution()
    with transaction.atomic():
        # Locked in id order, so two admins settling overlapping groups wait in turn.
        mappings = list(
            EmployeeMapping.objects.select_for_update()
            .filter(connection=connection, pk__in=wanted)
            .order_by("pk")
        )
        if len(mappings) != len(wanted) or any(m.state == EmployeeMapping.State.IGNORED for m in mappings):
            raise ValidationError("These records changed since the page was shown. Look at them again below.")
        kept = next((m for m in mappings if m.pk == keep_id), None)
        rest = [m for m in mappings if m is not kept]
        if others == OTHERS_CREATE and (linked := [m for m in rest if m.person_id is not None]):
            raise ValidationError(
                f"{linked[0].remote_name or linked[0].remote_id} is linked to {linked[0].person}: "
                "keep that record, or ignore the others."
            )
        if others == OTHERS_IGNORE:
            # First, so a person one of them held is free for the kept record.
            for mapping in rest:
                result.ignored.append(mapping_ignore(mapping=mapping, ignored=True))
        if kept is not None:
            result.kept = kept
            if kept.person_id is not None and kept.state == EmployeeMapping.State.LINKED:
                result.person = kept.person
            else:
                key = email_key(kept.remote_email)
                owner = Person.objects.filter(email__iexact=key).first() if key else None
                if owner is not None:
                    mapping_link(mapping=kept, person=owner)
                    result.person, result.linked = owner, True
                else:
                    result.person = mapping_create_person(mapping=kept)
        if others == OTHERS_CREATE:
            for mapping in rest:
                key = email_key(mapping.remote_email)
                taken = bool(key) and Person.objects.filter(email__iexact=key).exists()
                person = mapping_create_person(mapping=mapping, without_email=taken)
                result.created.append(person)
                if taken:
                    result.without_email.append(person)
    return result


# -- depot mappings (the Depots tab) ---------------------------------------------


@dataclass(slots=True)
class DepotMappingsSaved:
    """What ``depot_mappings_save`` did."""

    #: How many of the connection's locations are mapped now.
    mapped: int
    #: (name typed, depot used): a typed name that matched an existing depot.
    matched: list[tuple[str, str]] = field(default_factory=list)
    #: Names of the depots created.
    created: list[str] = field(default_factory=list)


def depot_mappings_save(
    *,
    connection: Connection,
    depot_ids: Mapping[int, int | None],
    new_depot_names: Mapping[int, str] | None = None,
) -> DepotMappingsSaved:
    """Point many remote locations of ``connection`` at depots in one go.

    ``depot_ids`` maps a DepotMapping id to a depot id (None: not mapped);
    ``new_depot_names`` maps a DepotMapping id to the name of a depot to use
    instead, found ignoring case or created. Ids of other connections'
    mappings are ignored; unknown depot ids raise ``ValidationError``. Only
    rows that change are written (and get a new ``updated_at``); a location
    the sync had mapped by name is the admin's choice from then on. Returns
    how many locations are mapped afterwards, and which typed names matched
    a depot or created one, for the page to say so.
    """
    new_depot_names = {
        mapping_id: " ".join(name.split())
        for mapping_id, name in (new_depot_names or {}).items()
        if name and name.strip()
    }
    with transaction.atomic():
        mappings = {
            m.pk: m
            for m in DepotMapping.objects.select_for_update()
            .filter(connection=connection)
            .only("id", "depot_id", "remote_location_id", "remote_name")
        }
        wanted_ids = {int(d) for d in depot_ids.values() if d is not None}
        known = set(Depot.objects.filter(pk__in=wanted_ids).values_list("pk", flat=True))
        if wanted_ids - known:
            raise ValidationError("A chosen depot no longer exists. Reload the page and try again.")

        saved = DepotMappingsSaved(mapped=0)
        by_name: dict[str, Depot] = {}
        for name in sorted(set(new_depot_names.values()), key=str.casefold):
            key = name.casefold()
            if key in by_name:
                continue
            depot = Depot.objects.filter(name__iexact=name).order_by("pk").first()
            if depot is None:
                depot = Depot(name=name)
                depot.full_clean()
                depot.save()
                saved.created.append(depot.name)
            else:
                saved.matched.append((name, depot.name))
            by_name[key] = depot

        now = timezone.now()
        changed = []
        for mapping_id, mapping in mappings.items():
            if mapping_id in new_depot_names:
                depot_id = by_name[new_depot_names[mapping_id].casefold()].pk
            elif mapping_id in depot_ids:
                depot_id = None if depot_ids[mapping_id] is None else int(depot_ids[mapping_id])
            else:
                continue
            if depot_id != mapping.depot_id:
                mapping.depot_id, mapping.matched_by_name, mapping.updated_at = depot_id, False, now
                changed.append(mapping)
        DepotMapping.objects.bulk_update(changed, ["depot", "matched_by_name", "updated_at"], batch_size=1000)
        saved.mapped = sum(1 for m in mappings.values() if m.depot_id is not None)
        return saved
