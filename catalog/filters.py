import django_filters
from django.db.models import Q

from catalog.gtin import gtin14_or_none
from catalog.models import Product, ProductStatus


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="SKU prefix, name or barcode")
    category = django_filters.CharFilter(field_name="category__name")
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices)
    style = django_filters.CharFilter(field_name="style__code")

    class Meta:
        model = Product
        fields = []

    def filter_search(self, queryset, name, value):
        condition = Q(sku__startswith=value) | Q(name__icontains=value)
        gtin = gtin14_or_none(value)
        if gtin:
            condition |= Q(gtin=gtin)
        return queryset.filter(condition)
