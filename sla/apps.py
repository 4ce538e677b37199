from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from orders.signals import order_event
        from sla.models import EscalationStep, SlaPolicy
        from sla.services import policies_forget

        order_event.connect(_order_event, dispatch_uid="sla_order_event")
        for model in (SlaPolicy, EscalationStep):
            for signal in (post_save, post_delete):
                signal.connect(policies_forget, sender=model, dispatch_uid="sla_policies")


def _order_event(sender, *, order, event, at, **kwargs) -> None:
    """An order changed (in this transaction): start and stop its clocks."""
    from sla import services

    services.order_event_record(order=order, event=event, at=at)
