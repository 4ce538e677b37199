"""Reads of the catalog: searching products, and everything about one product."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from catalog.gtin import gtin14_or_none
from catalog.models import Price, Product


def product_search(*, q: str = "", category: str = "", status: str = "") -> QuerySet[Product]:
    """Products by SKU prefix, name words or barcode (any GTIN form), in SKU order."""
    products = Product.objects.select_related("category", "style")
    q = q.strip()
    if q:
        condition = Q(sku__startswith=q) | Q(name__icontains=q)
        gtin = gtin14_or_none(q)
        if gtin:
            condition |= Q(gtin=gtin)
        products = products.filter(condition)
    if category:
        products = products.filter(category__name=category)
    if status:
        products = products.filter(status=status)
    return products.order_by("sku")


@dataclass
class ProductDetail:
    product: Product
    stock: list
    listings: list
    prices: list
    exceptions: list
    movements: list
    variants: list


def product_detail(*, product: Product) -> ProductDetail:
    from channels.models import ChannelListing
    from exceptions.selectors import open_exceptions
    from inventory.models import Movement, StockLevel

    return ProductDetail(
        product=product,
        stock=list(
            StockLevel.objects.filter(product=product)
            .select_related("location")
            .order_by("location__code")
        ),
        listings=list(
            ChannelListing.objects.filter(product=product)
            .select_related("channel")
            .order_by("channel__code")
        ),
        prices=list(
            Price.objects.filter(product=product)
            .select_related("created_by")
            .order_by("-effective_from", "-id")[:20]
        ),
        exceptions=list(
            open_exceptions()
            .filter(product=product)
            .select_related("channel")
            .order_by("discrepancy")
        ),
        movements=list(
            Movement.objects.filter(product=product)
            .select_related("location", "actor")
            .order_by("-created_at", "-id")[:20]
        ),
        variants=list(product.style.variants.exclude(pk=product.pk).order_by("sku"))
        if product.style_id
        else [],
    )
