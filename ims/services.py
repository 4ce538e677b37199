"""Writes to IMS's own records: tasks for people, a person's notifications read."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from ims.audit import audit_record
from ims.errors import ApplicationError
from ims.models import Notification, OpsTask, TaskStatus


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


# ---------------------------------------------------------------------------
# A person's notifications: only ever their own


class NotificationNotFound(ApplicationError):
    """No notification of that id for this person (another's is not theirs to see: 404)."""

    code = "notification_not_found"
    http_status = status.HTTP_404_NOT_FOUND


def notification_mark_read(
    *, user, notification_id: int, now: dt.datetime | None = None
) -> Notification:
    """Mark one of `user`'s notifications read (a read one keeps when it was first read).
    Another person's, or none of that id, raises NotificationNotFound."""
    Notification.objects.filter(pk=notification_id, recipient=user, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )
    notification = Notification.objects.filter(pk=notification_id, recipient=user).first()
    if notification is None:
        raise NotificationNotFound(
            f"no notification {notification_id} of yours", extra={"id": notification_id}
        )
    return notification


def notifications_mark_all_read(
    *, user, up_to_id: int | None = None, now: dt.datetime | None = None
) -> int:
    """Mark every unread notification of `user` read, in one UPDATE; with `up_to_id`, only those
    up to that id (what the page showed: one that arrived since stays unread). Returns how many."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if up_to_id is not None:
        unread = unread.filter(pk__lte=up_to_id)
    return unread.update(read_at=now or timezone.now())
