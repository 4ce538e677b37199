from django.contrib import admin

from exceptions.models import OpsException, ReconcileRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by IMS's services: people look, they do not edit here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OpsException)
class OpsExceptionAdmin(ReadOnlyAdmin):
    list_display = (
        "sku_id",
        "channel",
        "discrepancy",
        "expected",
        "actual",
        "status",
        "exposure",
        "first_seen",
    )
    list_filter = ("status", "discrepancy", "channel", "source")
    search_fields = ("sku_id",)
    show_full_result_count = False


@admin.register(ReconcileRun)
class ReconcileRunAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "started_at",
        "finished_at",
        "status",
        "channel",
        "created",
        "updated",
        "resolved",
    )
