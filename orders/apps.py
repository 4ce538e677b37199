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
        from channels.signals import sync_reading

        sync_reading.connect(_pos_sales_before_sync, dispatch_uid="orders_pos_sales_before_sync")


def _pos_sales_before_sync(sender, *, channel, adapter, **kwargs) -> None:
    """A sync is about to read the channel: the sales its own POS made are recorded first,
    through the run's adapter, which then stamps its counts with the read's time."""
    from orders.services.poll import pos_sales_read_quietly

    pos_sales_read_quietly(channel=channel, adapter=adapter)
