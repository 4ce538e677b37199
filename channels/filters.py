"""The sync runs page's filters: a channel and a state that exist, or the page says which not."""

from __future__ import annotations

import django_filters

from catalog.models import Category, Product
from channels.assortment_selectors import OFFERED_CHOICES
from channels.models import Channel, LineState, SyncRun, SyncStatus


class SyncRunFilter(django_filters.FilterSet):
    channel = django_filters.ModelChoiceFilter(
        queryset=Channel.objects.all(), to_field_name="code", label="Channel"
    )
    status = django_filters.ChoiceFilter(choices=SyncStatus.choices, label="Status")

    class Meta:
        model = SyncRun
        fields = []


class SyncLineFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=LineState.choices, label="State")

    class Meta:
        model = SyncRun
        fields = []


class AssortmentFilter(django_filters.FilterSet):
    """The assortment page's and API's filters: a category that exists, a SKU prefix, offered
    or withheld (parsed here; channels.assortment_selectors.assortment_list narrows)."""

    category = django_filters.ModelChoiceFilter(
        queryset=Category.objects.order_by("name"), to_field_name="name", label="Category"
    )
    sku = django_filters.CharFilter(label="SKU", max_length=64)
    offered = django_filters.ChoiceFilter(choices=OFFERED_CHOICES, label="Offered")

    class Meta:
        model = Product
        fields = []
