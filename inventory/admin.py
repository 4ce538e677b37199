from django.contrib import admin

from ims.admin import ReadOnlyAdmin
from inventory.models import STATES, Location, LocationAlias, Movement, StockLevel


class LocationAliasInline(admin.TabularInline):
    model = LocationAlias
    extra = 0


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind")
    search_fields = ("code", "name")
    inlines = [LocationAliasInline]


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    """Levels are the ledger's running total: never edited directly."""

    list_display = ("product", "location", *STATES)
    list_filter = ("location",)
    search_fields = ("product__sku",)
    list_select_related = ("product", "location")


@admin.register(Movement)
class MovementAdmin(ReadOnlyAdmin):
    """The append-only ledger."""

    list_display = (
        "created_at",
        "product",
        "location",
        "from_state",
        "to_state",
        "quantity",
        "reason",
        "ref",
        "actor",
    )
    list_filter = ("reason", "location")
    search_fields = ("product__sku", "ref")
    list_select_related = ("product", "location", "actor")
    show_full_result_count = False
