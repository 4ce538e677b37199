from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from exceptions.models import OpsException, ReconcileRun
from exceptions.selectors import SORTS, exception_page
from exceptions.services import ops_exception_acknowledge
from ims.api import RolePermissions, Text, Whole
from ims.money import money
from ims.openapi import CONFLICT
from reconcile.filters import OpsExceptionFilter
from reconcile.reports import EXCEPTION_COLUMNS


class KeysetPagination(BasePagination):
    """The triage pages' keyset pages (exceptions.selectors.exception_page): fast on millions of rows.

    `?sort=exposure|age|newest`, `?cursor=` from `next` / `previous`."""

    page_size = 50

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        sort = request.query_params.get("sort") or "exposure"
        if sort not in SORTS:
            raise serializers.ValidationError({"sort": [f"one of {', '.join(SORTS)}"]})
        self.page = exception_page(
            queryset=queryset,
            sort=sort,
            cursor=request.query_params.get("cursor", ""),
            size=self.page_size,
        )
        return self.page.rows

    def _link(self, cursor):
        if not cursor:
            return None
        return replace_query_param(self.request.build_absolute_uri(), "cursor", cursor)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link(self.page.next_cursor),
                "previous": self._link(self.page.previous_cursor),
                "results": data,
            }
        )

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "sort",
                "in": "query",
                "required": False,
                "description": "exposure (highest first, the default), age (oldest first) or newest",
                "schema": {"type": "string", "enum": list(SORTS)},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "`next` or `previous` of a page (one IMS cannot read gives the first)",
                "schema": {"type": "string"},
            },
        ]

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "properties": {
                "next": {"type": "string", "nullable": True},
                "previous": {"type": "string", "nullable": True},
                "results": schema,
            },
        }


class OpsExceptionSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code", allow_null=True, default=None)
    location = serializers.CharField(source="location.code", allow_null=True, default=None)
    exposure = serializers.SerializerMethodField()
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", allow_null=True, default=None
    )

    class Meta:
        model = OpsException
        # exceptions.csv's columns up to last_seen, then when it was resolved, before its source.
        fields = [
            "id",
            *EXCEPTION_COLUMNS[: EXCEPTION_COLUMNS.index("last_seen") + 1],
            "resolved_at",
            "source",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledge_reason",
            "push_status",
            "push_error",
        ]

    def get_exposure(self, exception) -> str:
        return money(exception.exposure, exception.currency)


class AcknowledgeSerializer(serializers.Serializer):
    ids = serializers.ListField(child=Whole(min_value=1), min_length=1, required=False)
    reason = Text(max_length=500)


class OpsExceptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Exceptions, filtered as on the triage page (open and acknowledged unless `status` is given).

    Acknowledge one (`POST /{id}/acknowledge/ {"reason"}`) or many (`POST /acknowledge/ {"ids", "reason"}`);
    queue a correction with `POST /{id}/push/`."""

    queryset = OpsException.objects.all()
    serializer_class = OpsExceptionSerializer
    permission_classes = [RolePermissions]
    filterset_class = OpsExceptionFilter
    pagination_class = KeysetPagination
    action_perms = {
        "acknowledge": ["exceptions.acknowledge_opsexception"],
        "acknowledge_many": ["exceptions.acknowledge_opsexception"],
        "push": ["exceptions.push_opsexception"],
    }

    def get_queryset(self):
        return OpsException.objects.select_related("channel", "location", "acknowledged_by")

    def filter_queryset(self, queryset):
        if self.action == "retrieve":
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(request=AcknowledgeSerializer, responses=OpsExceptionSerializer)
    @action(detail=True, methods=["post"], serializer_class=AcknowledgeSerializer)
    def acknowledge(self, request, pk=None):
        exception = self.get_object()
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ops_exception_acknowledge(
            exceptions=[exception], reason=body.validated_data["reason"], actor=request.user
        )
        exception.refresh_from_db()
        return Response(OpsExceptionSerializer(exception).data)

    @extend_schema(
        operation_id="exceptions_acknowledge_many",
        request=AcknowledgeSerializer,
        responses=inline_serializer("Acknowledged", {"acknowledged": serializers.IntegerField()}),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="acknowledge",
        serializer_class=AcknowledgeSerializer,
    )
    def acknowledge_many(self, request):
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        chosen = OpsException.objects.filter(pk__in=body.validated_data.get("ids", []))
        count = ops_exception_acknowledge(
            exceptions=list(chosen), reason=body.validated_data["reason"], actor=request.user
        )
        return Response({"acknowledged": count})

    @extend_schema(request=None, responses={202: OpsExceptionSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def push(self, request, pk=None):
        from channels.services import sync_push_correction

        exception = self.get_object()
        sync_push_correction(exception=exception, actor=request.user)
        exception.refresh_from_db()
        return Response(OpsExceptionSerializer(exception).data, status=202)


class ReconcileRunSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code", allow_null=True, default=None)

    class Meta:
        model = ReconcileRun
        fields = [
            "id",
            "started_at",
            "finished_at",
            "status",
            "channel",
            "created",
            "updated",
            "resolved",
            "figures",
            "error",
        ]


class ReconcileRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Reconcile runs with their scorecard figures (newest first)."""

    queryset = ReconcileRun.objects.select_related("channel").order_by("-started_at")
    serializer_class = ReconcileRunSerializer
    permission_classes = [RolePermissions]
