"""Telling people: an in-app notification per user, and the same by email."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mass_mail
from django.utils import timezone

from ims.models import Notification
from ims.roles import Role, users_with_role

log = logging.getLogger("ims.notify")


def notify_users(
    *, users, kind: str, subject: str, body: str = "", link: str = "", email: bool = True
) -> int:
    """Create a notification for each user; email those with an address. Returns how many were told."""
    users = list(users)
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(
            recipient=u,
            kind=kind,
            subject=subject,
            body=body,
            link=link,
            created_at=now,
            emailed=email and bool(u.email),
        )
        for u in users
    )
    if email:
        messages = [
            (
                f"[IMS] {subject}",
                f"{body}\n\n{link}".strip(),
                settings.DEFAULT_FROM_EMAIL,
                [u.email],
            )
            for u in users
            if u.email
        ]
        try:
            send_mass_mail(messages, fail_silently=False)
        except OSError:
            log.exception("could not email %s notification(s) '%s'", len(messages), subject)
    return len(users)


def notify_roles(
    *roles: Role, kind: str, subject: str, body: str = "", link: str = "", email: bool = True
) -> int:
    """Tell everyone holding one of `roles` (superadmins always hear what admins hear)."""
    if Role.ADMIN in roles and Role.SUPERADMIN not in roles:
        roles = (*roles, Role.SUPERADMIN)
    return notify_users(
        users=users_with_role(*roles), kind=kind, subject=subject, body=body, link=link, email=email
    )
