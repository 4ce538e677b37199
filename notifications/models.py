"""Customer messages: the WhatsApp templates IMS may send, how each channel's customers are
reached, the sending state of each queued CustomerNotification (the orders outbox),
inbound WhatsApp messages, and prescriptions behind a one-time password."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from channels.models import Channel
from ims.models import optional_user_fk


class TemplateStatus(models.TextChoices):
    """Meta's review states of a message template; only APPROVED is ever sent."""

    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    PAUSED = "paused"
    DISABLED = "disabled"


class MessageTemplate(models.Model):
    """The approved WhatsApp template that carries one kind of customer message.

    `parameters` names, in order, the values filling the body's {{1}}, {{2}} …: keys of the
    notification's context or of the order (`customer_name`, `order`, `status`,
    `tracking_number`, `url`, `shop_url`, `code`). `button_parameter` fills a URL button's
    variable suffix (a payment link, or the code of an authentication template).
    """

    kind = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15, default="en_US")
    status = models.CharField(
        max_length=10, choices=TemplateStatus.choices, default=TemplateStatus.PENDING
    )
    status_reason = models.CharField(max_length=500, blank=True)
    parameters = models.JSONField(default=list, blank=True)
    button_parameter = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.kind} → {self.name} ({self.language}, {self.status})"


class Route(models.TextChoices):
    WHATSAPP = "whatsapp", "by WhatsApp (IMS sends)"
    CHANNEL = "channel", "on the order's channel (the channel tells its customer)"


class ChannelMessaging(models.Model):
    """How a channel's customers hear about their orders (WhatsApp unless said otherwise)."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="messaging")
    route = models.CharField(max_length=10, choices=Route.choices, default=Route.WHATSAPP)

    class Meta:
        verbose_name_plural = "channel messaging"

    def __str__(self) -> str:
        return f"{self.channel_id}: {self.route}"


class MessageDelivery(models.Model):
    """The sending state of one CustomerNotification: attempts, the next try (also the lease a
    sender holds while it sends), the provider's message id and last error."""

    notification = models.OneToOneField(
        "orders.CustomerNotification", on_delete=models.CASCADE, related_name="delivery"
    )
    route = models.CharField(max_length=10, choices=Route.choices)
    to = models.CharField(max_length=20, blank=True, help_text="E.164")
    template = models.CharField(max_length=512, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True, db_index=True)
    provider_status = models.CharField(max_length=16, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "message deliveries"

    def __str__(self) -> str:
        return f"{self.notification_id} via {self.route} ({self.attempts} attempts)"


class InboundMessage(models.Model):
    """A message a customer sent to the business's WhatsApp number. It never creates an order
    or changes a price: it gets the templated reply pointing to the shop."""

    wamid = models.CharField(max_length=128, unique=True)
    sender = models.CharField(max_length=20, help_text="E.164")
    profile_name = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=20)
    text = models.TextField(blank=True)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField()
    replied_at = models.DateTimeField(null=True, blank=True)
    reply_outcome = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["sender", "replied_at"], name="inbound_sender_replied")]

    def __str__(self) -> str:
        return f"{self.wamid} from {self.sender}"


class Prescription(models.Model):
    """A prescription attached to an order (kept in the database, never served statically)."""

    order = models.ForeignKey(
        "orders.ChannelOrder", on_delete=models.CASCADE, related_name="prescriptions"
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField()
    uploaded_by = optional_user_fk(models.PROTECT)

    class Meta:
        ordering = ["order", "uploaded_at", "id"]
        permissions = [("send_payment_link", "Can send a customer a payment link")]

    def __str__(self) -> str:
        return f"{self.filename} of order {self.order_id}"


class PrescriptionOtp(models.Model):
    """A one-time password sent to the order's phone. Only an HMAC of the code is kept;
    it expires, is used once, and locks after a few wrong tries."""

    order = models.ForeignKey(
        "orders.ChannelOrder", on_delete=models.CASCADE, related_name="prescription_otps"
    )
    phone = models.CharField(max_length=20, help_text="E.164")
    salt = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "prescription OTP"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["phone", "created_at"], name="otp_phone_created"),
            models.Index(fields=["order", "created_at"], name="otp_order_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(attempts__lte=100), name="otp_attempts_bounded"),
        ]

    def __str__(self) -> str:
        return f"OTP {self.pk} for order {self.order_id}"
