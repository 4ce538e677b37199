"""Forms for catalog pages (products) and pricing pages (a price change, a category's rules): they parse
and validate input, services decide."""

from __future__ import annotations

from django import forms

from catalog.gtin import gtin14
from catalog.models import Category, ProductStatus, Style
from catalog.selectors import known_channel_codes
from catalog.services.ingest import parse_attributes
from ims.csvio import split_list
from ims.identifiers import validate_identifier
from ims.money import known_currencies, minor_units


class PriceChangeForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=64)
    offer = forms.DecimalField(label="Offer price", min_value=0, max_digits=14, decimal_places=4)
    mrp = forms.DecimalField(
        label="MRP (blank keeps it)", required=False, min_value=0, max_digits=14, decimal_places=4
    )
    effective_date = forms.DateField(
        label="Effective date (blank: now)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = forms.CharField(max_length=255, widget=forms.TextInput())


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)


class PriceRuleForm(forms.ModelForm):
    """A category's rules; blank inherits the default `*` row. Channels `;`-separated."""

    luxury = forms.NullBooleanField(
        required=False,
        widget=forms.Select(choices=[("unknown", "inherit"), ("true", "yes"), ("false", "no")]),
    )
    excluded_channels = forms.CharField(
        required=False, help_text="channel codes separated by ';' (blank inherits)"
    )
    reason = forms.CharField(max_length=255, required=False)

    class Meta:
        model = Category
        fields = ["name", "max_discount_pct", "min_margin_pct", "luxury", "excluded_channels"]

    def __init__(self, *args, form_id: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if form_id:  # one form per table row: the inputs name their <form> (HTML `form` attribute)
            for field in self.fields.values():
                field.widget.attrs["form"] = form_id
        if self.instance.pk:
            codes = self.instance.excluded_channels
            self.initial["excluded_channels"] = ";".join(codes) if codes is not None else ""

    def clean_excluded_channels(self):
        text = self.cleaned_data["excluded_channels"].strip()
        if not text:
            return None
        codes = split_list(text)
        known = known_channel_codes()
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise forms.ValidationError(f"unknown channel(s): {', '.join(unknown)}")
        return codes

    def _percentage(self, name):
        value = self.cleaned_data.get(name)
        if value is not None and not 0 <= value <= 100:
            raise forms.ValidationError("a percentage from 0 to 100")
        return value

    def clean_max_discount_pct(self):
        return self._percentage("max_discount_pct")

    def clean_min_margin_pct(self):
        return self._percentage("min_margin_pct")


class ProductForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=64, validators=[validate_identifier])
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
        try:
            return parse_attributes(self.cleaned_data["attributes"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

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
