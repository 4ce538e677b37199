"""SLA policies, ladders and calendars as data an admin edits (changes recorded in the audit
trail); clocks and escalations read-only."""

from __future__ import annotations

from django.contrib import admin

from ims.admin import AuditedAdmin, ReadOnlyAdmin
from ims.audit import audit_record
from sla.models import (
    BusinessCalendar,
    ClosedDay,
    EscalationStep,
    LocationStaff,
    OpeningHours,
    SlaClock,
    SlaEscalation,
    SlaPolicy,
)

POLICY_FIELDS = ("channel", "kind", "target", "business_hours", "warning_pct", "active")


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 1
    fields = ("position", "anchor", "offset", "recipient", "role", "user")
    autocomplete_fields = ()


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    list_display = ("kind", "channel", "target", "business_hours", "warning_pct", "active")
    list_filter = ("kind", "active", "business_hours")
    inlines = [EscalationStepInline]
    audit_action = "sla_policy"
    audit_fields = POLICY_FIELDS

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.has_changed():
            audit_record(
                actor=request.user,
                action="sla_ladder_change",
                obj=form.instance,
                after={"steps": [str(step) for step in form.instance.steps.order_by("position")]},
            )


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 1


class ClosedDayInline(admin.TabularInline):
    model = ClosedDay
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ("location", "timezone", "holiday_country", "holiday_subdivision")
    inlines = [OpeningHoursInline, ClosedDayInline]


@admin.register(LocationStaff)
class LocationStaffAdmin(admin.ModelAdmin):
    list_display = ("location", "user")
    list_filter = ("location",)


@admin.register(SlaClock)
class SlaClockAdmin(ReadOnlyAdmin):
    list_display = ("order", "kind", "channel", "location", "status", "started_at", "due_at")
    list_filter = ("kind", "status", "channel")
    date_hierarchy = "started_at"


@admin.register(SlaEscalation)
class SlaEscalationAdmin(ReadOnlyAdmin):
    list_display = ("clock", "key", "point", "due_at", "fired_at", "recipients")
    list_filter = ("point",)
