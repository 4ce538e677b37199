"""ERP sources (where stock, catalog and prices come from), and the record of every morning
reset and every hand-over export."""

from django.db import models
from django.db.models import Q

from ims.models import optional_user_fk
from inventory.models import Location


class ErpKind(models.TextChoices):
    NETSUITE = "netsuite", "NetSuite (SuiteQL over REST)"
    ODOO = "odoo", "Odoo (JSON-2 API)"
    SAP_B1 = "sap_b1", "SAP Business One (Service Layer)"
    FISHBOWL = "fishbowl", "Fishbowl Advanced (REST)"
    RETAILPRO = "retailpro", "Retail Pro (file export)"
    FILE = "file", "File drop"


FILE_KINDS = (ErpKind.RETAILPRO, ErpKind.FILE)


class ErpSource(models.Model):
    """One ERP IMS reads from. Its secrets live in the environment, never here:
    IMS_ERP_<CODE>_<SECRET> (see erp.adapters.base.SourceConfig)."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=12, choices=ErpKind.choices)
    # An API's root (https://…), or for file kinds the folder its files are dropped in.
    base_url = models.CharField(max_length=500, blank=True)
    # The IMS locations this ERP is the authority for (none: every location); a reset is
    # full over these.
    locations = models.ManyToManyField(Location, blank=True, related_name="erp_sources")
    # The LocationAlias / ProductAlias scope its codes are written in.
    alias_scope = models.CharField(max_length=64, default="erp")
    # The nightly run's time, HH:MM UTC; blank: no schedule.
    schedule = models.CharField(max_length=5, blank=True)
    # Per-system settings that are not secret (NetSuite account id, Odoo database, SAP company
    # database and price list, Fishbowl app id, a file's column names …).
    options = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    last_pulled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(schedule="") | Q(schedule__regex=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
                name="erp_source_schedule_hh_mm",
            )
        ]

    def __str__(self) -> str:
        return self.code


class RunStatus(models.TextChoices):
    APPLIED = "applied"
    REJECTED = "rejected", "rejected (nothing applied)"
    FAILED = "failed"


class ResetRun(models.Model):
    """One `erp_reset`: the file, its as-of time, what it changed, or why it was refused."""

    source = models.ForeignKey(
        ErpSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="resets"
    )
    file_name = models.CharField(max_length=500)
    as_of = models.DateTimeField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    rows_read = models.PositiveBigIntegerField(default=0)
    kept = models.PositiveBigIntegerField(default=0)
    # Rows outside the reset's scope, by reason (inactive product, unknown SKU, …).
    skipped = models.JSONField(default=dict, blank=True)
    # (product, location) pairs of the reset, and how many of them changed.
    pairs = models.PositiveBigIntegerField(default=0)
    changed = models.PositiveBigIntegerField(default=0)
    # Pairs the file omits (set to the ERP count 0) and the units they held before.
    omitted = models.PositiveBigIntegerField(default=0)
    omitted_units = models.BigIntegerField(default=0)
    variance_total = models.BigIntegerField(default=0)
    shortfalls = models.PositiveIntegerField(default=0)
    variance_file = models.CharField(max_length=500, blank=True)
    # Seconds spent in each phase (read and load, plan, apply, exceptions, variance file).
    timings = models.JSONField(default=dict, blank=True)
    # The problems of a refused file (the first ones), or notes on an applied one.
    messages = models.JSONField(default=list, blank=True)
    actor = optional_user_fk(models.SET_NULL)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"ERP reset {self.file_name} as of {self.as_of:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def ref(self) -> str:
        """What its movements name as their cause."""
        return f"erp_reset:{self.pk}"


class ExportRun(models.Model):
    """One `erp_export`: the movements handed over to the ERP at `exported_at`."""

    exported_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    movements = models.PositiveBigIntegerField(default=0)
    # Movements handed over, by kind (shipment, customer_return, transfer, …).
    by_kind = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=list, blank=True)
    # What each ERP source's adapter did with it (sent, not accepted, failed: why).
    sources = models.JSONField(default=dict, blank=True)
    messages = models.JSONField(default=list, blank=True)
    actor = optional_user_fk(models.SET_NULL)

    class Meta:
        ordering = ["-exported_at", "-id"]

    def __str__(self) -> str:
        return f"ERP export {self.exported_at:%Y-%m-%d %H:%M} ({self.movements} movements)"
