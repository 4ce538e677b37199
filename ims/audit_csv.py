"""The audit trail as CSV rows: `manage.py export audit` and the audit pages' download."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ims.models import AuditEvent

AUDIT_COLUMNS = (
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
    "reason",
    "origin",
)


def json_cell(value) -> str:
    """before/after of an audit event as JSON text (`null` shown as nothing)."""
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def audit_rows(queryset=None) -> Iterator[list]:
    """The audit trail oldest first (or the events of `queryset`); before/after as JSON text."""
    events = (AuditEvent.objects.all() if queryset is None else queryset).order_by("at", "id")
    for event in events.iterator(chunk_size=5000):
        yield [
            event.at.isoformat(),
            event.actor_name,
            event.action,
            event.object_type,
            event.object_id,
            event.object_repr,
            json_cell(event.before),
            json_cell(event.after),
            event.reason,
            event.origin,
        ]
