"""/api/channels/{code}/assortment/: what a channel offers, listed with the page's filters, and
changed for many products at once (named SKUs or a whole category). The input serializer
parses; channels.assortment decides, checks the role and audits."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.models import Category
from channels.assortment import UNSET, assortment_set
from channels.assortment_selectors import OFFERED_CHOICES, assortment_list, assortment_totals
from channels.filters import AssortmentFilter
from channels.models import Channel
from ims.api import Text, Whole, require_perm

MAX_SKUS = 5000


class AssortmentRowOut(serializers.Serializer):
    sku_id = serializers.CharField(source="sku")
    name = serializers.CharField()
    category = serializers.CharField(source="category.name")
    offered = serializers.BooleanField(help_text="false: withheld from this channel (pushed as 0)")
    max_units = serializers.IntegerField(
        source="cap", allow_null=True, help_text="the product's cap on this channel; null: none"
    )


class Flag(serializers.BooleanField):
    """true or false as JSON, never a string or number turned into one."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class AssortmentIn(serializers.Serializer):
    skus = serializers.ListField(
        child=Text(max_length=64),
        required=False,
        allow_empty=False,
        max_length=MAX_SKUS,
        help_text="the products to change (SKUs); or give `category`",
    )
    category = Text(max_length=120, required=False, help_text="every active product in it")
    publish = Flag(required=False, help_text="true: offer; false: withhold (pushed as 0)")
    max_units = Whole(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="the product cap on this channel; null: no cap; absent: left as it is",
    )
    reason = Text(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        problems = {}
        if ("skus" in attrs) == ("category" in attrs):
            problems["skus"] = ["Give `skus` or `category` (one of them)."]
        if "publish" not in attrs and "max_units" not in attrs:
            problems["publish"] = ["Give `publish` and/or `max_units`."]
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class AssortmentSetOut(serializers.Serializer):
    channel = serializers.CharField()
    matched = serializers.IntegerField(help_text="products the request named")
    changed = serializers.IntegerField(help_text="of them, those whose value changed")
    offered = serializers.IntegerField(help_text="the channel's active products offered now")
    withheld = serializers.IntegerField(help_text="the channel's active products withheld now")


FILTERS = [
    OpenApiParameter("category", OpenApiTypes.STR, description="a category's name"),
    OpenApiParameter("sku", OpenApiTypes.STR, description="SKUs starting with this"),
    OpenApiParameter(
        "offered",
        OpenApiTypes.STR,
        enum=[value for value, _ in OFFERED_CHOICES],
        description="yes: offered; no: withheld; absent: all",
    ),
]


class ChannelAssortment(ListAPIView):
    """GET /api/channels/{code}/assortment/?category=NAME&sku=PREFIX&offered=yes|no — the
    channel's active products by SKU, each offered or withheld and its product cap.
    POST {"skus": [...]} or {"category": NAME}, with "publish" and/or "max_units" (null: no
    cap) and a "reason" — offer, withhold or cap them all at once; their stock is queued for
    the channel. Answers how many matched and changed, and the channel's totals."""

    serializer_class = AssortmentRowOut
    permission_classes = [IsAuthenticated]
    filter_backends = []

    def _channel(self) -> Channel:
        return get_object_or_404(Channel, code=self.kwargs["code"])

    def get_queryset(self):
        channel = self._channel()
        form = AssortmentFilter(self.request.GET).form
        if not form.is_valid():
            raise serializers.ValidationError(form.errors)
        chosen = form.cleaned_data
        return assortment_list(
            channel=channel,
            category=chosen.get("category"),
            sku=(chosen.get("sku") or "").strip(),
            offered=chosen.get("offered") or "",
        )

    @extend_schema(parameters=FILTERS)
    def get(self, request: Request, *args, **kwargs) -> Response:
        require_perm(request, "channels.view_channelassortment")
        return super().get(request, *args, **kwargs)

    @extend_schema(request=AssortmentIn, responses={200: AssortmentSetOut})
    def post(self, request: Request, code: str) -> Response:
        require_perm(request, "channels.change_channelassortment")
        channel = self._channel()
        body = AssortmentIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        products = assortment_list(channel=channel)
        if "category" in data:
            category = Category.objects.filter(name=data["category"]).first()
            if category is None:
                raise serializers.ValidationError(
                    {"category": [f"No category named '{data['category']}'."]}
                )
            products = products.filter(category=category)
        else:
            skus = set(data["skus"])
            products = products.filter(sku__in=skus)
            missing = sorted(skus - set(products.values_list("sku", flat=True)))
            if missing:
                raise serializers.ValidationError(
                    {"skus": [f"No active product with SKU {', '.join(missing)}."]}
                )
        matched = products.count()
        changed = assortment_set(
            channel=channel,
            products=products,
            publish=data.get("publish"),
            max_units=data.get("max_units", UNSET),
            actor=request.user,
            reason=data["reason"],
        )
        totals = assortment_totals(assortment_list(channel=channel))
        return Response(
            AssortmentSetOut(
                {
                    "channel": channel.code,
                    "matched": matched,
                    "changed": changed,
                    "offered": totals["offered"],
                    "withheld": totals["withheld"],
                }
            ).data
        )
