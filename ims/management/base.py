"""The base of IMS's management commands."""

from django.core.management.base import BaseCommand

from ims.audit import audit_origin, current_origin


class AuditedCommand(BaseCommand):
    """A command is the origin of what it records: `command ingest`, `command sync` …"""

    def execute(self, *args, **options):
        if current_origin():
            return super().execute(*args, **options)
        with audit_origin(f"command {self.__module__.rsplit('.', 1)[-1]}"):
            return super().execute(*args, **options)
