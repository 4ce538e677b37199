"""Locations, multi-state stock levels, the append-only movement ledger, and the stock flows
between locations and back to vendors: transfers, vendor returns and their credit notes.

Transfers and vendor returns began in orders: their tables keep the names they had there
(`orders_transfer`, …), set with db_table."""

from django.db import models
from django.db.models import F, Q

from catalog.models import MONEY, Product
from ims.identifiers import validate_identifier
from ims.models import optional_user_fk


class LocationKind(models.TextChoices):
    WAREHOUSE = "warehouse"
    STORE = "store"
    ONLINE = "online"


class Location(models.Model):
    code = models.CharField(max_length=64, unique=True, validators=[validate_identifier])
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=12, choices=LocationKind.choices)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class LocationAlias(models.Model):
    """A location's code in another system: `scope` is `erp` (or an ERP source) or a channel code."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="aliases")
    scope = models.CharField(max_length=64)
    code = models.CharField(max_length=64)

    class Meta:
        verbose_name_plural = "location aliases"
        constraints = [
            models.UniqueConstraint(fields=["scope", "code"], name="location_alias_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.code} → {self.location_id}"


class StockState(models.TextChoices):
    AVAILABLE = "available"
    RESERVED = "reserved"
    IN_TRANSIT = "in_transit"
    DAMAGED = "damaged"
    RETURNED = "returned"
    QUARANTINED = "quarantined"


STATES = [state.value for state in StockState]


class StockLevel(models.Model):
    """The running total of the ledger for one product at one location, per state."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_levels")
    available = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    in_transit = models.IntegerField(default=0)
    damaged = models.IntegerField(default=0)
    returned = models.IntegerField(default=0)
    quarantined = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Receiving a supplier's delivery into available (inventory.services.stock.stock_receive).
        permissions = [("receive_stock", "Can receive stock at a location")]
        constraints = [
            models.UniqueConstraint(fields=["product", "location"], name="stock_level_unique"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{state}__gte": 0}), name=f"stock_{state}_not_negative"
                )
                for state in STATES
            ],
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location_id}"


class MovementReason(models.TextChoices):
    IMPORT = "import", "inventory import"
    ADJUSTMENT = "adjustment"
    ORDER = "order", "order reservation"
    DISPATCH = "dispatch"
    CANCEL = "cancel", "order cancellation"
    EXPIRY = "expiry", "reservation expiry"
    POS_SALE = "pos_sale", "POS sale"
    TRANSFER = "transfer"
    RECEIPT = "receipt"
    CUSTOMER_RETURN = "customer_return", "customer return"
    QUARANTINE_RELEASE = "quarantine_release", "quarantine release"
    WRITE_OFF = "write_off", "write-off"
    VENDOR_RETURN = "vendor_return", "vendor return"
    ERP_RESET = "erp_reset", "ERP reset"
    CORRECTION = "correction", "ledger correction"


# Movements that are not physical: the ERP's own counts (an inventory file, a reset) and the
# ledger's bookkeeping. They are never variance and never handed over to the ERP.
NOT_PHYSICAL = (MovementReason.IMPORT, MovementReason.ERP_RESET, MovementReason.CORRECTION)


