"""/api/stock/vendor-returns/: list, create, record the vendor's credit note (the return
closes), close with a credit note already recorded. An input serializer parses, the services
in inventory.services.vendor_returns act (their role rules, their audit)."""

from __future__ import annotations

import django_filters
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Product
from ims.api import Amount, RolePermissions, Text, Whole, require_perm
from ims.openapi import CONFLICT
from inventory.models import CreditNote, Location, StockState, VendorReturn
from inventory.selectors.vendor_returns import vendor_return_list
from inventory.services.vendor_returns import (
    credit_note_record,
    vendor_return_close,
    vendor_return_create,
)


class CreditNoteOut(serializers.ModelSerializer):
    class Meta:
        model = CreditNote
        fields = ["id", "vendor", "number", "amount", "currency", "issued_on"]


class VendorReturnLineOut(serializers.Serializer):
    sku_id = serializers.CharField(source="product.sku")
    from_state = serializers.CharField()
    quantity = serializers.IntegerField()


class VendorReturnOut(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code")
    lines = VendorReturnLineOut(many=True)
    credit_note = CreditNoteOut(allow_null=True)

    class Meta:
        model = VendorReturn
        fields = [
            "id",
            "vendor",
            "location",
            "tracking_number",
            "reason",
            "status",
            "lines",
            "credit_note",
            "created_at",
            "closed_at",
        ]


class VendorReturnFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[("shipped", "shipped"), ("closed", "closed")])
    vendor = django_filters.CharFilter(field_name="vendor")

    class Meta:
        model = VendorReturn
        fields = []


class LineIn(serializers.Serializer):
    sku_id = Text(max_length=64)
    quantity = Whole(min_value=1)


class VendorReturnIn(serializers.Serializer):
    vendor = Text(max_length=255)
    location = Text(max_length=64)
    tracking_number = Text(max_length=128, help_text="the carrier's tracking number (required)")
    reason = Text(max_length=255)
    from_state = serializers.ChoiceField(
        choices=[StockState.DAMAGED, StockState.QUARANTINED, StockState.AVAILABLE],
        default=StockState.DAMAGED,
    )
    lines = LineIn(many=True, allow_empty=False, max_length=500)


class CreditNoteIn(serializers.Serializer):
    number = Text(max_length=64)
    amount = Amount()
    currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3, min_length=3)
    issued_on = serializers.DateField()


class CloseIn(serializers.Serializer):
    credit_note = Whole(min_value=1, help_text="the id of a credit note already recorded")


def _answer(pk: int) -> Response:
    return Response(VendorReturnOut(vendor_return_list().get(pk=pk)).data)


class VendorReturns(ListAPIView):
    """GET /api/stock/vendor-returns/?status=shipped|closed&vendor=NAME — newest first.
    POST {"vendor", "location", "tracking_number", "reason", "from_state", "lines": [{"sku_id",
    "quantity"}]} — ship goods back to a vendor: the units leave stock (201, the return)."""

    serializer_class = VendorReturnOut
    permission_classes = [RolePermissions]
    filterset_class = VendorReturnFilter

    def get_queryset(self):
        return vendor_return_list()

    @extend_schema(request=VendorReturnIn, responses={201: VendorReturnOut, 409: CONFLICT})
    def post(self, request: Request) -> Response:
        require_perm(request, "inventory.add_vendorreturn")
        body = VendorReturnIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        location = Location.objects.filter(code=data["location"]).first()
        skus = {line["sku_id"] for line in data["lines"]}
        products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
        problems = {}
        if location is None:
            problems["location"] = ["No location with this code."]
        missing = sorted(skus - products.keys())
        if missing:
            problems["lines"] = [f"No product with SKU {', '.join(missing)}."]
        if problems:
            raise serializers.ValidationError(problems)
        created = vendor_return_create(
            vendor=data["vendor"],
            location=location,
            tracking_number=data["tracking_number"],
            lines=[(products[line["sku_id"]], line["quantity"]) for line in data["lines"]],
            actor=request.user,
            reason=data["reason"],
            from_state=data["from_state"],
        )
        response = _answer(created.pk)
        response.status_code = 201
        return response


class VendorReturnCreditNote(APIView):
    """POST /api/stock/vendor-returns/{id}/credit-note/ {"number", "amount", "currency",
    "issued_on"} — record the vendor's credit note and link it: the return closes (both or
    neither)."""

    @extend_schema(request=CreditNoteIn, responses={200: VendorReturnOut, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, "inventory.add_creditnote")
        require_perm(request, "inventory.close_vendorreturn")
        vendor_return = get_object_or_404(VendorReturn, pk=pk)
        body = CreditNoteIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if CreditNote.objects.filter(vendor=vendor_return.vendor, number=data["number"]).exists():
            raise serializers.ValidationError(
                {"number": [f"{vendor_return.vendor} credit note {data['number']} is recorded."]}
            )
        try:
            with transaction.atomic():
                note = credit_note_record(vendor=vendor_return.vendor, actor=request.user, **data)
                vendor_return_close(
                    vendor_return=vendor_return, credit_note=note, actor=request.user
                )
        except IntegrityError:  # recorded meanwhile by someone else
            raise serializers.ValidationError(
                {"number": [f"{vendor_return.vendor} credit note {data['number']} is recorded."]}
            ) from None
        return _answer(pk)


class VendorReturnClose(APIView):
    """POST /api/stock/vendor-returns/{id}/close/ {"credit_note": id} — link a credit note
    already recorded (the same vendor's, not linked elsewhere): the return closes."""

    @extend_schema(request=CloseIn, responses={200: VendorReturnOut, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, "inventory.close_vendorreturn")
        vendor_return = get_object_or_404(VendorReturn, pk=pk)
        body = CloseIn(data=request.data)
        body.is_valid(raise_exception=True)
        note = CreditNote.objects.filter(pk=body.validated_data["credit_note"]).first()
        if note is None:
            raise serializers.ValidationError({"credit_note": ["No credit note with this id."]})
        vendor_return_close(vendor_return=vendor_return, credit_note=note, actor=request.user)
        return _answer(pk)
