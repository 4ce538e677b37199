"""The order API under /api/orders/: find orders, dispatch, cancel, decide on backorders,
and approve or reject held POS sales. Thin: a serializer parses, a service acts."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ims.api import Text, Whole, require_perm
from ims.openapi import CONFLICT
from orders.models import ChannelOrder, OrderStatus, PosSale
from orders.selectors import order_list
from orders.services.fulfilment import order_deliver, order_dispatch
from orders.services.pos import pos_sale_approve, pos_sale_reject
from orders.services.reservation import order_backorder_decide, order_cancel


class OrderFilter(django_filters.FilterSet):
    channel = django_filters.CharFilter(field_name="channel__code")
    external_id = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)

    class Meta:
        model = ChannelOrder
        fields = ["channel", "external_id", "status"]


class OrderLineOut(serializers.Serializer):
    position = serializers.IntegerField()
    sku_id = serializers.SerializerMethodField()
    external_id = serializers.CharField()
    location = serializers.SerializerMethodField()
    status = serializers.CharField()
    quantity = serializers.IntegerField()
    reserved = serializers.IntegerField()
    shipped = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    backordered = serializers.IntegerField()
    returned = serializers.IntegerField()
    backorder_decision = serializers.CharField()

    def get_sku_id(self, line) -> str:
        return line.product.sku if line.product else line.sku

    def get_location(self, line) -> str | None:
        return line.location.code if line.location else None


class NotStockedLineOut(serializers.Serializer):
    """A line that is no stocked product (a tip, a gift card), kept as the channel sent it."""

    external_id = serializers.CharField()
    name = serializers.CharField()
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField(allow_null=True)
    why = serializers.CharField()


class OrderOut(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField(source="channel.code")
    external_id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    location = serializers.SerializerMethodField()
    placed_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    lines = OrderLineOut(many=True)
    not_stocked = NotStockedLineOut(many=True)

    def get_location(self, order) -> str | None:
        return order.location.code if order.location else None


class _Orders:
    serializer_class = OrderOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is being drawn
            return ChannelOrder.objects.none()
        require_perm(self.request, "orders.view_channelorder")
        return order_list()


class OrderList(_Orders, ListAPIView):
    """GET /api/orders/?channel=CODE&external_id=ID"""

    filterset_class = OrderFilter


class OrderDetail(_Orders, RetrieveAPIView):
    pass


class DispatchLine(serializers.Serializer):
    sku_id = Text()
    quantity = Whole(min_value=1)


class DispatchIn(serializers.Serializer):
    lines = serializers.ListField(child=DispatchLine(), min_length=1)  # minItems in the schema
    tracking_number = Text(required=False, allow_blank=True, default="")


class ReasonIn(serializers.Serializer):
    reason = Text(required=False, allow_blank=True, default="", max_length=255)


class BackorderIn(ReasonIn):
    decision = serializers.ChoiceField(choices=["fill", "cancel"])


class DecisionIn(serializers.Serializer):
    reason = Text(max_length=255)


class PosSaleOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    status = serializers.CharField()


class _OrderAction(APIView):
    """A POST on one order by a holder of `permission`: `body` reads the request (if any),
    `act` does the work, and the answer is the order as it now stands."""

    permission = ""
    body: type[serializers.Serializer] | None = None

    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, self.permission)
        order = get_object_or_404(ChannelOrder, pk=pk)
        data = {}
        if self.body is not None:
            parsed = self.body(data=request.data)
            parsed.is_valid(raise_exception=True)
            data = parsed.validated_data
        self.act(order, data, request.user)
        return Response(OrderOut(order_list().get(pk=order.pk)).data)


@extend_schema(request=DispatchIn, responses={200: OrderOut, 409: CONFLICT})
class OrderDispatch(_OrderAction):
    """POST /api/orders/{id}/dispatch/ {"lines": [{"sku_id", "quantity"}]}"""

    permission = "orders.dispatch_order"
    body = DispatchIn

    def act(self, order, data, actor):
        order_dispatch(
            order=order,
            items=[(line["sku_id"], line["quantity"]) for line in data["lines"]],
            actor=actor,
            tracking_number=data["tracking_number"],
        )


@extend_schema(request=None, responses={200: OrderOut, 409: CONFLICT})
class OrderDelivered(_OrderAction):
    """POST /api/orders/{id}/delivered/ — the carrier or channel confirmed delivery."""

    permission = "orders.dispatch_order"

    def act(self, order, data, actor):
        order_deliver(order=order, actor=actor)


@extend_schema(request=ReasonIn, responses={200: OrderOut, 409: CONFLICT})
class OrderCancel(_OrderAction):
    """POST /api/orders/{id}/cancel/ — cancels what is not shipped yet."""

    permission = "orders.cancel_order"
    body = ReasonIn

    def act(self, order, data, actor):
        reason = data["reason"] or "cancelled in IMS"
        if (
            not order_cancel(order=order, reason=reason, actor=actor)
            and order.status != "cancelled"
        ):
            from orders.errors import OrderError

            raise OrderError("nothing of this order is left to cancel", code="nothing_to_cancel")


@extend_schema(request=BackorderIn, responses={200: OrderOut, 409: CONFLICT})
class OrderBackorder(_OrderAction):
    """POST /api/orders/{id}/backorder/ {"decision": "fill"|"cancel"}"""

    permission = "orders.decide_backorder"
    body = BackorderIn

    def act(self, order, data, actor):
        order_backorder_decide(
            order=order, decision=data["decision"], reason=data["reason"], actor=actor
        )


class PosSaleDecision(APIView):
    """POST /api/orders/pos-sales/{id}/approve/ or /reject/ {"reason"}"""

    approve = True

    @extend_schema(request=DecisionIn, responses={200: PosSaleOut, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, "orders.approve_pos_override")
        sale = get_object_or_404(PosSale, pk=pk)
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        decide = pos_sale_approve if self.approve else pos_sale_reject
        sale = decide(sale=sale, actor=request.user, reason=data.validated_data["reason"])
        return Response(PosSaleOut(sale).data)