class Movement(models.Model):
    """One change of stock: `quantity` units of a product at a location leave `from_state`
    and enter `to_state`. A blank state is outside IMS (received, shipped, written off).
    Rows are only ever added."""

    # Indexed as the first column of (product, location): an index of its own would only cost
    # every movement one more entry.
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="movements", db_index=False
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    from_state = models.CharField(max_length=12, choices=StockState.choices, blank=True)
    to_state = models.CharField(max_length=12, choices=StockState.choices, blank=True)
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=24, choices=MovementReason.choices)
    # What caused it, as `kind:id` (ingest:12, order:55, return:3 …).
    ref = models.CharField(max_length=64, blank=True)  # indexed (movement_ref), for equality
    note = models.CharField(max_length=255, blank=True)
    actor = optional_user_fk(models.PROTECT)
    created_at = models.DateTimeField(db_index=True)
    # When the movement was handed to the ERP (erp_export); null while it has not been.
    handed_to_erp_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["product", "location"]),
            # Looked up whole (never by LIKE, which a db_index=True would index once more for).
            models.Index(fields=["ref"], name="movement_ref"),
            # The physical movements by when they were handed to the ERP (null: not yet): the
            # reset's variance (not handed over by as_of) and the hand-over read only these.
            models.Index(
                fields=["handed_to_erp_at"],
                condition=(Q(from_state="") | Q(to_state="")) & ~Q(reason__in=NOT_PHYSICAL),
                name="movement_physical_handover",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="movement_quantity_positive"),
            models.CheckConstraint(
                condition=~Q(from_state="", to_state=""), name="movement_has_a_state"
            ),
            models.CheckConstraint(
                condition=~Q(from_state=models.F("to_state")), name="movement_changes_state"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.quantity} × {self.product_id}@{self.location_id} "
            f"{self.from_state or '∅'}→{self.to_state or '∅'}"
        )


# ---------------------------------------------------------------------------
# Transfers between locations


class TransferStatus(models.TextChoices):
    IN_TRANSIT = "in_transit", "in transit"
    RECEIVED = "received"


class Transfer(models.Model):
    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=TransferStatus.choices)
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    created_by = optional_user_fk(models.PROTECT)
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = optional_user_fk(models.PROTECT)

    class Meta:
        db_table = "orders_transfer"  # the table it had in orders
        permissions = [("receive_transfer", "Can receive transfers")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=F("destination")), name="transfer_between_two_locations"
            )
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} {self.source_id}→{self.destination_id} ({self.status})"


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        db_table = "orders_transferline"  # the table it had in orders
        constraints = [
            models.UniqueConstraint(fields=["transfer", "product"], name="transfer_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"


# ---------------------------------------------------------------------------
# Vendor returns (only in IMS) and the vendor's credit notes


class CreditNote(models.Model):
    """A vendor's credit for returned goods (Finance records it)."""

    vendor = models.CharField(max_length=255)
    number = models.CharField(max_length=64)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    issued_on = models.DateField()
    created_at = models.DateTimeField()
    created_by = optional_user_fk(models.PROTECT)

    class Meta:
        db_table = "orders_creditnote"  # the table it had in orders
        constraints = [
            models.UniqueConstraint(fields=["vendor", "number"], name="credit_note_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="credit_note_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} credit note {self.number}"


class VendorReturnStatus(models.TextChoices):
    SHIPPED = "shipped"
    CLOSED = "closed"


class VendorReturn(models.Model):
    """Goods sent back to a vendor: created only in IMS, with a tracking number; it closes
    only once the vendor's credit note is linked."""

    vendor = models.CharField(max_length=255)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    tracking_number = models.CharField(max_length=128)
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=8, choices=VendorReturnStatus.choices)
    credit_note = models.OneToOneField(
        CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="vendor_return"
    )
    created_at = models.DateTimeField()
    created_by = optional_user_fk(models.PROTECT)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "orders_vendorreturn"  # the table it had in orders
        permissions = [("close_vendorreturn", "Can link a credit note and close a vendor return")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(tracking_number=""), name="vendor_return_tracking_required"
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(credit_note__isnull=False),
                name="vendor_return_closed_has_credit_note",
            ),
        ]

    def __str__(self) -> str:
        return f"vendor return {self.pk} to {self.vendor} ({self.status})"


class VendorReturnLine(models.Model):
    vendor_return = models.ForeignKey(VendorReturn, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    # The state the units leave from: damaged (the usual) or available.
    from_state = models.CharField(max_length=12)
    quantity = models.PositiveIntegerField()

    class Meta:
        db_table = "orders_vendorreturnline"  # the table it had in orders

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity} ({self.from_state})"
