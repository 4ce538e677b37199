from django.contrib import admin, messages

from channels.models import Channel, ChannelListing, ChannelLocation
from channels.services import channel_pause, channel_resume
from ims.admin import ReadOnlyAdmin
from ims.errors import ApplicationError


class ChannelLocationInline(admin.TabularInline):
    model = ChannelLocation
    extra = 0
    ordering = ("position",)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Configuration is edited here; pausing and resuming go through their services (audited)."""

    list_display = ("code", "name", "kind", "sync_mode", "status", "pause_reason")
    readonly_fields = ("status", "pause_reason", "paused_at", "last_snapshot_at")
    inlines = [ChannelLocationInline]
    actions = ["pause_channels", "resume_channels"]

    @admin.action(description="Pause the selected channels", permissions=["change"])
    def pause_channels(self, request, queryset):
        for channel in queryset:
            channel_pause(
                channel=channel,
                reason=f"paused by {request.user.get_username()} in the admin",
                actor=request.user,
            )

    @admin.action(description="Resume the selected channels", permissions=["resume"])
    def resume_channels(self, request, queryset):
        for channel in queryset:
            try:
                channel_resume(channel=channel, actor=request.user, reason="resumed in the admin")
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)

    def has_resume_permission(self, request):
        return request.user.has_perm("channels.resume_channel")


@admin.register(ChannelListing)
class ChannelListingAdmin(ReadOnlyAdmin):
    list_display = ("channel", "identifier", "product", "quantity", "price", "currency", "seen_at")
    list_filter = ("channel",)
    search_fields = ("identifier", "product__sku")
    list_select_related = ("channel", "product")
