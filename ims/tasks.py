"""Enqueueing background work (django-q2): after the transaction commits, by dotted path."""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task


def enqueue(func: str, *args, **kwargs) -> None:
    """Run `func(*args)` on a worker once the current transaction commits (at once when in-process)."""
    transaction.on_commit(lambda: async_task(func, *args, **kwargs))
