"""Message templates and channel routes as data an admin edits; deliveries, inbound messages
and one-time passwords read-only (a prescription's bytes and a code's hash never shown)."""

from __future__ import annotations

from django.contrib import admin

from ims.admin import ReadOnlyAdmin
from ims.audit import audit_record, snapshot
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
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("kind", "name", "language", "status", "status_reason")
    list_filter = ("status",)

    def save_model(self, request, obj, form, change):
        before = (
            snapshot(MessageTemplate.objects.get(pk=obj.pk), TEMPLATE_FIELDS)
            if change and obj.pk
            else None
        )
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="template_change" if change else "template_add",
            obj=obj,
            before=before,
            after=snapshot(obj, TEMPLATE_FIELDS),
        )


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
