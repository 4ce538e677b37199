import django_filters

from catalog.models import Product, ProductStatus
from catalog.selectors import product_matching


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="SKU prefix, name or barcode")
    category = django_filters.CharFilter(field_name="category__name")
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices)
    style = django_filters.CharFilter(field_name="style__code")

    class Meta:
        model = Product
        fields = []

    def filter_search(self, queryset, name, value):
        return queryset.filter(product_matching(value))
