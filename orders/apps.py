from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from channels.models import Channel
        from orders.selectors import webhook_channels_forget

        post_save.connect(webhook_channels_forget, sender=Channel, dispatch_uid="webhook_channels")
        post_delete.connect(
            webhook_channels_forget, sender=Channel, dispatch_uid="webhook_channels"
        )
