from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self):
        # The product page (catalog, below) shows the stock and movements read here.
        from django.urls import reverse
        from django.utils.http import urlencode

        from catalog.selectors import product_action_register, product_read_register
        from inventory.selectors import product_movements, product_stock

        product_read_register("stock", product_stock)
        product_read_register("movements", product_movements)
        # … and offers receiving a delivery of the product (the stock page, back to it after).
        product_action_register(
            "Receive stock",
            "inventory.receive_stock",
            lambda product: f"{reverse('stock:receive')}?{urlencode({'sku': product.sku})}",
        )
        # … and sending some of it to another location (the transfers page, SKU filled in).
        product_action_register(
            "Send a transfer",
            "inventory.add_transfer",
            lambda product: f"{reverse('stock:transfers')}?{urlencode({'sku': product.sku})}",
        )
