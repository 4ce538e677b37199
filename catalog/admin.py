"""The admin site for the catalog: price rules editable by admins (through the service, audited);
products and prices to look at (they change through ingests and the pricing pages)."""

from __future__ import annotations

from django.contrib import admin

from catalog.forms import PriceRuleForm
from catalog.models import Category, Price, Product
from catalog.selectors import known_channel_codes
from catalog.services.price_rules import price_rule_update
from ims.admin import ReadOnlyAdmin


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = PriceRuleForm
    list_display = ("name", "max_discount_pct", "min_margin_pct", "luxury", "excluded_channels")
    search_fields = ("name",)
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return ("name",) if obj else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        category = price_rule_update(
            name=obj.name,
            max_discount_pct=data.get("max_discount_pct"),
            min_margin_pct=data.get("min_margin_pct"),
            luxury=data.get("luxury"),
            excluded_channels=data.get("excluded_channels"),
            known_channels=known_channel_codes(),
            actor=request.user,
            reason=data.get("reason") or "changed in the admin",
        )
        obj.pk = category.pk
        obj.refresh_from_db()


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ("sku", "name", "category", "mrp", "price", "currency", "status")
    list_filter = ("status", "category")
    search_fields = ("sku", "name", "barcode")


@admin.register(Price)
class PriceAdmin(ReadOnlyAdmin):
    list_display = (
        "product",
        "amount",
        "mrp",
        "currency",
        "effective_from",
        "source",
        "status",
        "rule",
        "created_by",
    )
    list_filter = ("status", "source")
    search_fields = ("product__sku",)
    raw_id_fields = ("product",)
