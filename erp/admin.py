from django.contrib import admin

from erp.models import ErpSource, ExportRun, ResetRun
from ims.admin import ReadOnlyAdmin


@admin.register(ErpSource)
class ErpSourceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "base_url", "schedule", "active", "last_pulled_at")
    list_filter = ("kind", "active")
    filter_horizontal = ("locations",)
    readonly_fields = ("last_pulled_at",)


@admin.register(ResetRun)
class ResetRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "source", "file_name", "as_of", "status", "kept", "changed")
    list_filter = ("status", "source")


@admin.register(ExportRun)
class ExportRunAdmin(ReadOnlyAdmin):
    list_display = ("exported_at", "status", "movements")
    list_filter = ("status",)
