"""The SLA clock filters (channel, store, kind, state), shared by the page and its fragment."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils import timezone

from channels.models import Channel
from inventory.models import Location
from sla.models import SlaClock, SlaKind
from sla.selectors import clocks_in_state

STATES = [
    ("attention", "at risk or breached, running"),
    ("at_risk", "at risk (past the warning)"),
    ("breached", "breached"),
    ("running", "running"),
    ("stopped", "stopped"),
    ("all", "all"),
]


class SlaClockFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=STATES, method="filter_state", empty_label=None, label="State"
    )
    channel = django_filters.ModelChoiceFilter(
        queryset=Channel.objects.order_by("code"), to_field_name="code", label="Channel"
    )
    location = django_filters.ModelChoiceFilter(
        queryset=Location.objects.order_by("code"), to_field_name="code", label="Store"
    )
    kind = django_filters.ChoiceFilter(choices=SlaKind.choices, label="Kind")
    order = django_filters.CharFilter(field_name="order__external_id", label="Order id")

    class Meta:
        model = SlaClock
        fields = []

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("state"):
            queryset = clocks_in_state(queryset, "attention", timezone.now())
        return queryset

    def filter_state(self, queryset, name, value):
        return clocks_in_state(queryset, value, timezone.now())


class ChartWindowForm(forms.Form):
    """How many days back the breach charts look (30 unless asked)."""

    days = forms.IntegerField(min_value=1, max_value=365, required=False)
