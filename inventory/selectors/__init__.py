"""Reads of inventory: what the product page shows (catalog.selectors), and the quarantined
units the quarantine page, its export and the API list."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

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


def quarantined_levels(
    *, sku: str = "", location: str = "", keep: int | None = None
) -> QuerySet[StockLevel]:
    """Levels holding quarantined units (customer returns waiting for a decision), by SKU then
    location; `sku` is a SKU prefix, `location` a location code. `keep` (a level's id) stays
    listed with none left: the row just acted on, in view with what became of it."""
    held = Q(quarantined__gt=0) | Q(pk=keep) if keep else Q(quarantined__gt=0)
    levels = StockLevel.objects.filter(held).select_related("product", "location")
    sku = sku.strip()
    if sku:
        levels = levels.filter(product__sku__startswith=sku)
    if location:
        levels = levels.filter(location__code=location)
    return levels.order_by("product__sku", "location__code")


def quarantined_totals(levels: QuerySet[StockLevel]) -> dict[str, int]:
    """What the levels hold: the rows, the SKUs, the locations, and the quarantined units."""
    return levels.aggregate(
        rows=Count("pk"),
        skus=Count("product", distinct=True),
        locations=Count("location", distinct=True),
        units=Coalesce(Sum("quarantined"), 0),
    )


QUARANTINE_COLUMNS = ["sku_id", "name", "location", "quarantined", "available", "damaged"]


def quarantine_rows(levels: QuerySet[StockLevel]):
    """The export's rows, in QUARANTINE_COLUMNS order (streamed)."""
    for level in levels.iterator(chunk_size=2000):
        yield [
            level.product.sku,
            level.product.name,
            level.location.code,
            level.quarantined,
            level.available,
            level.damaged,
        ]
