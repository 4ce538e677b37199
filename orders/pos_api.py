"""/api/orders/pos-sales/: the POS override requests (store sales held because they need units
reserved for online orders, and those decided on), each with what approving it would do or
did. Approve and reject are orders.api.PosSaleDecision. A query serializer parses the filters
(400 naming the field), orders.pos_selectors reads."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from ims.api import require_perm
from inventory.models import Location
from orders.models import PosSale
from orders.pos_selectors import APPROVED, HELD, REJECTED, pos_sale_list, pos_sale_outlook


class PosSaleQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[HELD, APPROVED, REJECTED, "all"],
        required=False,
        default="all",
        help_text="held (awaiting a decision), approved, rejected or all (held first)",
    )
    location = serializers.CharField(
        required=False, default="", max_length=64, help_text="a location code"
    )
    sku = serializers.CharField(
        required=False, default="", max_length=64, help_text="a SKU prefix on any line"
    )

    def validate_location(self, value: str) -> str:
        if value and not Location.objects.filter(code=value).exists():
            raise serializers.ValidationError("No location with this code.")
        return value


class PosSaleLineOut(serializers.Serializer):
    sku_id = serializers.CharField(source="sku")
    quantity = serializers.IntegerField()
    from_reserved = serializers.IntegerField(
        help_text="units taken (approved) or that approving now would take from units "
        "reserved for online orders"
    )


class WaitingOrderOut(serializers.Serializer):
    order = serializers.CharField(help_text="channel code:order id")
    order_id = serializers.IntegerField(allow_null=True, help_text="IMS's id (held sales)")
    sku_id = serializers.CharField(source="sku", help_text="held sales: the SKU it gives up")
    units = serializers.IntegerField(allow_null=True, help_text="held sales: units it gives up")


class PosSaleDetailOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(help_text="the POS's receipt number")
    channel = serializers.CharField(source="channel.code", allow_null=True, default=None)
    location = serializers.CharField(source="location.code")
    status = serializers.CharField()
    state = serializers.CharField(source="state_words")
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(
        source="created_by.get_username", allow_null=True, default=None
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField(
        source="decided_by.get_username", allow_null=True, default=None
    )
    decision_reason = serializers.CharField()
    task_status = serializers.CharField(
        allow_null=True, help_text="the override task: open until decided, then done"
    )
    units = serializers.IntegerField()
    from_reserved = serializers.IntegerField()
    lines = PosSaleLineOut(many=True, source="outlook")
    waiting_orders = WaitingOrderOut(
        many=True,
        source="waiting",
        help_text="held: the online orders that would wait if approved now, newest first; "
        "approved: those that waited",
    )
    short = serializers.IntegerField(
        help_text="held: units the online orders no longer hold (approving would be refused)"
    )


class PosSales(ListAPIView):
    """GET /api/orders/pos-sales/?status=held|approved|rejected|all&location=CODE&sku=PREFIX —
    POS override requests, held first then newest, 50 a page, each with what approving it
    would do (held) or did (approved)."""

    serializer_class = PosSaleDetailOut
    filter_backends = []

    def get_queryset(self):
        return PosSale.objects.none()  # the schema's; get() reads through the selector

    @extend_schema(parameters=[PosSaleQuery])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def list(self, request: Request, *args, **kwargs) -> Response:
        require_perm(request, "orders.view_possale")
        query = PosSaleQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        sales = pos_sale_list(
            status="" if data["status"] == "all" else data["status"],
            location=data["location"],
            sku=data["sku"],
        )
        page = pos_sale_outlook(self.paginate_queryset(sales))
        return self.get_paginated_response(PosSaleDetailOut(page, many=True).data)


class PosSaleDetail(RetrieveAPIView):
    """GET /api/orders/pos-sales/{id}/ — one override request with what approving it would do
    (held) or did (approved); 404 for a sale that never needed an override."""

    serializer_class = PosSaleDetailOut

    def get_queryset(self):
        return PosSale.objects.none()

    def retrieve(self, request: Request, pk: int) -> Response:
        require_perm(request, "orders.view_possale")
        sale = pos_sale_list().filter(pk=pk).first()
        if sale is None:
            raise Http404("No POS override request with this id.")
        return Response(PosSaleDetailOut(pos_sale_outlook([sale])[0]).data)
