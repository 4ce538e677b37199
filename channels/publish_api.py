"""/api/channels/{code}/publish/: publish products to a channel from IMS (POST) and read what
was published there (GET). The input serializer parses; channels.publish decides, checks the
role and audits."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from channels.models import Channel, ListingPublication, PublicationStatus
from channels.publish import MOST, listing_publish
from ims.api import Text, require_perm


class PublishIn(serializers.Serializer):
    skus = serializers.ListField(
        child=Text(max_length=64),
        min_length=1,
        max_length=MOST,
        help_text=f"The SKUs to publish (at most {MOST}).",
    )


class PublicationOut(serializers.ModelSerializer):
    sku_id = serializers.CharField(source="product.sku")
    channel = serializers.CharField(source="channel.code")
    actor = serializers.CharField(source="actor.get_username", default=None)
    requests = serializers.JSONField(
        help_text="The writes sent (in a dry run, that would be sent): {method, path, body}."
    )

    class Meta:
        model = ListingPublication
        fields = ["id", "sku_id", "channel", "status", "external_id", "error", "requests"]
        fields += ["actor", "created_at"]


class SkippedOut(serializers.Serializer):
    sku_id = serializers.CharField(source="sku")
    reason = serializers.CharField()


class PublishOut(serializers.Serializer):
    summary = serializers.CharField()
    dry_run = serializers.BooleanField()
    publications = PublicationOut(many=True)
    skipped = SkippedOut(many=True)


class ChannelPublish(ListAPIView):
    """POST /api/channels/{code}/publish/ {"skus": [...]} — create each product's listing on
    the channel (push mode) or work out what would be sent (dry run); a read-only or paused
    channel is refused (400, its reason). Answers one publication per product sent (status
    published / previewed / unmatched / failed, the channel's id, its refusal) and the SKUs
    left out with why. GET lists the channel's publications, newest first (?status=,
    ?sku=)."""

    serializer_class = PublicationOut
    permission_classes = [IsAuthenticated]
    filter_backends = []

    def get_queryset(self):
        channel = get_object_or_404(Channel, code=self.kwargs["code"])
        rows = ListingPublication.objects.filter(channel=channel).select_related(
            "channel", "product", "actor"
        )
        status = self.request.GET.get("status", "")
        if status:
            if status not in PublicationStatus.values:
                raise serializers.ValidationError(
                    {"status": [f"One of {', '.join(PublicationStatus.values)}."]}
                )
            rows = rows.filter(status=status)
        if sku := self.request.GET.get("sku", "").strip():
            rows = rows.filter(product__sku=sku)
        return rows.order_by("-created_at", "-pk")

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=PublicationStatus.values),
            OpenApiParameter("sku", str),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        require_perm(request, "channels.view_channel")
        return super().get(request, *args, **kwargs)

    @extend_schema(request=PublishIn, responses={200: PublishOut})
    def post(self, request: Request, code: str) -> Response:
        require_perm(request, "channels.publish_listing")
        channel = get_object_or_404(Channel, code=code)
        body = PublishIn(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = listing_publish(
            channel=channel, skus=body.validated_data["skus"], actor=request.user
        )
        return Response(
            PublishOut(
                {
                    "summary": outcome.summary,
                    "dry_run": outcome.dry_run,
                    "publications": outcome.publications,
                    "skipped": outcome.skipped,
                }
            ).data
        )
