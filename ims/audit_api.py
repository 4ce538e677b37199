"""The audit trail over the REST API: read-only, Superadmins only, filtered like the page."""

from __future__ import annotations

from rest_framework import generics, permissions, serializers

from ims.audit import audit_record
from ims.audit_csv import AUDIT_COLUMNS
from ims.filters import AuditEventFilter
from ims.models import AuditEvent

VIEW_PERMISSION = "ims.view_auditevent"


def may_read_audit(user) -> bool:
    """Only Superadmins hold the permission to read the audit trail."""
    return bool(user and user.is_authenticated and user.has_perm(VIEW_PERMISSION))


def audit_denied(*, user, path: str) -> None:
    """Record an attempt to read the audit trail by someone not allowed to."""
    audit_record(
        actor=user,
        action="audit_view_denied",
        object_type="ims.auditevent",
        object_repr="audit trail",
        after={"path": path},
        reason="not a Superadmin",
    )


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", *AUDIT_COLUMNS]
        read_only_fields = fields


class ReadsAudit(permissions.BasePermission):
    message = "Only a Superadmin may read the audit trail."

    def has_permission(self, request, view) -> bool:
        return request.method in permissions.SAFE_METHODS and may_read_audit(request.user)


class _AuditView:
    serializer_class = AuditEventSerializer
    permission_classes = [permissions.IsAuthenticated, ReadsAudit]

    def get_queryset(self):
        return AuditEvent.objects.order_by("-at", "-id")

    def permission_denied(self, request, message=None, code=None):
        if request.user and request.user.is_authenticated and not may_read_audit(request.user):
            audit_denied(user=request.user, path=request.path)
        super().permission_denied(request, message=message, code=code)


class AuditEventList(_AuditView, generics.ListAPIView):
    """GET /api/audit/?actor=&object_type=&object_id=&action=&since=&before= (newest first)."""

    filterset_class = AuditEventFilter


class AuditEventDetail(_AuditView, generics.RetrieveAPIView):
    """GET /api/audit/{id}/"""
