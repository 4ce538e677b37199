"""Sales channels, the locations they sell from, and what each channel shows (listings)."""

import math
import re
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Replace, Upper

from catalog.models import Product
from ims.models import optional_user_fk
from ims.money import MONEY
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


def secrets_name(code: str) -> str:
    """The part of a channel's secret names its code gives: `shop-a` and `shop_a` → SHOP_A."""
    return re.sub(r"[^A-Z0-9]", "_", code.upper())


# The same name in SQL, for a code (letters, digits, '-', '_'): upper case, '-' as '_'.
SECRETS_NAME_SQL = Replace(Upper("code"), Value("-"), Value("_"))


def secrets_clash(code: str, other: str) -> str:
    """Why `code` cannot be a channel next to `other`: both would read the same secrets."""
    return f"'{code}' would read the same secrets (IMS_CHANNEL_{secrets_name(code)}_…) as {other}"


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
    # The quantity policy (PRODUCT.md "Channel assortment and quantity policy"; Channel.atp):
    # the share of the stock the channel sees, the safety buffer (whole units, or a percentage
    # of the stock rounded up per product), zero at or below `zero_at`, at most `max_units`.
    share_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(100))
    buffer_units = models.PositiveIntegerField(default=0)
    buffer_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    zero_at = models.PositiveIntegerField(default=0)
    max_units = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    base_url = models.URLField(blank=True)
    locations = models.ManyToManyField(Location, through="ChannelLocation", related_name="channels")
    last_snapshot_at = models.DateTimeField(null=True, blank=True)
    # Since when a flush of this channel's pending stock pushes is queued for the workers (none:
    # the next stock change queues one). One at a time, so a burst of orders is one push.
    push_flush_at = models.DateTimeField(null=True, blank=True)
    # The mass-change breaker (blank: the IMS_SYNC_MAX_CHANGE_PCT / IMS_SYNC_MAX_ZERO_PCT defaults):
    # a push that would change more than this share of the channel's listings, or set more than
    # this share to zero, halts for an admin to approve.
    breaker_change_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    breaker_zero_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

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
            models.CheckConstraint(
                condition=Q(share_pct__gte=0, share_pct__lte=100), name="channel_share_pct_0_100"
            ),
            # Two codes, one set of credentials: the second channel would call as the first.
            models.UniqueConstraint(SECRETS_NAME_SQL, name="channel_secrets_name_unique"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def safety_buffer(self) -> str:
        """The buffer as written in the channels file: `5` or `10%`."""
        if self.buffer_pct is not None:
            return f"{self.buffer_pct.normalize():f}%"
        return str(self.buffer_units)

    def atp(self, available: int, *, max_units: int | None = None) -> int:
        """Available to promise on this channel from the units available at its locations
        (A), by its quantity policy, in PRODUCT.md's order: floor(A × share_pct / 100), minus
        the buffer (taken on A: units, or ceil(buffer_pct × A / 100)), never below 0, 0 at or
        below `zero_at`, at most the cap (the product's own `max_units` on this channel, else
        the channel's). The one place a channel's ATP is worked out: reconcile, sync, the
        scorecard, publishing and the demo's gold call it (or `atp_rule`, the same for many
        products)."""
        return self.atp_rule()(available, max_units)

    def atp_rule(self) -> Callable[[int, int | None], int]:
        """`atp` for many products at once (reconcile and sync call it per product on every
        channel): the policy read once, in whole numbers where the share and the buffer
        percentage are whole (the usual case), exact Decimal arithmetic where they are not."""
        share, pct = Decimal(self.share_pct), self.buffer_pct
        units, zero_at, channel_cap = self.buffer_units, self.zero_at, self.max_units
        whole_share = int(share) if share == share.to_integral_value() else None
        if pct is not None:
            pct = Decimal(pct)
        whole_pct = int(pct) if pct is not None and pct == pct.to_integral_value() else None

        def rule(available: int, max_units: int | None = None) -> int:
            if whole_share is not None:
                seen = available * whole_share // 100
            else:
                seen = math.floor(Decimal(available) * share / 100)
            if pct is None:
                buffer = units
            elif whole_pct is not None:
                buffer = -(-available * whole_pct // 100)  # ceil
            else:
                buffer = math.ceil(pct * available / 100)
            atp = seen - buffer
            if atp < 0 or (zero_at and atp <= zero_at):
                atp = 0
            cap = channel_cap if max_units is None else max_units
            return atp if cap is None or atp <= cap else cap

        return rule

    @property
    def env_prefix(self) -> str:
        """Where this channel's secrets live: IMS_CHANNEL_<CODE>_<SECRET>."""
        return "IMS_CHANNEL_" + secrets_name(self.code) + "_"

    def secrets_owner(self) -> "Channel | None":
        """Another channel whose code reads the same secrets as this one's, if any."""
        name = secrets_name(self.code)
        return (
            Channel.objects.alias(secrets=SECRETS_NAME_SQL)
            .filter(secrets=name)
            .exclude(pk=self.pk)
            .first()
        )

    def validate_constraints(self, exclude=None):
        """The form's error names the channel that already reads these secrets."""
        errors = {}
        exclude = set(exclude or ())
        if "code" not in exclude and self.code and (owner := self.secrets_owner()):
            errors["code"] = [secrets_clash(self.code, f"channel '{owner.code}'")]
            exclude.add("code")
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


class ChannelAssortment(models.Model):
    """Whether IMS offers a product on a channel (default: every active product is) and its
    own cap there. A withheld product is not a pair checked, never a Missing_SKU there, its
    expected quantity is 0 and sync pushes 0; listed with stock, it is a Stock_Mismatch."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="assortment")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="assortment")
    publish = models.BooleanField(default=True)
    max_units = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "product"], name="channel_assortment_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.product_id} {'yes' if self.publish else 'no'}"


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
    # The MRP the channel shows beside the price (null: it shows none, and none is compared).
    mrp = models.DecimalField("MRP", null=True, blank=True, **MONEY)
    currency = models.CharField(max_length=3, blank=True)
    seen_at = models.DateTimeField()
    # Provider ids read live (variant id, inventory item id, version…) that pushes need.
    ref = models.JSONField(default=dict, blank=True)

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


# ---------------------------------------------------------------------------
# Sync runs: what was planned, sent, refused, and how it went


class SyncStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    # Some SKUs were refused by the provider (each one a Sync_Failure); the rest went out.
    PARTIAL = "partial"
    FAILED = "failed"
    # The mass-change breaker stopped it before anything was sent: an admin approves or discards it.
    HALTED = "halted"
    DISCARDED = "discarded"
    # The worker died mid-run; a later run for the channel took over.
    INTERRUPTED = "interrupted"


class SyncTrigger(models.TextChoices):
    COMMAND = "command"
    SCHEDULE = "schedule"
    STOCK_CHANGED = "stock_changed"
    CORRECTION = "correction"
    PAUSE = "pause"
    APPROVAL = "approval"
    PAGE = "page"


class SyncRun(models.Model):
    """One sync of one channel: the plan (its lines), counts, progress, errors and timing."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="sync_runs")
    mode = models.CharField(max_length=10, choices=SyncMode.choices)
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices)
    status = models.CharField(max_length=12, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    # "live": read through the adapter at the start; "snapshot": the last snapshot ingested.
    source = models.CharField(max_length=10, blank=True)
    # Only these products (a stock change, a correction); empty: the whole channel.
    product_ids = models.JSONField(default=list, blank=True)
    paused = models.BooleanField(
        default=False, help_text="planned as a paused channel: zero availability"
    )
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    listings_read = models.PositiveIntegerField(default=0)
    planned = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    stale = models.PositiveIntegerField(default=0)
    blocked_prices = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    failed_calls = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0, help_text="lines handled so far (progress)")
    error = models.TextField(blank=True)
    halt_reason = models.CharField(max_length=500, blank=True)
    actor = optional_user_fk(models.SET_NULL)
    decided_by = optional_user_fk(models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)
    resumes = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resumed_by"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("approve_syncrun", "Can approve or discard a halted sync run")]
        constraints = [
            models.UniqueConstraint(
                fields=["channel"],
                condition=Q(status="running"),
                name="one_running_sync_per_channel",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "status", "started_at"], name="sync_run_channel")
        ]

    def __str__(self) -> str:
        return f"sync #{self.pk} {self.channel_id} {self.mode} {self.status}"

    @property
    def percent(self) -> int:
        return 100 if not self.planned else min(100, round(self.done * 100 / self.planned))

    @property
    def duration(self):
        return (self.finished_at or self.heartbeat_at) - self.started_at


