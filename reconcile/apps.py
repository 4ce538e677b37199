from django.apps import AppConfig


class ReconcileConfig(AppConfig):
    """Reconcile runs, the scorecard reports and evaluation, the triage pages and API: the
    reads over every app below; no models of its own (it writes exceptions.OpsException)."""

    name = "reconcile"
