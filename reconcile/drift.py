"""Channel price drift: a channel showing another price than HQ's (a price edited on the channel).

Reconcile raises the Price_Mismatch (HQ's price wins on push); for each NEW one this records an
audit alert naming the channel and tells Pricing and the Superadmins. A channel that keeps
drifting — IMS_DRIFT_FLAG_COUNT new price mismatches within IMS_DRIFT_WINDOW_HOURS — is flagged
to the admins as a read-only insight (a task and a notification; it changes nothing else).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.conf import settings

from channels.models import Channel
from exceptions.models import Discrepancy
from ims.audit import Change, audit_record, audit_record_many
from ims.models import AuditEvent
from ims.notify import notify_roles
from ims.roles import Role
from ims.services import ops_task_open

ALERT = "price_drift"
FLAG_TASK = "channel_drift"


def price_drift_record(*, findings: Iterable, existing: Mapping, now: dt.datetime) -> None:
    """Alert on the price mismatches found now that were not open before; flag drifting channels.

    `findings` are reconcile's exceptions.services.Finding; `existing` the open exceptions it
    started from, by key.
    """
    new = [
        f for f in findings if f.discrepancy == Discrepancy.PRICE_MISMATCH and f.key not in existing
    ]
    if not new:
        return
    per_channel = defaultdict(list)
    for finding in new:
        per_channel[finding.channel_id].append(finding)
    codes = dict(Channel.objects.filter(pk__in=per_channel).values_list("pk", "code"))
    audit_record_many(
        actor=None,
        at=now,
        changes=[
            Change(
                ALERT,
                object_type="channels.channel",
                object_id=str(f.channel_id),
                object_repr=codes[f.channel_id],
                before={"sku_id": f.sku_id, "price": f.expected},
                after={"sku_id": f.sku_id, "price": f.actual},
                reason=(
                    f"{codes[f.channel_id]} shows {f.actual} for {f.sku_id}; HQ's price is "
                    f"{f.expected} and wins on push"
                ),
            )
            for f in new
        ],
    )
    count = settings.IMS_DRIFT_FLAG_COUNT
    window = dt.timedelta(hours=settings.IMS_DRIFT_WINDOW_HOURS)
    for channel_id, items in sorted(per_channel.items()):
        code = codes[channel_id]
        link = f"/audit/object/channels.channel/{channel_id}/"
        listed = "\n".join(f"{f.sku_id}: shows {f.actual}, HQ {f.expected}" for f in items[:20])
        notify_roles(
            Role.PRICING,
            Role.SUPERADMIN,
            kind=ALERT,
            subject=f"Price drift on {code}: {len(items)} SKU(s) show another price than HQ's",
            body=listed + ("\n…" if len(items) > 20 else ""),
            link=link,
            email=False,
        )
        recent = AuditEvent.objects.filter(
            action=ALERT,
            object_type="channels.channel",
            object_id=str(channel_id),
            at__gt=now - window,
        ).count()
        if recent < count:
            continue
        hours = f"{window.total_seconds() / 3600:g}"
        title = f"Channel {code} keeps drifting: {recent} new price mismatches in {hours} h"
        task, opened = ops_task_open(
            kind=FLAG_TASK,
            title=title,
            ref=f"channel:{channel_id}",
            detail="Prices keep being edited on the channel. Look into who edits them; "
            "consider pausing the channel.",
            role=Role.ADMIN.value,
            now=now,
        )
        if opened:
            audit_record(
                actor=None,
                action="channel_drift_flag",
                object_type="channels.channel",
                object_id=str(channel_id),
                object_repr=code,
                after={"new_price_mismatches": recent, "window_hours": hours, "task": task.pk},
                reason=title,
                at=now,
            )
            notify_roles(Role.ADMIN, kind=FLAG_TASK, subject=title, body=task.detail, link=link)
