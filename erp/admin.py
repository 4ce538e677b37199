from django.contrib import admin

from erp.models import ErpSource, ExportRun, ResetRun


@admin.register(ErpSource)
class ErpSourceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "base_url", "schedule", "active", "last_pulled_at")
    list_filter = ("kind", "active")
    filter_horizontal = ("locations",)
    readonly_fields = ("last_pulled_at",)


class ReadOnly(admin.ModelAdmin):
    """Runs are records: nobody adds, changes or deletes them here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ResetRun)
class ResetRunAdmin(ReadOnly):
    list_display = ("started_at", "source", "file_name", "as_of", "status", "kept", "changed")
    list_filter = ("status", "source")


@admin.register(ExportRun)
class ExportRunAdmin(ReadOnly):
    list_display = ("exported_at", "status", "movements")
    list_filter = ("status",)