class LineState(models.TextChoices):
    PLANNED = "planned"  # read_only / dry_run: not to be sent
    PENDING = "pending"  # push: not sent yet
    SENT = "sent"
    FAILED = "failed"
    STALE = "stale"  # not sent: the channel changed since it was read


class SyncLine(models.Model):
    """One differing field of one listed product: sync-plan.csv's row."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    sku_id = models.CharField(max_length=64)
    field = models.CharField(max_length=8)  # quantity | price
    current = models.CharField(max_length=32)
    target = models.CharField(max_length=32)
    state = models.CharField(max_length=8, choices=LineState.choices)
    error = models.CharField(max_length=500, blank=True)
    # Provider ids for the push (variant id, inventory item id…), as read.
    ref = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "sku_id", "field"]
        constraints = [
            models.UniqueConstraint(fields=["run", "product", "field"], name="sync_line_unique"),
        ]
        indexes = [models.Index(fields=["run", "state"], name="sync_line_state")]

    def __str__(self) -> str:
        return f"{self.sku_id} {self.field} {self.current}→{self.target} ({self.state})"


class PushRecord(models.Model):
    """A value IMS sent to a channel: when it echoes back (a webhook, the next read) it is ours,
    not a channel edit."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=8)
    value = models.CharField(max_length=32)
    pushed_at = models.DateTimeField()
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        indexes = [
            models.Index(
                fields=["channel", "product", "field", "pushed_at"], name="push_record_echo"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.product_id} {self.field}={self.value}"


class PendingPush(models.Model):
    """A product whose stock changed and whose ATP is due on a channel (debounced)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "product"], name="pending_push_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.product_id}"


# ---------------------------------------------------------------------------
# Listings IMS creates on a channel (channels.publish)


class PublicationStatus(models.TextChoices):
    PUBLISHED = "published"
    # The channel is in dry-run mode: the writes were worked out, none was sent.
    PREVIEWED = "previewed", "dry run"
    # A marketplace found no single catalogue item to offer the product against.
    UNMATCHED = "unmatched"
    FAILED = "failed"


class ListingPublication(models.Model):
    """One product published (or previewed, or refused) to one channel from IMS: what was sent,
    what the channel answered, by whom."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="publications")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="publications")
    status = models.CharField(max_length=10, choices=PublicationStatus.choices)
    # The new listing's id on the channel (kept as the product's alias there).
    external_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The writes sent (or, in a dry run, that would be sent): [{method, path, body}].
    # Money amounts are kept as their exact digits (a string, never a float).
    requests = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    actor = optional_user_fk(models.SET_NULL)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["product", "channel"], name="publication_product")]
        permissions = [("publish_listing", "Can publish a product to a channel")]

    def __str__(self) -> str:
        return f"{self.product_id} → {self.channel_id}: {self.status}"
