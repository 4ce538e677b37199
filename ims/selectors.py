"""Reads of IMS's own records: a person's notifications (the bell's count, the inbox page)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max

from ims.models import Notification

NOTIFICATION_PAGE_SIZE = 50


def notifications_unread_count(*, user) -> int:
    """How many of `user`'s notifications are unread: one COUNT, answered from the
    (recipient, read_at) index `notification_unread`. Nobody logged in has none."""
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


@dataclass(frozen=True)
class NotificationPage:
    """One page of a person's notifications, newest first, and where it is: `first`–`last`
    of `total` (the notices the filter shows), page `number` of `pages`."""

    rows: list[Notification]
    number: int
    pages: int
    first: int
    last: int
    total: int
    unread: int  # the person's unread notifications, whatever the filter
    newest_unread_id: int | None  # "Mark all read" marks up to here: what the page knew of

    @property
    def previous_number(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next_number(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def notification_page(
    *, user, unread_only: bool = False, number=1, size: int = NOTIFICATION_PAGE_SIZE
) -> NotificationPage:
    """Page `number` (a page past the end is the last; anything unreadable the first) of `user`'s
    notifications, newest first; `unread_only` keeps the unread ones. Three queries at most:
    the unread count with the newest unread id, the count of all (not when only unread are shown,
    as that is the unread count) and the page's rows."""
    mine = Notification.objects.filter(recipient=user)
    unread = mine.filter(read_at__isnull=True).aggregate(count=Count("id"), newest=Max("id"))
    total = unread["count"] if unread_only else mine.count()
    pages = max(1, -(-total // size))
    try:
        number = min(max(int(number), 1), pages)
    except (TypeError, ValueError):
        number = 1
    shown = mine.filter(read_at__isnull=True) if unread_only else mine
    offset = (number - 1) * size
    rows = list(shown.order_by("-created_at", "-id")[offset : offset + size]) if total else []
    return NotificationPage(
        rows=rows,
        number=number,
        pages=pages,
        first=offset + 1 if rows else 0,
        last=offset + len(rows),
        total=total,
        unread=unread["count"],
        newest_unread_id=unread["newest"],
    )
