"""FilterSets shared by pages and the API: the audit trail."""

from __future__ import annotations

import django_filters
from django import forms

from ims.models import AuditEvent


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
    since = django_filters.IsoDateTimeFilter(
        field_name="at",
        lookup_expr="gte",
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="ISO date or time, UTC",
    )
    before = django_filters.IsoDateTimeFilter(
        field_name="at",
        lookup_expr="lt",
        label="Before",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="ISO date or time, UTC",
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "object_type", "object_id", "action", "since", "before"]
