"""Mappings between a connection's remote records and the directory.

Keyword-only, typed functions named ``<noun>_<verb>`` (DESIGN §8).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from connections.models import Connection
from hrsync.people.models import Depot
from mappings.models import DepotMapping


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
