from django.apps import AppConfig


class OrchestrationConfig(AppConfig):
    """The top: what runs several apps in turn (ingest, export, the demo, the ERP night, a sync
    with its reconcile), the commands and schedules that start them, and the root URLconfs.
    No models; nothing below imports it."""

    name = "orchestration"
