"""/api/stock/transfers/: list transfers, send one, receive one. An input serializer parses,
the transfer service acts (its role rule, its audit), the transfer answers."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Product
from ims.api import RolePermissions, Text, Whole, require_perm
from ims.openapi import CONFLICT
from inventory.models import Location, Transfer, TransferStatus
from inventory.selectors.transfers import transfer_list
from inventory.services.transfers import transfer_receive, transfer_send


class TransferLineOut(serializers.Serializer):
    sku_id = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField()


class TransferOut(serializers.ModelSerializer):
    source = serializers.CharField(source="source.code")
    destination = serializers.CharField(source="destination.code")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    received_by = serializers.CharField(
        source="received_by.username", allow_null=True, default=None
    )
    lines = TransferLineOut(many=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "status",
            "source",
            "destination",
            "lines",
            "reason",
            "created_at",
            "created_by",
            "received_at",
            "received_by",
        ]


class TransferFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TransferStatus.choices)
    sku_id = django_filters.CharFilter(method="by_sku", label="SKU starts with (any line)")
    location = django_filters.CharFilter(method="by_location", label="source or destination code")

    class Meta:
        model = Transfer
        fields = []

    def by_sku(self, transfers, name, value):
        return transfers.filter(pk__in=transfer_list(sku=value).values("pk"))

    def by_location(self, transfers, name, value):
        return transfers.filter(pk__in=transfer_list(location=value).values("pk"))


class TransferList(ListAPIView):
    """GET /api/stock/transfers/?status=in_transit&sku_id=PREFIX&location=CODE — transfers,
    newest first, with their lines; `location` matches either end."""

    serializer_class = TransferOut
    permission_classes = [RolePermissions]
    filterset_class = TransferFilter

    def get_queryset(self):
        return transfer_list()


class TransferSendIn(serializers.Serializer):
    sku_id = Text(max_length=64)
    source = Text(max_length=64, help_text="the location the units leave (its code)")
    destination = Text(max_length=64, help_text="the location they go to (its code)")
    quantity = Whole(min_value=1)
    reason = Text(max_length=255, help_text="a reference or reason, kept with the movements")

    def validate(self, data):
        problems = {}
        data["product"] = Product.objects.filter(sku=data["sku_id"]).first()
        if data["product"] is None:
            problems["sku_id"] = ["No product with this SKU."]
        for name in ("source", "destination"):
            data[f"{name}_location"] = Location.objects.filter(code=data[name]).first()
            if data[f"{name}_location"] is None:
                problems[name] = ["No location with this code."]
        if not problems and data["source"] == data["destination"]:
            problems["destination"] = ["Must differ from the source."]
        if problems:
            raise serializers.ValidationError(problems)
        return data


def _answer(transfer: Transfer, code=status.HTTP_200_OK) -> Response:
    transfer = transfer_list().get(pk=transfer.pk)
    return Response(TransferOut(transfer).data, status=code)


class TransferSend(APIView):
    """POST /api/stock/transfers/send/ {"sku_id", "source", "destination", "quantity",
    "reason"} — available units leave the source and show in transit at the destination; the
    transfer, 201. 409 when the source has fewer available."""

    @extend_schema(request=TransferSendIn, responses={201: TransferOut, 409: CONFLICT})
    def post(self, request: Request) -> Response:
        require_perm(request, "inventory.add_transfer")
        body = TransferSendIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        transfer = transfer_send(
            source=data["source_location"],
            destination=data["destination_location"],
            lines=[(data["product"].pk, data["quantity"])],
            actor=request.user,
            reason=data["reason"],
        )
        return _answer(transfer, status.HTTP_201_CREATED)


class TransferReceiveIn(serializers.Serializer):
    reason = Text(required=False, default="received", max_length=255)


class TransferReceive(APIView):
    """POST /api/stock/transfers/{id}/receive/ {"reason"?} — every unit of the transfer becomes
    available at the destination (in_transit → available); the transfer. 409 if it was
    received already."""

    @extend_schema(request=TransferReceiveIn, responses={200: TransferOut, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, "inventory.receive_transfer")
        body = TransferReceiveIn(data=request.data)
        body.is_valid(raise_exception=True)
        transfer = get_object_or_404(Transfer, pk=pk)
        transfer_receive(
            transfer=transfer, actor=request.user, reason=body.validated_data["reason"]
        )
        return _answer(transfer)
