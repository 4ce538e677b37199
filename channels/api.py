import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from channels.models import Channel, ChannelListing
from channels.services import channel_pause, channel_resume
from ims.api import RolePermissions, Text
from ims.filters import BooleanFilter


class ChannelSerializer(serializers.ModelSerializer):
    locations = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "code",
            "name",
            "kind",
            "sync_mode",
            "status",
            "pause_reason",
            "paused_at",
            "safety_buffer",
            "currency",
            "base_url",
            "locations",
            "last_snapshot_at",
        ]

    def get_locations(self, channel) -> list[str]:
        return [cl.location.code for cl in channel.channel_locations.all()]


class ReasonSerializer(serializers.Serializer):
    reason = Text(max_length=500)


class ResumeSerializer(serializers.Serializer):
    reason = Text(max_length=500, required=False, allow_blank=True, default="")


class ChannelViewSet(viewsets.ReadOnlyModelViewSet):
    """Channels with their sync mode and status. Admins pause and resume them."""

    queryset = Channel.objects.prefetch_related("channel_locations__location").order_by("code")
    serializer_class = ChannelSerializer
    permission_classes = [RolePermissions]
    lookup_field = "code"
    lookup_value_regex = "[^/.\\x00]+"
    action_perms = {"pause": ["channels.change_channel"], "resume": ["channels.resume_channel"]}

    @extend_schema(request=ReasonSerializer, responses=ChannelSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, code=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        channel = self.get_object()
        channel_pause(channel=channel, reason=body.validated_data["reason"], actor=request.user)
        return Response(ChannelSerializer(channel).data)

    @extend_schema(request=ResumeSerializer, responses=ChannelSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, code=None):
        body = ResumeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        channel = self.get_object()
        channel_resume(channel=channel, actor=request.user, reason=body.validated_data["reason"])
        return Response(ChannelSerializer(channel).data)


class ListingFilter(django_filters.FilterSet):
    channel = django_filters.CharFilter(field_name="channel__code")
    sku_id = django_filters.CharFilter(field_name="product__sku")
    channel_only = BooleanFilter(field_name="product", lookup_expr="isnull")

    class Meta:
        model = ChannelListing
        fields = []


class ListingSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code")
    sku_id = serializers.CharField(source="product.sku", allow_null=True, default=None)

    class Meta:
        model = ChannelListing
        fields = [
            "channel",
            "identifier",
            "sku_id",
            "sku",
            "external_id",
            "barcode",
            "quantity",
            "price",
            "currency",
            "seen_at",
        ]


class ChannelListingViewSet(viewsets.ReadOnlyModelViewSet):
    """What each channel shows (from snapshots and live reads)."""

    queryset = ChannelListing.objects.select_related("channel", "product").order_by(
        "channel__code", "identifier"
    )
    serializer_class = ListingSerializer
    permission_classes = [RolePermissions]
    filterset_class = ListingFilter
