"""Message templates and channel routes as data an admin edits; deliveries, inbound messages
and one-time passwords read-only (a prescription's bytes and a code's hash never shown)."""

from __future__ import annotations

from django.contrib import admin

from ims.admin import AuditedAdmin, ReadOnlyAdmin
from notifications.models import (
    ChannelMessaging,
    InboundMessage,
    MessageDelivery,
    MessageTemplate,
    Prescription,
    PrescriptionOtp,
)

TEMPLATE_FIELDS = ("kind", "name", "language", "status", "parameters", "button_parameter")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditedAdmin):
    list_display = ("kind", "name", "language", "status", "status_reason")
    list_filter = ("status",)
    audit_action = "template"
    audit_fields = TEMPLATE_FIELDS


@admin.register(ChannelMessaging)
class ChannelMessagingAdmin(admin.ModelAdmin):
    list_display = ("channel", "route")


@admin.register(MessageDelivery)
class MessageDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "notification",
        "route",
        "template",
        "attempts",
        "provider_status",
        "last_error",
    )
    list_filter = ("route", "provider_status")


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "sender", "type", "reply_outcome")


@admin.register(Prescription)
class PrescriptionAdmin(ReadOnlyAdmin):
    list_display = ("order", "filename", "content_type", "size", "uploaded_at", "uploaded_by")
    exclude = ("data",)


@admin.register(PrescriptionOtp)
class PrescriptionOtpAdmin(ReadOnlyAdmin):
    list_display = ("order", "created_at", "expires_at", "attempts", "used_at", "locked_at")
    exclude = ("salt", "code_hash")
