import django_filters
from rest_framework import serializers, viewsets

from ims.api import RolePermissions
from inventory.models import STATES, StockLevel


class StockLevelFilter(django_filters.FilterSet):
    sku_id = django_filters.CharFilter(field_name="product__sku")
    location = django_filters.CharFilter(field_name="location__code")

    class Meta:
        model = StockLevel
        fields = []


class StockLevelSerializer(serializers.ModelSerializer):
    sku_id = serializers.CharField(source="product.sku")
    location = serializers.CharField(source="location.code")

    class Meta:
        model = StockLevel
        fields = ["sku_id", "location", *STATES, "updated_at"]


class StockLevelViewSet(viewsets.ReadOnlyModelViewSet):
    """Stock per product and location, in each of the six states (read only: stock changes through movements)."""

    queryset = StockLevel.objects.select_related("product", "location").order_by(
        "product__sku", "location__code"
    )
    serializer_class = StockLevelSerializer
    permission_classes = [RolePermissions]
    filterset_class = StockLevelFilter
