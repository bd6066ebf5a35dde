"""First-run setup for the embedded quick start (idempotent).

Creates an ``admin`` superuser when there is none, and a connection to the
bundled sample roster (with depots for its locations) when there are no
connections, so a new user has something to sync straight away.
"""

import os
import secrets

from django.contrib.auth import get_user_model

from connections.management.cli import OperatorCommand
from connections.models import Connection
from connections.services import connection_connector, connection_create
from connectors.registry import enabled_kinds
from hrsync.people.models import Depot

SAMPLE_NAME = "Sample HR data"


class Command(OperatorCommand):
    help = "Create the first admin login and the sample connection, if missing."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if not User.objects.filter(is_superuser=True).exists():
            password = os.environ.get("HRSYNC_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", email="", password=password)
            if os.environ.get("HRSYNC_ADMIN_PASSWORD"):
                self.stdout.write("Created the admin login 'admin' with HRSYNC_ADMIN_PASSWORD.")
            else:
                # Shown once, on this terminal only; change it after signing in.
                self.stdout.write(
                    self.style.SUCCESS(f"Created the admin login: username 'admin', password '{password}'")
                )
        if "sample" in enabled_kinds() and not Connection.objects.exists():
            connection = connection_create(kind="sample", name=SAMPLE_NAME)
            # Depots named like the roster's locations, so the first sync maps
            # them by name and the demo directory shows people in depots.
            for location in connection_connector(connection=connection).fetch_locations():
                Depot.objects.get_or_create(name=location.name)
            self.stdout.write(f"Created the connection '{connection.name}' (bundled demo roster).")
