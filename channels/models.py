"""Sales channels, the locations they sell from, and what each channel shows (listings)."""

import math
import re

from django.db import models
from django.db.models import Q

from catalog.models import MONEY, Product
from inventory.models import Location


class ChannelKind(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    AMAZON = "amazon", "Amazon"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    BIGCOMMERCE = "bigcommerce", "BigCommerce"
    FLIPKART = "flipkart", "Flipkart"
    SQUARE = "square", "Square"
    LIGHTSPEED = "lightspeed", "Lightspeed"
    POS = "pos", "Store POS"
    WHATSAPP = "whatsapp", "WhatsApp"
    FILE = "file", "File drop"


class SyncMode(models.TextChoices):
    READ_ONLY = "read_only", "read only"
    DRY_RUN = "dry_run", "dry run"
    PUSH = "push"


SYNC_MODE_RANK = {SyncMode.READ_ONLY: 0, SyncMode.DRY_RUN: 1, SyncMode.PUSH: 2}


class ChannelStatus(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"


class Channel(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    sync_mode = models.CharField(
        max_length=10, choices=SyncMode.choices, default=SyncMode.READ_ONLY
    )
    status = models.CharField(
        max_length=8, choices=ChannelStatus.choices, default=ChannelStatus.ACTIVE
    )
    pause_reason = models.CharField(max_length=500, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # The safety buffer: whole units, or a percentage (rounded up per product).
    buffer_units = models.PositiveIntegerField(default=0)
    buffer_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3)
    base_url = models.URLField(blank=True)
    locations = models.ManyToManyField(Location, through="ChannelLocation", related_name="channels")
    last_snapshot_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        permissions = [("resume_channel", "Can resume a paused channel")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="active", pause_reason="") | Q(status="paused"),
                name="channel_pause_reason_only_when_paused",
            ),
            models.CheckConstraint(
                condition=Q(buffer_pct__isnull=True) | Q(buffer_units=0),
                name="channel_one_kind_of_buffer",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def safety_buffer(self) -> str:
        """The buffer as written in the channels file: `5` or `10%`."""
        if self.buffer_pct is not None:
            return f"{self.buffer_pct.normalize():f}%"
        return str(self.buffer_units)

    def buffer_for(self, available: int) -> int:
        if self.buffer_pct is not None:
            return math.ceil(self.buffer_pct * available / 100)
        return self.buffer_units

    def atp(self, available: int) -> int:
        """Available to promise on this channel from the units available at its locations."""
        return max(0, available - self.buffer_for(available))

    @property
    def env_prefix(self) -> str:
        """Where this channel's secrets live: IMS_CHANNEL_<CODE>_<SECRET>."""
        return "IMS_CHANNEL_" + re.sub(r"[^A-Z0-9]", "_", self.code.upper()) + "_"


class ChannelLocation(models.Model):
    """A location a channel sells from; `position` orders the channel's preference."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="channel_locations")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["channel", "position"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "location"], name="channel_location_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}#{self.position}: {self.location_id}"


class ChannelListing(models.Model):
    """What a channel shows for one product (or for a name IMS does not know)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="listings")
    # The name the channel used: its sku, else its external id, else the barcode.
    identifier = models.CharField(max_length=255)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="listings"
    )
    sku = models.CharField(max_length=255, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    barcode = models.CharField(max_length=32, blank=True)
    quantity = models.IntegerField()
    price = models.DecimalField(null=True, blank=True, **MONEY)
    currency = models.CharField(max_length=3, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "identifier"], name="channel_listing_identifier_unique"
            ),
            models.UniqueConstraint(
                fields=["channel", "product"],
                condition=Q(product__isnull=False),
                name="channel_listing_product_unique",
            ),
        ]
        indexes = [models.Index(fields=["product", "channel"])]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.identifier}"
