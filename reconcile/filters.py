"""The exception filters, shared by the triage pages, the CSV export and the API."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Q, Subquery

from catalog.models import Product
from catalog.selectors import product_matching
from channels.models import Channel
from exceptions.models import Discrepancy, ExceptionStatus, OpsException
from ims.filters import BooleanFilter, MultipleChoiceFilter

SEARCH_ID_LIMIT = 2000


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


class OpsExceptionFilter(django_filters.FilterSet):
    discrepancy = django_filters.ChoiceFilter(choices=Discrepancy.choices)
    channel = django_filters.CharFilter(method="filter_channel", label="Channel")
    category = django_filters.CharFilter(field_name="product__category__name", label="Category")
    status = MultipleChoiceFilter(
        choices=ExceptionStatus.choices, help_text="default: open and acknowledged"
    )
    exposure_min = django_filters.NumberFilter(
        field_name="exposure", lookup_expr="gte", label="Exposure from"
    )
    exposure_max = django_filters.NumberFilter(
        field_name="exposure", lookup_expr="lte", label="Exposure to"
    )
    first_seen_from = django_filters.DateFilter(method="filter_seen_from", label="First seen from")
    first_seen_to = django_filters.DateFilter(method="filter_seen_to", label="First seen to")
    q = django_filters.CharFilter(method="filter_search", label="SKU, name or barcode")
    # Shown on the channel above what IMS can sell there (the scorecard's oversell risk).
    oversell = BooleanFilter(label="Shown above ATP")
    sku_id = django_filters.CharFilter(label="SKU (exact)")

    class Meta:
        model = OpsException
        fields = []

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.open()
        return super().filter_queryset(queryset)

    def filter_seen_from(self, queryset, name, value):
        return queryset.filter(first_seen__gte=_day_start(value))

    def filter_seen_to(self, queryset, name, value):
        if value == dt.date.max:  # up to the last day there is: no upper bound
            return queryset
        return queryset.filter(first_seen__lt=_day_start(value + dt.timedelta(days=1)))

    def filter_channel(self, queryset, name, value):
        # By id (looked up in a scalar subquery) so the per-channel partial index serves it.
        return queryset.filter(
            channel_id=Subquery(Channel.objects.filter(code=value).values("id")[:1])
        )

    def filter_search(self, queryset, name, value):
        """A SKU prefix, a barcode (any GTIN form) or words of the product name; digits alone
        also find the SKUs they end (`10842` finds SKU-10842)."""
        value = value.strip()
        if not value:
            return queryset
        products = product_matching(value)
        # A narrow search becomes a short id list (index lookups, then a small sort); a broad
        # one stays a subquery, where walking the page's index finds a page quickly.
        ids = list(
            Product.objects.filter(products).values_list("id", flat=True)[: SEARCH_ID_LIMIT + 1]
        )
        matching = (
            ids
            if len(ids) <= SEARCH_ID_LIMIT
            else Subquery(Product.objects.filter(products).values("id"))
        )
        sku = Q(sku_id__startswith=value)
        if value.isdigit():
            sku |= Q(sku_id__endswith=value)
        return queryset.filter(sku | Q(product_id__in=matching))
