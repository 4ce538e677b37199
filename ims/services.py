"""Writes to IMS's own records: tasks for people."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from ims.audit import audit_record
from ims.models import OpsTask, TaskStatus


def ops_task_open(
    *,
    kind: str,
    title: str,
    ref: str = "",
    detail: str = "",
    role: str = "",
    assignee=None,
    location=None,
    now: dt.datetime | None = None,
) -> tuple[OpsTask, bool]:
    """Open a task (one open task per kind and ref: a second call returns the open one)."""
    if ref:
        existing = OpsTask.objects.filter(kind=kind, ref=ref, status=TaskStatus.OPEN).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            task = OpsTask.objects.create(
                kind=kind,
                title=title[:255],
                detail=detail,
                role=role,
                assignee=assignee,
                location=location,
                ref=ref,
                created_at=now or timezone.now(),
            )
    except IntegrityError:  # opened by someone else meanwhile
        return OpsTask.objects.get(kind=kind, ref=ref, status=TaskStatus.OPEN), False
    audit_record(
        actor=None, action="task_open", obj=task, after={"kind": kind, "title": title, "role": role}
    )
    return task, True


def ops_task_close(
    *, task: OpsTask, actor=None, resolution: str = "", now: dt.datetime | None = None
) -> None:
    if task.status == TaskStatus.DONE:
        return
    task.status, task.closed_at, task.closed_by, task.resolution = (
        TaskStatus.DONE,
        now or timezone.now(),
        actor,
        resolution,
    )
    task.save(update_fields=["status", "closed_at", "closed_by", "resolution"])
    audit_record(
        actor=actor,
        action="task_close",
        obj=task,
        before={"status": "open"},
        after={"status": "done"},
        reason=resolution,
    )
