"""The SKU master: categories with their price policy, styles and variants, aliases, prices."""

from django.db import models
from django.db.models import Q

from ims.identifiers import validate_identifier
from ims.models import optional_user_fk
from ims.money import MONEY


class Category(models.Model):
    """A product category and its price policy.

    The row named `*` is the default policy; a blank field on a category
    inherits the default's value field by field.
    """

    DEFAULT = "*"

    name = models.CharField(max_length=120, unique=True)
    max_discount_pct = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    min_margin_pct = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    luxury = models.BooleanField(null=True, blank=True)
    # Channel codes the category is withheld from when luxury; null inherits.
    excluded_channels = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_discount_pct__gte=0, max_discount_pct__lte=100)
                | Q(max_discount_pct__isnull=True),
                name="category_max_discount_pct_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Style(models.Model):
    """A parent product grouping variants (sizes, colours) as channels list them."""

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.code


class ProductStatus(models.TextChoices):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Product(models.Model):
    sku = models.CharField("SKU", max_length=64, unique=True, validators=[validate_identifier])
    name = models.CharField(max_length=255)
    barcode = models.CharField(max_length=20, blank=True)
    # The barcode as a GTIN-14, so UPC-A and EAN-13 of one item are one value.
    gtin = models.CharField("GTIN-14", max_length=14, blank=True, db_index=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    uom = models.CharField("unit of measure", max_length=16, blank=True, default="EA")
    cost = models.DecimalField(**MONEY)
    mrp = models.DecimalField("MRP", **MONEY)
    # The offer price in force now, kept current by catalog.services.prices.prices_refresh.
    price = models.DecimalField("offer price", null=True, blank=True, **MONEY)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=ProductStatus.choices, default=ProductStatus.ACTIVE, db_index=True
    )
    style = models.ForeignKey(
        Style, on_delete=models.SET_NULL, null=True, blank=True, related_name="variants"
    )
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gte=0), name="product_cost_not_negative"),
            models.CheckConstraint(condition=Q(mrp__gte=0), name="product_mrp_not_negative"),
        ]

    def __str__(self) -> str:
        return self.sku


class ProductAlias(models.Model):
    """Another name for a product: a channel's id or sku, an ERP code, a second barcode.

    `scope` is the channel code or ERP source the name belongs to; blank means any.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="aliases")
    scope = models.CharField(max_length=64, blank=True)
    value = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "product aliases"
        constraints = [
            models.UniqueConstraint(fields=["scope", "value"], name="product_alias_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scope or '*'}:{self.value} → {self.product_id}"


class PriceSource(models.TextChoices):
    CATALOG = "catalog"
    ERP = "erp"
    HQ = "hq"
    API = "api"


class PriceStatus(models.TextChoices):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PENDING = "pending_approval"


class Price(models.Model):
    """An offer price (and optionally MRP) for a product from an instant on.

    The price in force is the accepted one with the latest start not after now;
    on a tie, the later-ingested (higher id).
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    amount = models.DecimalField(**MONEY)
    mrp = models.DecimalField(null=True, blank=True, **MONEY)
    currency = models.CharField(max_length=3)
    effective_from = models.DateTimeField()
    # The date as written in a prices file (blank: in force from the instant it was ingested).
    effective_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=PriceSource.choices)
    status = models.CharField(
        max_length=20, choices=PriceStatus.choices, default=PriceStatus.ACCEPTED
    )
    rule = models.CharField(max_length=32, blank=True, help_text="the rule a rejected price broke")
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = optional_user_fk(models.SET_NULL)
    # Accepted for a later start: prices_refresh applies it (its MRP too) and records it when due.
    scheduled = models.BooleanField(default=False, db_default=False)
    # Who approved or refused a change that needed a Superadmin's approval, and when.
    decided_by = optional_user_fk(models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("approve_price", "Can approve a price change that needs approval")]
        indexes = [
            models.Index(fields=["product", "status", "effective_from"]),
            models.Index(
                fields=["effective_from"], condition=Q(scheduled=True), name="price_scheduled"
            ),
            models.Index(
                fields=["created_at"], condition=Q(status="pending_approval"), name="price_pending"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="price_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.product_id} {self.amount} {self.currency} from {self.effective_from:%Y-%m-%d}"
        )
