"""Forms for catalog pages: parse and validate input, services decide."""

from __future__ import annotations

from django import forms

from catalog.gtin import gtin14
from catalog.models import Category, ProductStatus, Style
from ims.money import known_currencies, minor_units


class ProductForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=64)
    name = forms.CharField(max_length=255)
    barcode = forms.CharField(label="Barcode (GTIN-8/12/13/14)", max_length=20)
    category = forms.ModelChoiceField(
        queryset=Category.objects.exclude(name=Category.DEFAULT).order_by("name")
    )
    uom = forms.CharField(label="Unit of measure", max_length=16, initial="EA")
    cost = forms.DecimalField(min_value=0, max_digits=14, decimal_places=4)
    mrp = forms.DecimalField(label="MRP", min_value=0, max_digits=14, decimal_places=4)
    price = forms.DecimalField(label="Offer price", min_value=0, max_digits=14, decimal_places=4)
    currency = forms.CharField(max_length=3, initial="USD")
    status = forms.ChoiceField(choices=ProductStatus.choices, initial=ProductStatus.ACTIVE)
    style = forms.CharField(label="Style (parent) code", max_length=64, required=False)
    attributes = forms.CharField(label="Variant attributes (size=M;colour=red)", required=False)

    def clean_barcode(self):
        value = self.cleaned_data["barcode"].strip()
        try:
            gtin14(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value

    def clean_currency(self):
        value = self.cleaned_data["currency"].strip().upper()
        if value not in known_currencies():
            raise forms.ValidationError(f"'{value}' is not an ISO 4217 currency code")
        return value

    def clean_attributes(self):
        pairs = {}
        for part in filter(None, (p.strip() for p in self.cleaned_data["attributes"].split(";"))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise forms.ValidationError(f"'{part}' is not key=value")
            pairs[key.strip()] = value.strip()
        return pairs

    def clean(self):
        data = super().clean()
        currency = data.get("currency")
        if currency:
            places = minor_units(currency)
            for name in ("cost", "mrp", "price"):
                value = data.get(name)
                if value is not None and -value.as_tuple().exponent > places:
                    self.add_error(name, f"{currency} has {places} decimals")
        if (
            data.get("price") is not None
            and data.get("mrp") is not None
            and data["price"] > data["mrp"]
        ):
            self.add_error("price", "the offer price is above MRP (above_mrp)")
        return data

    def style_object(self) -> Style | None:
        code = self.cleaned_data.get("style", "").strip()
        return Style.objects.get_or_create(code=code)[0] if code else None


class ProductEditForm(ProductForm):
    """Master data only: MRP and the offer price are Pricing's (HQ)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("sku", "mrp", "price", "currency"):
            del self.fields[name]
