"""Mappings between a connection's remote records and the directory.

Keyword-only, typed functions named ``<noun>_<verb>`` (DESIGN §8).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from connections.models import Connection
from hrsync.people.models import Depot, Person
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
            defaults={"depot": depot},
        )
    return mapping


# -- employee mappings (the Employees tab) ---------------------------------------

#: The message an unlinked (or un-ignored) record carries until the next sync.
NOT_LINKED_MESSAGE = (
    "Not linked to anybody: the next sync links this record to the person with its email, "
    "or creates a new person."
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
            .only("remote_id")
            .first()
        )
        if other is not None:
            raise ValidationError(
                f"{locked_person} is already linked to record {other.remote_id} of this connection. "
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
        mapping.save(update_fields=["person", "state", "message", "updated_at"])
        if locked_person.managed_by_id != mapping.connection_id:
            locked_person.managed_by_id = mapping.connection_id
            locked_person.save(update_fields=["managed_by", "updated_at"])
        if previous_id != locked_person.pk:
            _release_person(
                person_id=previous_id, connection_id=mapping.connection_id, keep_mapping_id=mapping.pk
            )
    return mapping


def mapping_unlink(*, mapping: EmployeeMapping) -> EmployeeMapping:
    """Detach a record from its person.

    The record becomes ``person=None, state=conflict`` with
    ``NOT_LINKED_MESSAGE``: it waits in the Employees tab, and the next sync
    treats it like a record seen for the first time (link by email, else
    create) and writes the outcome to the mapping. ``state=linked`` with no
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
        mapping.state = EmployeeMapping.State.CONFLICT
        mapping.message = NOT_LINKED_MESSAGE
        mapping.save(update_fields=["person", "state", "message", "updated_at"])
        _release_person(person_id=previous_id, connection_id=mapping.connection_id, keep_mapping_id=mapping.pk)
    return mapping


def mapping_ignore(*, mapping: EmployeeMapping, ignored: bool) -> EmployeeMapping:
    """Ignore a record (syncs leave it out) or stop ignoring it.

    Ignoring releases the person the record held (``person=None``, their
    ``managed_by`` cleared): an ignored record neither updates nor
    deactivates anybody. Un-ignoring puts the record in the unlinked state of
    ``mapping_unlink``, so the next sync matches it again by email or creates
    a person.
    """
    with transaction.atomic():
        mapping = _locked_mapping(mapping)
        previous_id = mapping.person_id
        mapping.person = None
        if ignored:
            mapping.state, mapping.message = EmployeeMapping.State.IGNORED, ""
        else:
            mapping.state, mapping.message = EmployeeMapping.State.CONFLICT, NOT_LINKED_MESSAGE
        mapping.save(update_fields=["person", "state", "message", "updated_at"])
        _release_person(person_id=previous_id, connection_id=mapping.connection_id, keep_mapping_id=mapping.pk)
    return mapping


def mapping_create_person(*, mapping: EmployeeMapping) -> Person:
    """Create a person from the record's last-seen snapshot and link them.

    Name, email and status come from the snapshot (the status through the
    connection's status map; a blank status means active); the next sync
    fills in every other field. Refused (``ValidationError``) when the record
    is linked already, when its email belongs to somebody (link to them
    instead) or when its status is not in the status map.
    """
    from connections.sync.planner import status_key

    with transaction.atomic():
        mapping = _locked_mapping(mapping)
        if mapping.person_id is not None:
            raise ValidationError(
                f"Record {mapping.remote_id} is already linked to {mapping.person}: unlink it first."
            )
        email = mapping.remote_email.strip().lower()
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
        mapping.save(update_fields=["person", "state", "message", "updated_at"])
    return person


# -- depot mappings (the Depots tab) ---------------------------------------------


def depot_mappings_save(
    *,
    connection: Connection,
    depot_ids: Mapping[int, int | None],
    new_depot_names: Mapping[int, str] | None = None,
) -> int:
    """Point many remote locations of ``connection`` at depots in one go.

    ``depot_ids`` maps a DepotMapping id to a depot id (None: not mapped);
    ``new_depot_names`` maps a DepotMapping id to the name of a depot to use
    instead, found ignoring case or created. Ids of other connections'
    mappings are ignored; unknown depot ids raise ``ValidationError``. Only
    rows that change are written (and get a new ``updated_at``). Returns how
    many of the connection's locations are mapped afterwards.
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
                mapping.depot_id, mapping.updated_at = depot_id, now
                changed.append(mapping)
        DepotMapping.objects.bulk_update(changed, ["depot", "updated_at"], batch_size=1000)
        return sum(1 for m in mappings.values() if m.depot_id is not None)
