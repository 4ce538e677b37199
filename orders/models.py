"""Orders from channels, the webhook inbox, and the stock flows around them: shipments,
customer returns, POS sales, and the customer-notification outbox. (Transfers and vendor
returns are inventory's: inventory/models.py.)

Stock itself lives in inventory (StockLevel, Movement); every quantity here is what an
order, return or sale holds, and every change to stock goes through inventory's services.
"""

from django.db import models
from django.db.models import F, Q

from catalog.models import Product
from channels.models import Channel
from ims.models import optional_user_fk
from ims.money import MONEY
from inventory.models import Location


class WebhookDelivery(models.Model):
    """One accepted delivery, stored raw before anything is done with it (the inbox).

    `delivery_id` is the provider's own id of the delivery or event; a retried or replayed
    delivery finds its row and changes nothing twice. A delivery that failed to process
    keeps its error and can be replayed from here.
    """

    # Indexed as the first column of webhook_delivery_unique (as each foreign key below that
    # sets db_index=False is by a unique constraint): one index entry fewer per row.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="deliveries", db_index=False
    )
    provider = models.CharField(max_length=16)
    # How it reached IMS: pushed to our webhook endpoint, read from the channel's queue
    # (Amazon's SQS), or found by polling the channel's orders (the safety net; Flipkart).
    source = models.CharField(
        max_length=8,
        choices=[("webhook", "webhook"), ("queue", "queue"), ("poll", "poll")],
        default="webhook",
    )
    delivery_id = models.CharField(max_length=255)
    topic = models.CharField(max_length=120, blank=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    received_at = models.DateTimeField(db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # What processing did: `order 12 received`, `duplicate`, `ignored: …`.
    outcome = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    order = models.ForeignKey(
        "ChannelOrder", on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at", "-id"]
        permissions = [("replay_webhookdelivery", "Can replay webhook deliveries")]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "delivery_id"], name="webhook_delivery_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["processed_at", "received_at"],
                condition=Q(processed_at__isnull=True),
                name="webhook_unprocessed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.delivery_id} {self.topic}"


class OrderPoll(models.Model):
    """Where a channel's order poll resumes: the latest change it has stored (`cursor`, the
    channel's own time of that change), when it last ran, and what it found or why it failed.
    A channel whose own point of sale sells without orders IMS receives (Square) has its sales
    read too (orders.services.poll.pos_sales_read): `sales_cursor` is the time up to which
    they are all read, `sales_error` why the last read failed."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="order_poll")
    cursor = models.DateTimeField(null=True, blank=True)
    # The channel's own cursor, where its list is ordered by one (Lightspeed's sale version):
    # the poll resumes after it, whatever `cursor` says.
    position = models.CharField(max_length=64, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    found = models.PositiveIntegerField(default=0)  # orders listed by the last poll
    stored = models.PositiveIntegerField(default=0)  # of those, new to the inbox
    error = models.TextField(blank=True)
    sales_cursor = models.DateTimeField(null=True, blank=True)
    sales_read_at = models.DateTimeField(null=True, blank=True)
    sales_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.channel_id} polled {self.polled_at} up to {self.cursor}"


class OrderStatus(models.TextChoices):
    RESERVED = "reserved"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    BACKORDERED = "backordered"


class ChannelOrder(models.Model):
    """An order placed on a channel; `external_id` is the provider's own order id."""

    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    external_id = models.CharField(max_length=128)
    # The number the customer sees (#1001), when the provider has one.
    name = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices)
    # The one location that fulfils it (PRODUCT.md "Fulfilment location").
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    currency = models.CharField(max_length=3, blank=True)
    customer_name = models.CharField(max_length=255, blank=True)
    customer_email = models.CharField(max_length=255, blank=True)
    customer_phone = models.CharField(max_length=32, blank=True)
    placed_at = models.DateTimeField()
    received_at = models.DateTimeField()
    # Paid / accepted on the channel; until then the reservation expires at `hold_until`.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    hold_until = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)
    # Every line shipped or cancelled (its shipments may then be handed to the ERP).
    completed_at = models.DateTimeField(null=True, blank=True)
    # The carrier or channel confirmed delivery to the customer (stops the delivery SLA clock).
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Lines that are no stocked product (a tip, a gift card, no shipping), as the channel sent
    # them, never reserved: [{"external_id", "name", "quantity", "unit_price", "why"}].
    not_stocked = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        permissions = [
            ("dispatch_order", "Can dispatch orders"),
            ("cancel_order", "Can cancel orders"),
            ("decide_backorder", "Can decide on backordered lines"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_unique"),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="order_status"),
            models.Index(
                fields=["hold_until"],
                condition=Q(confirmed_at__isnull=True, completed_at__isnull=True),
                name="order_unconfirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.external_id}"


class BackorderDecision(models.TextChoices):
    PENDING = "", "awaiting a decision"
    FILL = "fill", "fill when stock arrives"


class OrderLine(models.Model):
    """A line of an order. Its quantity is always split exactly into what is held
    (`reserved`), what has left (`shipped`), what was cancelled and what waits
    (`backordered`); `returned` counts shipped units that came back."""

    order = models.ForeignKey(
        ChannelOrder, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    # The provider's line id, and the names it gave the item.
    external_id = models.CharField(max_length=128, blank=True)
    sku = models.CharField(max_length=255)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="order_lines"
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quantity = models.PositiveIntegerField()
    reserved = models.PositiveIntegerField(default=0)
    shipped = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    backordered = models.PositiveIntegerField(default=0)
    returned = models.PositiveIntegerField(default=0)
    backorder_decision = models.CharField(
        max_length=8, choices=BackorderDecision.choices, default="", blank=True
    )
    unit_price = models.DecimalField(null=True, blank=True, **MONEY)

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_line_unique"),
            models.CheckConstraint(
                condition=Q(
                    quantity=F("reserved") + F("shipped") + F("cancelled") + F("backordered")
                ),
                name="order_line_quantity_split",
            ),
            models.CheckConstraint(
                condition=Q(returned__lte=F("shipped")), name="order_line_returned_le_shipped"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity"),
        ]
        indexes = [
            models.Index(
                fields=["product", "location"],
                condition=Q(reserved__gt=0),
                name="order_line_holding",
            ),
            models.Index(
                fields=["product"], condition=Q(backordered__gt=0), name="order_line_backordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.position} {self.sku} × {self.quantity}"

    @property
    def status(self) -> str:
        """The line's status in the orders export."""
        if self.backordered:
            return OrderStatus.BACKORDERED
        if self.shipped and self.reserved:
            return OrderStatus.PARTIALLY_SHIPPED
        if self.shipped:
            return OrderStatus.SHIPPED
        if self.reserved:
            return OrderStatus.RESERVED
        return OrderStatus.CANCELLED


class Shipment(models.Model):
    """One dispatch of some of an order's reserved units (partial shipments allowed)."""

    order = models.ForeignKey(ChannelOrder, on_delete=models.CASCADE, related_name="shipments")
    created_at = models.DateTimeField()
    actor = optional_user_fk(models.PROTECT)
    tracking_number = models.CharField(max_length=128, blank=True)

    def __str__(self) -> str:
        return f"shipment {self.pk} of order {self.order_id}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.line_id} × {self.quantity}"


class NotificationStatus(models.TextChoices):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class CustomerNotification(models.Model):
    """A message due to a customer about their order (the outbox a sender works through)."""

    order = models.ForeignKey(
        ChannelOrder,
        on_delete=models.CASCADE,
        related_name="customer_notifications",
        db_index=False,
    )
    kind = models.CharField(max_length=40)
    # What it is about within the order (a shipment id, a return id); one per (order, kind, ref).
    ref = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind", "ref"], name="customer_notification_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(status="queued"), name="notification_queued"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for order {self.order_id} ({self.status})"


# ---------------------------------------------------------------------------
# Customer returns (started on a channel)


class CustomerReturnStatus(models.TextChoices):
    # Reported by the channel: the units landed in `quarantined` (no inspection here).
    QUARANTINED = "quarantined", "quarantined"
    # Handed in at a store counter: the units wait in `returned` for an inspector.
    RECEIVED = "received", "received, awaiting inspection"
    # Inspected: each unit went to available, damaged or quarantined.
    INSPECTED = "inspected", "inspected"


class CustomerReturn(models.Model):
    """Units a customer sent back: reported by the channel they land in `quarantined` at the
    order's location; handed in at a store they wait in `returned` there until inspected."""

    order = models.ForeignKey(ChannelOrder, on_delete=models.PROTECT, related_name="returns")
    # The provider's id of the refund/return (or an IMS-made one); unique per order.
    external_id = models.CharField(max_length=128)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=12,
        choices=CustomerReturnStatus.choices,
        default=CustomerReturnStatus.QUARANTINED,
    )
    created_at = models.DateTimeField()
    created_by = optional_user_fk(models.PROTECT)
    inspected_at = models.DateTimeField(null=True, blank=True)
    inspected_by = optional_user_fk(models.PROTECT)

    class Meta:
        permissions = [
            ("release_quarantine", "Can release quarantined stock or write it off"),
            ("inspect_customerreturn", "Can inspect customer returns received at a store"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="customer_return_unique"),
        ]

    def __str__(self) -> str:
        return f"return {self.external_id} of order {self.order_id}"


class CustomerReturnLine(models.Model):
    customer_return = models.ForeignKey(
        CustomerReturn, on_delete=models.CASCADE, related_name="lines"
    )
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    # The inspection's decision for a return received at a store (they add up to quantity).
    to_available = models.PositiveIntegerField(default=0)
    to_damaged = models.PositiveIntegerField(default=0)
    to_quarantined = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"


# ---------------------------------------------------------------------------
# POS sales


class PosSaleStatus(models.TextChoices):
    COMPLETED = "completed"
    HELD = "held", "held for approval"
    REJECTED = "rejected"
    # Voided on the POS: nothing taken (or what it took given back).
    VOIDED = "voided"


class PosSale(models.Model):
    """A store sale. It takes available units; one that needs units reserved for online
    orders is held until an admin approves it (and then those orders wait instead)."""

    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="pos_sales"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    # The POS's receipt number (unique per location).
    external_id = models.CharField(max_length=128)
    status = models.CharField(max_length=10, choices=PosSaleStatus.choices)
    created_at = models.DateTimeField()
    created_by = optional_user_fk(models.PROTECT)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = optional_user_fk(models.PROTECT)
    decision_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        permissions = [
            ("approve_pos_override", "Can approve a POS sale that takes reserved stock"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["location", "external_id"], name="pos_sale_unique"),
        ]

    def __str__(self) -> str:
        return f"POS sale {self.external_id} at {self.location_id} ({self.status})"


class PosSaleLine(models.Model):
    sale = models.ForeignKey(PosSale, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    # Units taken from reserved (diverted from online orders) once approved.
    from_reserved = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="pos_sale_line_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"
