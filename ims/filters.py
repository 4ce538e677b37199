"""FilterSets shared by pages and the API: the audit trail; a time filter read in UTC, and
how a page tells a person which filter it could not read."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from ims.models import AuditEvent

MAX_UTC_OFFSET = dt.timedelta(hours=14)  # Kiribati; the furthest west is 12 hours behind


class UtcDateTimeField(IsoDateTimeField):
    """An ISO date or time, turned into UTC here. Python reads offsets up to ±23:59 that no
    place uses and PostgreSQL refuses beyond ±15:59; a time whose UTC is before year 1 or
    after 9999 is no time at all."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        if abs(parsed.utcoffset()) > MAX_UTC_OFFSET:
            raise ValidationError(
                "Enter a valid date/time: no place is more than 14 hours from UTC.",
                code="invalid",
            )
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError(
                "Enter a valid date/time: it falls outside the years 1 to 9999 in UTC.",
                code="invalid",
            ) from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


def filter_problems(form: forms.Form) -> list[str]:
    """Each filter a page could not read, as "field: reason", to show above its results."""
    return [f"{name}: {message}" for name, messages in form.errors.items() for message in messages]


class AuditEventFilter(django_filters.FilterSet):
    """Filter the audit trail by actor, object, action and time range (`since` ≤ at < `before`)."""

    actor = django_filters.CharFilter(
        field_name="actor_name", lookup_expr="iexact", label="Actor (username or system)"
    )
    object_type = django_filters.CharFilter(
        lookup_expr="iexact", label="Object type", help_text="e.g. catalog.product"
    )
    object_id = django_filters.CharFilter(label="Object id")
    action = django_filters.CharFilter(lookup_expr="iexact", label="Action")
    since = UtcDateTimeFilter(
        field_name="at",
        lookup_expr="gte",
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="ISO date or time, UTC",
    )
    before = UtcDateTimeFilter(
        field_name="at",
        lookup_expr="lt",
        label="Before",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="ISO date or time, UTC",
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "object_type", "object_id", "action", "since", "before"]
