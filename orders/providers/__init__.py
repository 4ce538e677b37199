"""Webhook providers by channel kind: one module per provider (signature + parsing)."""

from __future__ import annotations

from orders.providers.base import Provider
from orders.providers.bigcommerce import BigCommerce
from orders.providers.flipkart import Flipkart
from orders.providers.ims import Amazon, ImsEvents
from orders.providers.lightspeed import Lightspeed
from orders.providers.shopify import Shopify
from orders.providers.square import Square
from orders.providers.woocommerce import WooCommerce

PROVIDERS: dict[str, Provider] = {
    "shopify": Shopify(),
    "woocommerce": WooCommerce(),
    "bigcommerce": BigCommerce(),
    "square": Square(),
    "amazon": Amazon(),
    "flipkart": Flipkart(),  # polled shipments; IMS's own signed form too
    "lightspeed": Lightspeed(),
    "pos": ImsEvents(),
}


def provider_for(kind: str) -> Provider | None:
    return PROVIDERS.get(kind)
