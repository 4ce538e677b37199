from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"

    def ready(self) -> None:
        from inventory.signals import stock_changed

        stock_changed.connect(_stock_changed, dispatch_uid="channels_stock_changed")


def _stock_changed(sender, *, product_ids, now, **kwargs) -> None:
    """Movements were written (in this transaction): queue these products' ATP push."""
    from channels import services

    services.stock_changed(product_ids=product_ids, now=now)
