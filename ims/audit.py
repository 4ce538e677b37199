"""Recording the audit trail: actor, time, action, object, before/after, reason, origin.

The origin of a change (which page, API call, command or task) is carried in a
context variable set by AuditOriginMiddleware for requests and by
`audit_origin(...)` for commands and tasks, so services need only the actor.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import json
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from ims.models import AuditEvent
from ims.permissions import person

_origin: contextvars.ContextVar[str] = contextvars.ContextVar("audit_origin", default="")


@contextmanager
def audit_origin(origin: str):
    """Mark every audit event recorded inside as coming from `origin` (e.g. `command ingest`)."""
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)


def current_origin() -> str:
    return _origin.get()


def _plain(value):
    """JSON-safe before/after values (Decimals and times as text, exactly)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict:
    """The named fields of a model instance, for before/after."""
    data = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, models.Model | decimal.Decimal | dt.datetime | dt.date):
            value = str(value)
        data[name] = value
    return _plain(data)


@dataclass
class Change:
    """One event to record; `obj` or (object_type, object_id) names what changed."""

    action: str
    obj: models.Model | None = None
    object_type: str = ""
    object_id: str = ""
    object_repr: str = ""
    before: dict | None = None
    after: dict | None = None
    reason: str = ""

    def event(self, *, actor, at: dt.datetime, origin: str) -> AuditEvent:
        object_type, object_id, object_repr = self.object_type, self.object_id, self.object_repr
        if self.obj is not None:
            object_type = object_type or self.obj._meta.label_lower
            object_id = object_id or str(self.obj.pk)
            object_repr = object_repr or str(self.obj)[:255]
        return AuditEvent(
            at=at,
            actor=person(actor),
            actor_name=actor.get_username()
            if actor is not None and actor.is_authenticated
            else "system",
            action=self.action,
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr,
            before=_plain(self.before),
            after=_plain(self.after),
            reason=self.reason,
            origin=origin[:255],
        )


def audit_record(
    *, actor, action: str, obj=None, before=None, after=None, reason: str = "", at=None, **names
) -> AuditEvent:
    """Record one change (in the caller's transaction)."""
    event = Change(action, obj, before=before, after=after, reason=reason, **names).event(
        actor=actor, at=at or timezone.now(), origin=current_origin()
    )
    event.save()
    return event


def audit_record_many(*, actor, changes: Iterable[Change], at=None) -> int:
    """Record many changes at once (an ingest of thousands of rows)."""
    at = at or timezone.now()
    origin = current_origin()
    events = [change.event(actor=actor, at=at, origin=origin) for change in changes]
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    return len(events)


class AuditOriginMiddleware:
    """Every audit event recorded while serving a request names the request it came from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        kind = "api" if request.path.startswith("/api/") else "web"
        address = request.META.get("REMOTE_ADDR", "")
        with audit_origin(f"{kind} {address} {request.method} {request.path}"[:255]):
            return self.get_response(request)
