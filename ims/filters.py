"""FilterSets shared by pages and the API: the audit trail; a time filter read in UTC, and
how a page tells a person which filter it could not read."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from ims.models import AuditEvent


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


class AuditEventFilter(django_filters.FilterSet):
    """Filter the audit trail by actor, object, action and time range (`since` ≤ at < `before`)."""

    actor = django_filters.CharFilter(
        field_name="actor_name", lookup_expr="iexact", label="Actor (username or system)"
    )
    object_type = django_filters.CharFilter(
        lookup_expr="iexact", label="Object type", help_text="e.g. catalog.product"
    )
    object_id = django_filters.CharFilter(label="Object id")
    action = django_filters.CharFilter(lookup_expr="iexact", label="Action")
    since = UtcDateTimeFilter(
        field_name="at",
        lookup_expr="gte",
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="ISO date or time, UTC",
    )
    before = UtcDateTimeFilter(
        field_name="at",
        lookup_expr="lt",
        label="Before",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="ISO date or time, UTC",
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "object_type", "object_id", "action", "since", "before"]
