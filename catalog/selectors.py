"""Reads of the catalog: searching products, one product whole, prices waiting for approval,
the rules in force, prices that break them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from catalog.governance import KeptOut
from catalog.gtin import gtin14_or_none
from catalog.models import Category, Price, PriceStatus, Product
from catalog.rules import PricePolicy, policies, price_rule_check
from exceptions.selectors import open_exceptions, price_sync_blocked


def prices_breaking_rules(
    *, products: QuerySet[Product] | None = None, product_ids=None
) -> list[KeptOut]:
    """Products whose price in force breaks the rules in force now (a rule tightened under it).

    The sync engine leaves these prices out of a push (with exceptions.selectors
    .price_sync_blocked); price_rule_update raises a Price_Rule_Violation for each.
    """
    queryset = Product.objects.all() if products is None else products
    if product_ids is not None:
        queryset = queryset.filter(pk__in=list(product_ids))
    by_category = policies()
    broken = []
    rows = (
        queryset.filter(price__isnull=False)
        .order_by("pk")
        .values_list("pk", "sku", "category_id", "price", "mrp", "cost", "currency")
        .iterator(chunk_size=5000)
    )
    for pk, sku, category_id, price, mrp, cost, currency in rows:
        rule = price_rule_check(
            offer=price, mrp=mrp, cost=cost, policy=by_category.get(category_id, PricePolicy())
        )
        if rule:
            broken.append(KeptOut(pk, sku, rule, price, currency))
    return broken


def prices_pending_approval() -> QuerySet[Price]:
    """Changes for luxury categories waiting for a Superadmin, oldest first."""
    return (
        Price.objects.filter(status=PriceStatus.PENDING)
        .select_related("product", "product__category", "created_by")
        .order_by("created_at", "pk")
    )


def price_history(*, product: Product) -> QuerySet[Price]:
    """A product's prices, newest first, whatever became of them."""
    return (
        Price.objects.filter(product=product)
        .select_related("created_by", "decided_by")
        .order_by("-created_at", "-pk")[:20]
    )


@dataclass(frozen=True)
class RuleRow:
    """A category as written (blank inherits the default) and the policy that applies to it."""

    category: Category
    policy: PricePolicy
    products: int


def price_rule_rows() -> list[RuleRow]:
    """Every category's rules, the default `*` first."""
    by_id = policies()
    categories = Category.objects.annotate(n=Count("products")).order_by("name")
    rows = [RuleRow(c, by_id[c.id], c.n) for c in categories]
    rows.sort(key=lambda r: (r.category.name != Category.DEFAULT, r.category.name))
    return rows


def prices_to_push(*, product_ids) -> dict[int, Decimal]:
    """The HQ price to send for each product of a push batch, leaving out every blocked one:
    an open Price_Rule_Violation without a channel (a price kept out, awaiting a valid one), a
    price in force that breaks the rules in force now, or no price at all. Stock is not this
    selector's business: a blocked SKU's quantity goes out all the same."""
    product_ids = list(product_ids)
    blocked = price_sync_blocked(product_ids)
    blocked |= {k.product_id for k in prices_breaking_rules(product_ids=product_ids)}
    return {
        pk: price
        for pk, price in Product.objects.filter(pk__in=product_ids, price__isnull=False)
        .exclude(pk__in=blocked)
        .values_list("pk", "price")
    }


def product_matching(text: str) -> Q:
    """Products whose SKU starts with `text`, whose name holds it, or whose barcode (any GTIN
    form) it is."""
    condition = Q(sku__startswith=text) | Q(name__icontains=text)
    gtin = gtin14_or_none(text)
    return condition | Q(gtin=gtin) if gtin else condition


def product_search(*, q: str = "", category: str = "", status: str = "") -> QuerySet[Product]:
    """Products by SKU prefix, name words or barcode (any GTIN form), in SKU order."""
    products = Product.objects.select_related("category", "style")
    q = q.strip()
    if q:
        products = products.filter(product_matching(q))
    if category:
        products = products.filter(category__name=category)
    if status:
        products = products.filter(status=status)
    return products.order_by("sku")


@dataclass
class ProductDetail:
    product: Product
    prices: list
    exceptions: list
    variants: list
    # Filled by the apps above catalog (product_read_register): inventory, channels.
    stock: list = field(default_factory=list)
    listings: list = field(default_factory=list)
    movements: list = field(default_factory=list)


def product_detail(*, product: Product) -> ProductDetail:
    return ProductDetail(
        product=product,
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
        variants=list(product.style.variants.exclude(pk=product.pk).order_by("sku"))
        if product.style_id
        else [],
        **{name: read(product) for name, read in _PRODUCT_READS.items()},
    )


# ---------------------------------------------------------------------------
# What the apps above catalog lend its pages. Catalog imports none of them (they depend on it,
# not the other way): each registers its reads from its AppConfig.ready (inventory: a
# product's stock and movements; channels: its listings and the channel codes a price rule
# may name), and catalog calls what is registered.

_PRODUCT_READS: dict[str, Callable[[Product], list]] = {}
_CHANNEL_CODES: list[Callable[[], set[str]]] = []
_PRODUCT_ACTIONS: list[tuple[str, str, Callable[[Product], str]]] = []


def product_read_register(name: str, read: Callable[[Product], list]) -> None:
    """Show `read(product)` as ProductDetail.<name> (stock, listings, movements)."""
    if name not in ("stock", "listings", "movements"):
        raise ValueError(f"ProductDetail has no '{name}'")
    _PRODUCT_READS[name] = read


def product_action_register(label: str, permission: str, url: Callable[[Product], str]) -> None:
    """Offer `label` on the product page, linking to `url(product)`, to holders of
    `permission` (inventory: Receive stock)."""
    _PRODUCT_ACTIONS[:] = [a for a in _PRODUCT_ACTIONS if a[0] != label]
    _PRODUCT_ACTIONS.append((label, permission, url))


def product_actions(*, product: Product, user) -> list[tuple[str, str]]:
    """The (label, url) of each registered action this user may take on the product page."""
    return [(label, url(product)) for label, perm, url in _PRODUCT_ACTIONS if user.has_perm(perm)]


def channel_codes_register(read: Callable[[], set[str]]) -> None:
    _CHANNEL_CODES[:] = [read]


def known_channel_codes() -> set[str]:
    """The channel codes a price rule's excluded_channels may name."""
    return set().union(*(read() for read in _CHANNEL_CODES))
