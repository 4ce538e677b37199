import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Product
from ims.api import RolePermissions, Text, Whole, require_perm
from ims.openapi import CONFLICT
from inventory.models import STATES, Location, StockLevel
from inventory.selectors import quarantined_levels
from inventory.services.stock import stock_quarantine_release, stock_receive, stock_write_off


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


# ---------------------------------------------------------------------------
# /api/stock/: the quarantine (list, release, write off) and receiving a delivery. An input
# serializer parses, the stock service acts (its role rule, its audit), the level answers.


class QuarantineFilter(django_filters.FilterSet):
    sku_id = django_filters.CharFilter(
        field_name="product__sku", lookup_expr="startswith", label="SKU starts with"
    )
    location = django_filters.CharFilter(field_name="location__code")

    class Meta:
        model = StockLevel
        fields = []


class QuarantineList(ListAPIView):
    """GET /api/stock/quarantine/?sku_id=PREFIX&location=CODE — levels holding quarantined
    units (customer returns waiting for a decision), by SKU then location."""

    serializer_class = StockLevelSerializer
    permission_classes = [RolePermissions]
    filterset_class = QuarantineFilter

    def get_queryset(self):
        return quarantined_levels()


def _level_of(data) -> tuple[Product, Location]:
    """The product and location a body names: 400 naming the field when one does not exist."""
    product = Product.objects.filter(sku=data["sku_id"]).first()
    location = Location.objects.filter(code=data["location"]).first()
    problems = {}
    if product is None:
        problems["sku_id"] = ["No product with this SKU."]
    if location is None:
        problems["location"] = ["No location with this code."]
    if problems:
        raise serializers.ValidationError(problems)
    return product, location


def _level_answer(product: Product, location: Location) -> Response:
    level = StockLevel.objects.select_related("product", "location").get(
        product=product, location=location
    )
    return Response(StockLevelSerializer(level).data)


class QuarantineActionIn(serializers.Serializer):
    sku_id = Text(max_length=64)
    location = Text(max_length=64)
    quantity = Whole(min_value=1)
    reason = Text(max_length=255)


class _QuarantineAction(APIView):
    act = None

    @extend_schema(request=QuarantineActionIn, responses={200: StockLevelSerializer, 409: CONFLICT})
    def post(self, request: Request) -> Response:
        require_perm(request, "orders.release_quarantine")
        body = QuarantineActionIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        product, location = _level_of(data)
        type(self).act(
            product_id=product.pk,
            location_id=location.pk,
            quantity=data["quantity"],
            actor=request.user,
            reason=data["reason"],
        )
        return _level_answer(product, location)


class QuarantineRelease(_QuarantineAction):
    """POST /api/stock/quarantine/release/ {"sku_id", "location", "quantity", "reason"} —
    quarantined units fit to sell again: quarantined → available; the level as it now stands."""

    act = stock_quarantine_release


class QuarantineWriteOff(_QuarantineAction):
    """POST /api/stock/quarantine/write-off/ {"sku_id", "location", "quantity", "reason"} —
    quarantined units found unfit: quarantined → damaged; the level as it now stands."""

    act = stock_write_off


class ReceiveIn(serializers.Serializer):
    sku_id = Text(max_length=64)
    location = Text(max_length=64)
    quantity = Whole(min_value=1)
    reference = Text(
        max_length=56, help_text="the delivery note or purchase order (ref receipt:<reference>)"
    )
    note = Text(required=False, allow_blank=True, default="", max_length=255)


class StockReceive(APIView):
    """POST /api/stock/receive/ {"sku_id", "location", "quantity", "reference", "note"} — a
    supplier's delivery into available; the level as it now stands."""

    @extend_schema(request=ReceiveIn, responses={200: StockLevelSerializer, 409: CONFLICT})
    def post(self, request: Request) -> Response:
        require_perm(request, "inventory.receive_stock")
        body = ReceiveIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        product, location = _level_of(data)
        stock_receive(
            product_id=product.pk,
            location_id=location.pk,
            quantity=data["quantity"],
            reference=data["reference"],
            note=data["note"],
            actor=request.user,
        )
        return _level_answer(product, location)
