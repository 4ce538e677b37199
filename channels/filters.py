"""The sync runs page's filters: a channel and a state that exist, or the page says which not."""

from __future__ import annotations

import django_filters

from channels.models import Channel, LineState, SyncRun, SyncStatus


class SyncRunFilter(django_filters.FilterSet):
    channel = django_filters.ModelChoiceFilter(
        queryset=Channel.objects.all(), to_field_name="code", label="Channel"
    )
    status = django_filters.ChoiceFilter(choices=SyncStatus.choices, label="Status")

    class Meta:
        model = SyncRun
        fields = []


class SyncLineFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=LineState.choices, label="State")

    class Meta:
        model = SyncRun
        fields = []
