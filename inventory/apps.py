from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self):
        # The product page (catalog, below) shows the stock and movements read here.
        from catalog.selectors import product_read_register
        from inventory.selectors import product_movements, product_stock

        product_read_register("stock", product_stock)
        product_read_register("movements", product_movements)
