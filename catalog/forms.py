"""Forms of the pricing pages and the admin: a price change, a category's price rules."""

from __future__ import annotations

from django import forms

from catalog.models import Category
from ims.csvio import split_list


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
        from django.apps import apps

        text = self.cleaned_data["excluded_channels"].strip()
        if not text:
            return None
        codes = split_list(text)
        known = set(apps.get_model("channels", "Channel").objects.values_list("code", flat=True))
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
