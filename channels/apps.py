from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"

    def ready(self) -> None:
        # Catalog (below) shows a product's listings and checks a price rule's channel codes
        # with the reads registered here.
        from django.urls import reverse
        from django.utils.http import urlencode

        from catalog.selectors import (
            channel_codes_register,
            product_action_register,
            product_read_register,
        )
        from channels.selectors import channel_codes, product_listings
        from inventory.signals import stock_changed

        product_read_register("listings", product_listings)
        product_action_register(
            "Publish to channels",
            "channels.publish_listing",
            lambda product: f"{reverse('channels:publish')}?{urlencode({'sku': product.sku})}",
        )
        channel_codes_register(channel_codes)
        stock_changed.connect(_stock_changed, dispatch_uid="channels_stock_changed")


def _stock_changed(sender, *, product_ids, now, **kwargs) -> None:
    """Movements were written (in this transaction): queue these products' ATP push."""
    from channels import services

    services.stock_changed(product_ids=product_ids, now=now)
