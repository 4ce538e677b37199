"""Reconcile runs and the exceptions ops staff triage (OpsException)."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from ims.models import optional_user_fk
from ims.money import MONEY


class Discrepancy(models.TextChoices):
    PRICE_MISMATCH = "Price_Mismatch", "Price mismatch"
    STOCK_MISMATCH = "Stock_Mismatch", "Stock mismatch"
    MISSING_SKU = "Missing_SKU", "Missing SKU"
    CHANNEL_ONLY_SKU = "Channel_Only_SKU", "Channel-only SKU"
    # An order line names a SKU IMS does not know: the order holds it (raised by orders).
    UNKNOWN_SKU = "Unknown_SKU", "Unknown SKU"
    CURRENCY_MISMATCH = "Currency_Mismatch", "Currency mismatch"
    # The channel shows another MRP than the product's (PRODUCT.md "MRP parity").
    MRP_MISMATCH = "MRP_Mismatch", "MRP mismatch"
    OVERSELL_RISK = "Oversell_Risk", "Oversell risk"
    PRICE_RULE_VIOLATION = "Price_Rule_Violation", "Price rule violation"
    SYNC_FAILURE = "Sync_Failure", "Sync failure"
    SLA_BREACH = "SLA_Breach", "SLA breach"
    LEAKAGE = "Leakage", "Leakage"


class ExceptionStatus(models.TextChoices):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_STATUSES = (ExceptionStatus.OPEN, ExceptionStatus.ACKNOWLEDGED)


class OpsExceptionQuerySet(models.QuerySet):
    def open(self) -> "OpsExceptionQuerySet":
        """The exceptions still open or acknowledged (not resolved)."""
        return self.filter(status__in=OPEN_STATUSES)


class ExceptionSource(models.TextChoices):
    """What raised an exception; only its raiser resolves it by itself."""

    RECONCILE = "reconcile"
    INGEST = "ingest"
    ORDER = "order"
    SYNC = "sync"
    ERP = "erp"
    SLA = "sla"


class PushStatus(models.TextChoices):
    NONE = "", "—"
    QUEUED = "queued"
    PUSHED = "pushed"
    VERIFIED = "verified"
    FAILED = "failed"


class RunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ReconcileRun(models.Model):
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    channel = models.ForeignKey(
        "channels.Channel", on_delete=models.SET_NULL, null=True, blank=True
    )
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    # The scorecard figures after the run (reconcile.selectors.scorecard_summary).
    figures = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"reconcile #{self.pk} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class OpsException(models.Model):
    """One disagreement, one row per (sku, channel, discrepancy) while it is open."""

    sku_id = models.CharField("SKU", max_length=255)
    # Looked up by exc_product_status and exc_channel_status (each leads with the column): no
    # index of their own, one less for every exception reconcile writes.
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exceptions",
        db_index=False,
    )
    channel = models.ForeignKey(
        "channels.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exceptions",
        db_index=False,
    )
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    discrepancy = models.CharField(max_length=24, choices=Discrepancy.choices)
    expected = models.CharField(max_length=255, blank=True)
    actual = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=12, choices=ExceptionStatus.choices, default=ExceptionStatus.OPEN
    )
    source = models.CharField(max_length=10, choices=ExceptionSource.choices)
    exposure = models.DecimalField(default=0, **MONEY)
    currency = models.CharField(max_length=3, blank=True)
    # The channel shows more than it may sell, or a stock state would go negative.
    oversell = models.BooleanField(default=False)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = optional_user_fk(models.SET_NULL)
    acknowledge_reason = models.CharField(max_length=500, blank=True)
    push_status = models.CharField(
        max_length=10, choices=PushStatus.choices, default=PushStatus.NONE, blank=True
    )
    push_error = models.CharField(max_length=500, blank=True)
    # Not indexed: nothing looks exceptions up by run (runs are kept), and every reconcile
    # moves it on for each open exception, an update PostgreSQL can then keep in place (HOT)
    # instead of adding an entry to every index.
    last_run = models.ForeignKey(
        ReconcileRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    detail = models.JSONField(default=dict, blank=True)

    objects = OpsExceptionQuerySet.as_manager()

    class Meta:
        verbose_name = "exception"
        permissions = [
            ("acknowledge_opsexception", "Can acknowledge exceptions"),
            ("push_opsexception", "Can push corrections for exceptions"),
        ]
        constraints = [
            models.UniqueConstraint(
                F("sku_id"),
                Coalesce("channel", 0),
                F("discrepancy"),
                condition=Q(status__in=OPEN_STATUSES),
                name="one_open_exception_per_sku_channel_discrepancy",
            ),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False)
                | (~Q(status="resolved") & Q(resolved_at__isnull=True)),
                name="exception_resolved_at_iff_resolved",
            ),
        ]
        indexes = [
            # The triage tabs read open rows of one discrepancy in exposure or age order:
            # partial indexes on exactly those rows keep the first page an index scan at any size.
            models.Index(
                "discrepancy",
                F("exposure").desc(),
                "id",
                condition=Q(status__in=OPEN_STATUSES),
                name="exc_open_by_exposure",
            ),
            models.Index(
                fields=["discrepancy", "first_seen", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="exc_open_by_age",
            ),
            # Tab counts under a channel filter: an index-only scan of that channel's open rows.
            models.Index(
                fields=["channel", "discrepancy"],
                condition=Q(status__in=OPEN_STATUSES),
                name="exc_open_by_channel",
            ),
            models.Index(fields=["channel", "status"], name="exc_channel_status"),
            models.Index(fields=["product", "status"], name="exc_product_status"),
            # SKU prefix search (LIKE 'x%'); the pattern opclass applies on PostgreSQL.
            models.Index(
                fields=["sku_id"], opclasses=["varchar_pattern_ops"], name="exc_sku_prefix"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} {self.channel_id or '-'} {self.discrepancy} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
