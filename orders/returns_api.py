"""/api/orders/returns/: customer returns (list with filters), receive one handed in at a
store (POST), inspect one (POST {id}/inspect/). An input serializer parses, the services in
orders.services.returns act (their role rules, their audit)."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.models import Channel
from ims.api import RolePermissions, Text, Whole, require_perm
from ims.openapi import CONFLICT
from inventory.models import Location
from orders.models import ChannelOrder, CustomerReturn, CustomerReturnStatus
from orders.returns_selectors import customer_return_list
from orders.services.returns import Inspection, customer_return_inspect, customer_return_receive


class CustomerReturnLineOut(serializers.Serializer):
    sku_id = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField()
    to_available = serializers.IntegerField()
    to_damaged = serializers.IntegerField()
    to_quarantined = serializers.IntegerField()


class CustomerReturnOut(serializers.ModelSerializer):
    reference = serializers.CharField(source="external_id")
    channel = serializers.CharField(source="order.channel.code")
    order = serializers.CharField(source="order.external_id")
    location = serializers.CharField(source="location.code")
    lines = CustomerReturnLineOut(many=True)
    units = serializers.IntegerField()

    class Meta:
        model = CustomerReturn
        fields = [
            "id",
            "reference",
            "status",
            "channel",
            "order",
            "location",
            "reason",
            "lines",
            "units",
            "created_at",
            "inspected_at",
        ]


class CustomerReturnFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CustomerReturnStatus.choices)
    location = django_filters.CharFilter(field_name="location__code")
    channel = django_filters.CharFilter(field_name="order__channel__code")
    order = django_filters.CharFilter(field_name="order__external_id")
    sku_id = django_filters.CharFilter(method="sku_prefix", label="SKU prefix on any line")

    class Meta:
        model = CustomerReturn
        fields = []

    def sku_prefix(self, queryset, name, value):
        matching = CustomerReturn.objects.filter(lines__product__sku__istartswith=value)
        return queryset.filter(pk__in=matching.values("pk"))


class ReturnedLineIn(serializers.Serializer):
    sku_id = Text(max_length=64)
    quantity = Whole(min_value=1)


class ReturnReceiveIn(serializers.Serializer):
    channel = Text(max_length=64, help_text="the code of the order's channel")
    order = Text(max_length=128, help_text="the order's number on that channel (external id)")
    location = Text(max_length=64, help_text="the code of the store where it was handed in")
    reference = Text(
        max_length=128,
        required=False,
        allow_blank=True,
        default="",
        help_text="the store's return slip: the same slip for the same order is received once",
    )
    reason = Text(max_length=255, required=False, allow_blank=True, default="")
    lines = ReturnedLineIn(many=True, allow_empty=False, max_length=500)


class ReturnInspectionIn(serializers.Serializer):
    sku_id = Text(max_length=64)
    available = Whole(min_value=0, default=0)
    damaged = Whole(min_value=0, default=0)
    quarantined = Whole(min_value=0, default=0)


class ReturnInspectIn(serializers.Serializer):
    lines = ReturnInspectionIn(
        many=True,
        allow_empty=False,
        max_length=500,
        help_text="per SKU of the return, its units to available, damaged and quarantined "
        "(adding up to its units; a marketplace's order: none to available)",
    )
    note = Text(max_length=255, required=False, allow_blank=True, default="")


def _answer(pk: int, status: int = 200) -> Response:
    return Response(CustomerReturnOut(customer_return_list().get(pk=pk)).data, status=status)


class CustomerReturns(ListAPIView):
    """GET /api/orders/returns/?status=&location=&channel=&order=&sku_id= — customer returns,
    those awaiting inspection first. POST {"channel", "order", "location", "reference",
    "reason", "lines": [{"sku_id", "quantity"}]} — a customer handed shipped units back at a
    store: they wait in returned there (201, the return; 200 for a slip received already)."""

    serializer_class = CustomerReturnOut
    permission_classes = [RolePermissions]
    filterset_class = CustomerReturnFilter

    def get_queryset(self):
        return customer_return_list()

    @extend_schema(
        request=ReturnReceiveIn,
        responses={201: CustomerReturnOut, 200: CustomerReturnOut, 409: CONFLICT},
    )
    def post(self, request: Request) -> Response:
        require_perm(request, "orders.add_customerreturn")
        body = ReturnReceiveIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        problems = {}
        channel = Channel.objects.filter(code=data["channel"]).first()
        location = Location.objects.filter(code=data["location"]).first()
        order = None
        if channel is None:
            problems["channel"] = ["No channel with this code."]
        else:
            order = ChannelOrder.objects.filter(channel=channel, external_id=data["order"]).first()
            if order is None:
                problems["order"] = [f"No order {data['order']} on {channel.code}."]
        if location is None:
            problems["location"] = ["No location with this code."]
        if problems:
            raise serializers.ValidationError(problems)
        received, created = customer_return_receive(
            order=order,
            location=location,
            lines=[(line["sku_id"], line["quantity"]) for line in data["lines"]],
            reference=data["reference"],
            reason=data["reason"],
            actor=request.user,
        )
        return _answer(received.pk, 201 if created else 200)


class CustomerReturnInspect(APIView):
    """POST /api/orders/returns/{id}/inspect/ {"lines": [{"sku_id", "available", "damaged",
    "quarantined"}], "note"} — decide every unit of a return awaiting inspection (409 if it is
    not awaiting inspection)."""

    @extend_schema(request=ReturnInspectIn, responses={200: CustomerReturnOut, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, "orders.inspect_customerreturn")
        customer_return = get_object_or_404(CustomerReturn, pk=pk)
        body = ReturnInspectIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        customer_return_inspect(
            customer_return=customer_return,
            decisions=[
                Inspection(
                    line["sku_id"],
                    available=line["available"],
                    damaged=line["damaged"],
                    quarantined=line["quarantined"],
                )
                for line in data["lines"]
            ],
            actor=request.user,
            note=data["note"],
        )
        return _answer(pk)
