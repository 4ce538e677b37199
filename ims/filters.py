"""FilterSets shared by pages and the API: the audit trail; a time filter read in UTC, and
how a page tells a person which filter it could not read."""

from __future__ import annotations

import datetime as dt
import json

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django_filters.fields import IsoDateTimeField

from ims.audit_display import object_type_label, words
from ims.models import AuditEvent

SYSTEM_ACTOR = "system"


class UtcDateTimeField(IsoDateTimeField):
    """An ISO date or time, as the instant it names in UTC: PostgreSQL refuses offsets beyond
    ±15:59 that ISO 8601 and Python allow. One whose UTC falls before year 1 or after 9999 is
    a bound beyond every stored time, so it is taken as the first or last time there is."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            edge = dt.datetime.min if parsed.year == dt.MINYEAR else dt.datetime.max
            return edge.replace(tzinfo=dt.UTC)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class StrictBooleanField(forms.NullBooleanField):
    """true or false (1 or 0); anything else is an error, not silently "no filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in ("true", "True", "1", True):
            return True
        if value in ("false", "False", "0", False):
            return False
        raise ValidationError("Enter true or false.", code="invalid")

    def validate(self, value):
        pass


class OptionalMultipleChoiceField(forms.MultipleChoiceField):
    """Empty values (`?status=`) are no choice, as an empty single filter is no filter."""

    def to_python(self, value):
        return [v for v in super().to_python(value) if v != ""]


class MultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = OptionalMultipleChoiceField


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)  # the select widget turns junk into None
        super().__init__(*args, **kwargs)


def filter_problems(form: forms.Form) -> list[str]:
    """Each filter a page could not read, as "field: reason", to show above its results."""
    return [f"{name}: {message}" for name, messages in form.errors.items() for message in messages]


def _actors_present() -> list[tuple[str, str]]:
    """The people who appear in the trail (by username), and `system` for IMS itself."""
    users = (
        get_user_model()
        .objects.filter(Exists(AuditEvent.objects.filter(actor=OuterRef("pk"))))
        .order_by("username")
        .values_list("username", flat=True)
    )
    choices = [(name, name) for name in users]
    if AuditEvent.objects.filter(actor__isnull=True).exists():
        choices.insert(0, (SYSTEM_ACTOR, "system (IMS itself)"))
    return choices


def _object_types_present() -> list[tuple[str, str]]:
    """The object types in the trail, in words ("Price", "Ops exception")."""
    types = AuditEvent.objects.order_by().values_list("object_type", flat=True).distinct()
    return sorted(((t, object_type_label(t)) for t in types), key=lambda c: c[1])


def _actions_present() -> list[tuple[str, str]]:
    actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    return sorted(((a, words(a)) for a in actions), key=lambda c: c[1])


def sku_events(sku: str) -> Q:
    """The events about a SKU: its product's own events (by the `audit_object` index, the
    product found by its unique SKU), and any other event whose object_repr names the SKU as
    a word (`shop A-1`, `A-1@WH-EAST`) or whose before/after holds it as a whole JSON string
    (a `sku`/`sku_id` value, a key of `lines`). The last two read the rows the other filters
    leave (a time range narrows them by the `at` index)."""
    from django.apps import apps  # the catalog is above ims: looked up by name, not imported

    query = Q(object_repr__regex=_word_pattern(sku))
    product_ids = (
        apps.get_model("catalog", "Product").objects.filter(sku=sku).values_list("pk", flat=True)
    )
    for pk in product_ids:
        query |= Q(object_type="catalog.product", object_id=str(pk))
    for quoted in {json.dumps(sku), json.dumps(sku, ensure_ascii=False)}:
        query |= Q(before_text__contains=quoted) | Q(after_text__contains=quoted)
    return query


_SKU_CHARS = "A-Za-z0-9_.-"  # "-" last: a literal in either dialect


def _word_pattern(sku: str) -> str:
    """A regular expression (Python's and PostgreSQL's alike) for the SKU as a whole word."""
    escaped = "".join(c if c.isalnum() else "\\" + c for c in sku)
    return f"(^|[^{_SKU_CHARS}]){escaped}($|[^{_SKU_CHARS}])"


class AuditFilterForm(forms.Form):
    """The page's: a time range that ends before it starts is a problem to name (the API
    answers it with nothing found)."""

    def clean(self):
        data = super().clean()
        since, before = data.get("since"), data.get("before")
        if since and before and since >= before:
            self.add_error("before", "Must be later than From.")
        return data


class AuditEventFilter(django_filters.FilterSet):
    """Filter the audit trail by SKU, actor (a username, or `system`), object type and id,
    action and time range (`since` ≤ at < `before`). The API takes any text (a value the trail
    does not hold finds nothing); the page offers selects (AuditTrailFilter)."""

    sku = django_filters.CharFilter(
        method="filter_sku", label="SKU", help_text="the product's SKU, exactly"
    )
    actor = django_filters.CharFilter(
        field_name="actor_name",
        method="filter_actor",
        label="User",
        help_text="a username, or system for IMS itself",
    )
    object_type = django_filters.CharFilter(label="Object type", help_text="e.g. catalog.product")
    object_id = django_filters.CharFilter(label="Object id")
    action = django_filters.CharFilter(label="Action", help_text="e.g. price_change")
    since = UtcDateTimeFilter(
        field_name="at",
        lookup_expr="gte",
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="ISO date or time, UTC",
    )
    before = UtcDateTimeFilter(
        field_name="at",
        lookup_expr="lt",
        label="Before (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="ISO date or time, UTC",
    )

    class Meta:
        model = AuditEvent
        fields = ["sku", "actor", "object_type", "object_id", "action", "since", "before"]

    def filter_sku(self, queryset, name, value):
        sku = value.strip()
        if not sku:
            return queryset
        return queryset.annotate(
            before_text=Cast("before", TextField()), after_text=Cast("after", TextField())
        ).filter(sku_events(sku))

    def filter_actor(self, queryset, name, value):
        if value == SYSTEM_ACTOR:
            return queryset.filter(actor__isnull=True)
        return queryset.filter(actor__username=value)


class AuditTrailFilter(AuditEventFilter):
    """The audit page's and its CSV's filter: user, object type and action are selects of
    those the trail holds (in words), and a value not among them is named as a problem."""

    actor = django_filters.ChoiceFilter(
        field_name="actor_name",
        method="filter_actor",
        choices=_actors_present,
        label="User",
        empty_label="anyone",
    )
    object_type = django_filters.ChoiceFilter(
        choices=_object_types_present, label="Object type", empty_label="any"
    )
    action = django_filters.ChoiceFilter(
        choices=_actions_present, label="Action", empty_label="any"
    )

    class Meta(AuditEventFilter.Meta):
        form = AuditFilterForm
