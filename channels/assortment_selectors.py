"""Reads of what a channel offers: the channel's active products, each with its effective
`offered` and product cap there (no assortment row: offered, no cap of its own), for the
assortment page, its CSV export and the API (one selector, shared by all of them)."""

from __future__ import annotations

from django.db.models import BooleanField, Count, F, FilteredRelation, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from catalog.models import Category, Product, ProductStatus
from channels.models import Channel

OFFERED_CHOICES = [("yes", "offered"), ("no", "withheld")]


def assortment_list(
    *,
    channel: Channel,
    category: Category | None = None,
    sku: str = "",
    offered: str = "",
) -> QuerySet[Product]:
    """The channel's active products by SKU, annotated `offered` (bool) and `cap` (int or
    None); narrowed to a category, a SKU prefix, and `offered` yes / no (else all)."""
    products = (
        Product.objects.filter(status=ProductStatus.ACTIVE)
        .select_related("category")
        .annotate(
            here=FilteredRelation("assortment", condition=Q(assortment__channel=channel)),
            offered=Coalesce(F("here__publish"), Value(True), output_field=BooleanField()),
            cap=F("here__max_units"),
        )
    )
    if category is not None:
        products = products.filter(category=category)
    if sku:
        products = products.filter(sku__istartswith=sku)
    if offered == "yes":
        products = products.filter(offered=True)
    elif offered == "no":
        products = products.filter(offered=False)
    return products.order_by("sku")


def assortment_totals(products: QuerySet[Product]) -> dict[str, int]:
    """How many of these products are offered and withheld."""
    counts = products.order_by().aggregate(
        products=Count("pk"),
        # Named through the join, not the `offered` alias (an aggregate's filter would read the
        # alias as a column).
        offered=Count("pk", filter=Q(here__publish__isnull=True) | Q(here__publish=True)),
    )
    return {**counts, "withheld": counts["products"] - counts["offered"]}


ASSORTMENT_EXPORT_COLUMNS = ["channel", "sku_id", "name", "category", "publish", "max_units"]


def assortment_rows(channel: Channel, products: QuerySet[Product]):
    """The export's rows, in ASSORTMENT_EXPORT_COLUMNS order (the file `ingest assortment`
    reads, with the name and category beside them)."""
    for p in products.iterator(chunk_size=2000):
        yield [
            channel.code,
            p.sku,
            p.name,
            p.category.name,
            "yes" if p.offered else "no",
            "" if p.cap is None else p.cap,
        ]
