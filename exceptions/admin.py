from django.contrib import admin

from exceptions.models import OpsException, ReconcileRun
from ims.admin import ReadOnlyAdmin


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
