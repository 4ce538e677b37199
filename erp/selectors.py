"""Reads for the ERP side: the variance (what the ERP has not been told), and what is due to
be handed over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat

from inventory.models import NOT_PHYSICAL, Movement, MovementReason
from orders.models import ChannelOrder


def variance_compute(
    *, as_of: dt.datetime, location_ids: Sequence[int]
) -> list[tuple[int, int, int]]:
    """(product_id, location_id, variance) at these locations: the net of the movements that
    changed the physical count at a location (one side of the movement is outside IMS:
    shipped, received, returned, transferred out or in) and that the ERP had not been handed
    by `as_of`. Moves between states within a location are not variance."""
    table = Movement._meta.db_table
    marks = ", ".join(["%s"] * len(location_ids)) or "NULL"
    reasons = ", ".join(["%s"] * len(NOT_PHYSICAL))
    sql = f"""
        SELECT m.product_id, m.location_id,
               SUM(CASE WHEN m.from_state = '' THEN m.quantity ELSE -m.quantity END) AS variance
        FROM {table} m
        WHERE (m.from_state = '' OR m.to_state = '')
          AND m.reason NOT IN ({reasons})
          AND (m.handed_to_erp_at IS NULL OR m.handed_to_erp_at > %s)
          AND m.location_id IN ({marks})
        GROUP BY m.product_id, m.location_id
    """
    params = [*NOT_PHYSICAL, connection.ops.adapt_datetimefield_value(as_of), *location_ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def handover_due() -> QuerySet[Movement]:
    """Physical movements not handed to the ERP yet that may be handed over now: a shipment
    only once its order has completed (every line shipped or cancelled); returns received,
    transfers, receipts, POS sales, vendor returns and adjustments as soon as recorded."""
    open_orders = ChannelOrder.objects.filter(completed_at__isnull=True).annotate(
        as_ref=Concat(Value("order:"), Cast("pk", CharField()))
    )
    return (
        Movement.objects.filter(handed_to_erp_at__isnull=True)
        .filter(Q(from_state="") | Q(to_state=""))
        .exclude(reason__in=NOT_PHYSICAL)
        .exclude(reason=MovementReason.DISPATCH, ref__in=open_orders.values("as_ref"))
    )
