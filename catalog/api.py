from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from catalog.filters import ProductFilter
from catalog.models import Category, Product, ProductStatus, Style
from catalog.services.products import EDITABLE_FIELDS, product_create, product_update
from ims.api import Amount, RolePermissions, Text
from ims.identifiers import validate_identifier


class ProductSerializer(serializers.ModelSerializer):
    sku_id = serializers.CharField(source="sku")
    category = serializers.CharField(source="category.name")
    style = serializers.CharField(source="style.code", allow_null=True, default=None)
    offer_price = serializers.DecimalField(
        source="price", max_digits=14, decimal_places=2, allow_null=True
    )

    class Meta:
        model = Product
        fields = [
            "sku_id",
            "name",
            "barcode",
            "gtin",
            "category",
            "uom",
            "cost",
            "mrp",
            "offer_price",
            "currency",
            "status",
            "style",
            "attributes",
            "created_at",
            "updated_at",
        ]


class CategoryField(serializers.SlugRelatedField):
    """A category by name; a NUL is no name (PostgreSQL could not even compare it)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class ProductInputSerializer(serializers.Serializer):
    sku_id = Text(max_length=64, validators=[validate_identifier])
    name = Text(max_length=255)
    barcode = Text(max_length=20)
    category = CategoryField(slug_field="name", queryset=Category.objects.all())
    uom = Text(max_length=16, default="EA")
    cost = Amount()
    mrp = Amount()
    price = Amount()
    currency = Text(max_length=3)
    status = serializers.ChoiceField(choices=ProductStatus.choices, default=ProductStatus.ACTIVE)
    style = Text(max_length=64, required=False, allow_blank=True)
    attributes = serializers.DictField(child=Text(), required=False)

    def validate_attributes(self, attributes: dict) -> dict:
        if any("\x00" in key for key in attributes):
            raise serializers.ValidationError("Null characters are not allowed in a name.")
        return attributes


class ProductUpdateSerializer(ProductInputSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("sku_id", "mrp", "price", "currency"):
            self.fields.pop(name)


def _style(code: str | None):
    return Style.objects.get_or_create(code=code)[0] if code else None


@extend_schema_view(
    partial_update=extend_schema(request=ProductUpdateSerializer, responses=ProductSerializer)
)
class ProductViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Products (the SKU master). Only catalog managers, admins and superadmins create or edit."""

    queryset = Product.objects.select_related("category", "style").order_by("sku")
    serializer_class = ProductSerializer
    permission_classes = [RolePermissions]
    filterset_class = ProductFilter
    lookup_field = "sku"
    lookup_value_regex = "[^/\\x00]+"

    @extend_schema(request=ProductInputSerializer, responses={201: ProductSerializer})
    def create(self, request, *args, **kwargs):
        data = ProductInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        product = product_create(
            sku=fields.pop("sku_id"),
            style=_style(fields.pop("style", "")),
            actor=request.user,
            **fields,
        )
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProductUpdateSerializer, responses=ProductSerializer)
    def update(self, request, *args, **kwargs):
        product = self.get_object()
        data = ProductUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        changes = {
            k: v for k, v in data.validated_data.items() if k in EDITABLE_FIELDS and k != "style"
        }
        if "style" in data.validated_data:
            changes["style"] = _style(data.validated_data["style"])
        product = product_update(product=product, actor=request.user, **changes)
        return Response(ProductSerializer(product).data)
