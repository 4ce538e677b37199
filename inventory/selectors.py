"""Reads of inventory that other apps' pages show (the product page: catalog.selectors)."""

from __future__ import annotations

from catalog.models import Product
from inventory.models import Movement, StockLevel


def product_stock(product: Product) -> list[StockLevel]:
    return list(
        StockLevel.objects.filter(product=product)
        .select_related("location")
        .order_by("location__code")
    )


def product_movements(product: Product) -> list[Movement]:
    """The product's latest 20 movements, newest first."""
    return list(
        Movement.objects.filter(product=product)
        .select_related("location", "actor")
        .order_by("-created_at", "-id")[:20]
    )
