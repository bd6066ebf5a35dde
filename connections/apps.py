from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "HR connections"

    def ready(self) -> None:
        from connectors.outbound import outbound_policy

        # A mistyped HRSYNC_OUTBOUND_ALLOW stops every process at start-up,
        # rather than the first sync that would have needed the exception.
        outbound_policy()
