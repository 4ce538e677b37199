"""POS sales (with the override approval): a store sale takes available units at once; one that
needs units reserved for online orders is held until an admin lets it divert them from the
newest orders."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from catalog.models import Product
from channels.models import Channel
from exceptions.models import Discrepancy, ExceptionSource
from exceptions.services import Finding, ops_exceptions_record
from ims.audit import audit_record
from ims.errors import ApplicationError
from ims.models import OpsTask, TaskStatus
from ims.notify import notify_roles
from ims.permissions import person, require
from ims.roles import Role
from ims.services import ops_task_close, ops_task_open
from inventory.models import Location, MovementReason, StockState
from inventory.services.lines import lines_summed as _quantities
from inventory.services.stock import StockMove, stock_levels_lock, stock_moves_apply
from orders.errors import InvalidLines, OrderError
from orders.models import ChannelOrder, OrderLine, PosSale, PosSaleLine, PosSaleStatus
from orders.providers.base import PosSaleIn
from orders.services.state import (
    channel_location_ids,
    customer_notify,
    order_lock,
    order_refresh,
    products_for_lines,
)

AVAILABLE, RESERVED = StockState.AVAILABLE, StockState.RESERVED


def pos_sale_record(
    *,
    channel: Channel | None,
    incoming: PosSaleIn,
    location: Location | None = None,
    actor=None,
    now: dt.datetime | None = None,
) -> tuple[PosSale, bool]:
    """A store sale takes available units at once. If it needs units that are reserved for
    online orders, it is held (nothing moves) until an admin approves it: a task is opened
    for the admins and the attempt is flagged as possible leakage."""
    require(actor, "orders.add_possale", "record POS sales")
    now = now or timezone.now()
    location = location or _sale_location(channel, incoming)
    product_ids = (
        products_for_lines(channel, incoming.lines)
        if channel
        else [
            Product.objects.filter(sku=line.sku).values_list("pk", flat=True).first()
            for line in incoming.lines
        ]
    )
    unknown = {
        f"lines[{i}].sku": f"unknown SKU '{line.sku}'"
        if line.sku
        else f"no product for the channel's item '{line.item_id}' (no SKU)"
        for i, (pid, line) in enumerate(zip(product_ids, incoming.lines, strict=True))
        if pid is None
    }
    if unknown:
        raise InvalidLines(unknown)
    quantities = _quantities(
        [(pid, line.quantity) for pid, line in zip(product_ids, incoming.lines, strict=True)]
    )
    with transaction.atomic():
        existing = PosSale.objects.filter(
            location=location, external_id=incoming.external_id
        ).first()
        if existing:
            return existing, False
        levels = stock_levels_lock(pairs=[(p, location.pk) for p in quantities])
        short = {p: q for p, q in quantities.items() if levels[(p, location.pk)].available < q}
        sale = PosSale.objects.create(
            channel=channel,
            location=location,
            external_id=incoming.external_id[:128],
            status=PosSaleStatus.HELD if short else PosSaleStatus.COMPLETED,
            created_at=now,
            created_by=person(actor),
        )
        PosSaleLine.objects.bulk_create(
            PosSaleLine(sale=sale, product_id=p, quantity=q) for p, q in quantities.items()
        )
        if not short:
            stock_moves_apply(
                moves=[StockMove(p, location.pk, AVAILABLE, "", q) for p, q in quantities.items()],
                levels=levels,
                reason=MovementReason.POS_SALE,
                ref=f"pos:{sale.pk}",
                actor=actor,
                now=now,
            )
        else:
            _hold(sale=sale, short=short, levels=levels, now=now)
        audit_record(
            actor=actor,
            action="pos_sale",
            obj=sale,
            after={"status": sale.status, "lines": quantities, "location": location.code},
            at=now,
        )
    return sale, True


def _sale_location(channel: Channel | None, incoming: PosSaleIn) -> Location:
    """The store a sale is at: the location it names, else its channel's first location."""
    if incoming.location:
        location = Location.objects.filter(code=incoming.location).first()
        if location is None:
            raise InvalidLines({"location": f"unknown location '{incoming.location}'"})
        return location
    if channel is not None and (ids := channel_location_ids(channel)):
        return Location.objects.get(pk=ids[0])
    raise InvalidLines({"location": "is required"})


def pos_sale_void(
    *,
    channel: Channel | None,
    incoming: PosSaleIn,
    location: Location | None = None,
    actor=None,
    now: dt.datetime | None = None,
) -> tuple[PosSale, str]:
    """A store sale voided on the POS; returns (the sale, what voiding it did).

    A completed sale gives back what it took: its units return to available at its store
    (movements `pos_sale`, "voided on the POS"; units an approved override took from online
    orders come back as available, those orders' lines stay backordered for ops). A held sale
    took nothing: it is voided and its override task closed. A sale IMS has not seen is
    recorded as voided with no lines, so its completed state arriving late (a retried older
    delivery) takes nothing (pos_sale_record finds it known). A concurrent twin fails on the
    sale's unique key (IntegrityError): the caller's transaction rolls back and finds it."""
    require(actor, "orders.add_possale", "record POS sales")
    now = now or timezone.now()
    location = location or _sale_location(channel, incoming)
    with transaction.atomic():
        sale = (
            PosSale.objects.select_for_update()
            .filter(location=location, external_id=incoming.external_id[:128])
            .first()
        )
        if sale is None:
            sale = PosSale.objects.create(
                channel=channel,
                location=location,
                external_id=incoming.external_id[:128],
                status=PosSaleStatus.VOIDED,
                created_at=now,
                created_by=person(actor),
            )
            audit_record(
                actor=actor,
                action="pos_sale_void",
                obj=sale,
                after={"status": sale.status, "location": location.code},
                reason="voided before IMS saw the sale: nothing moved",
                at=now,
            )
            return sale, "voided before IMS saw it: nothing moved"
        before = sale.status
        if before == PosSaleStatus.VOIDED:
            return sale, "voided already"
        given_back = {}
        if before == PosSaleStatus.COMPLETED:
            given_back = {line.product_id: line.quantity for line in sale.lines.all()}
            levels = stock_levels_lock(pairs=[(p, location.pk) for p in given_back])
            stock_moves_apply(
                moves=[StockMove(p, location.pk, "", AVAILABLE, q) for p, q in given_back.items()],
                levels=levels,
                reason=MovementReason.POS_SALE,
                ref=f"pos:{sale.pk}",
                actor=actor,
                now=now,
                note="voided on the POS",
            )
        elif before == PosSaleStatus.HELD:
            task = OpsTask.objects.filter(
                kind="pos_override", ref=f"pos:{sale.pk}", status=TaskStatus.OPEN
            ).first()
            if task:
                ops_task_close(
                    task=task, actor=person(actor), resolution="voided on the POS", now=now
                )
        sale.status = PosSaleStatus.VOIDED
        sale.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="pos_sale_void",
            obj=sale,
            before={"status": before},
            after={"status": sale.status, "given_back": given_back},
            reason="voided on the POS",
            at=now,
        )
    done = (
        f"{sum(given_back.values())} unit(s) back to available"
        if given_back
        else "nothing had moved"
    )
    return sale, f"voided: {done}"


def _hold(*, sale: PosSale, short: dict[int, int], levels, now) -> None:
    skus = dict(Product.objects.filter(pk__in=short).values_list("pk", "sku"))
    described = ", ".join(
        f"{skus[p]} × {q} ({levels[(p, sale.location_id)].available} available, "
        f"{levels[(p, sale.location_id)].reserved} reserved for online orders)"
        for p, q in short.items()
    )
    ops_task_open(
        kind="pos_override",
        title=f"POS sale {sale.external_id} at {sale.location.code} needs stock reserved for online orders",
        detail=described,
        ref=f"pos:{sale.pk}",
        role=Role.ADMIN.value,
        location=sale.location,
        now=now,
    )
    ops_exceptions_record(
        findings=[
            Finding(
                skus[p],
                Discrepancy.LEAKAGE,
                str(levels[(p, sale.location_id)].available),
                str(q),
                channel_id=sale.channel_id,
                product_id=p,
                location_id=sale.location_id,
            )
            for p, q in short.items()
        ],
        source=ExceptionSource.ORDER,
        now=now,
    )
    notify_roles(
        Role.ADMIN,
        kind="pos_override",
        subject=f"POS sale {sale.external_id} held: it needs reserved stock",
        body=described,
        link=f"/stock/pos-overrides/?status=held#pos-{sale.pk}",
    )


def pos_sale_approve(
    *, sale: PosSale, actor, reason: str, now: dt.datetime | None = None
) -> PosSale:
    """An admin lets a held sale take reserved units: the newest online orders holding them
    give them up (their lines wait as backorders for a decision)."""
    require(actor, "orders.approve_pos_override", "approve POS overrides")
    if actor is None:
        raise ApplicationError("an approval needs the approving admin", code="approval_needs_actor")
    now = now or timezone.now()
    with transaction.atomic():
        locked = PosSale.objects.select_for_update().get(pk=sale.pk)
        if locked.status != PosSaleStatus.HELD:
            raise OrderError(_decided_already(locked), code="not_held")
        lines = list(locked.lines.all())
        quantities = {line.product_id: line.quantity for line in lines}
        location_id = locked.location_id
        # Orders before stock (the lock order): every order holding these units, newest first.
        holders = list(
            OrderLine.objects.filter(
                product_id__in=quantities, location_id=location_id, reserved__gt=0
            )
            .values_list("order_id", flat=True)
            .distinct()
        )
        orders = list(
            ChannelOrder.objects.select_for_update().filter(pk__in=holders).order_by("pk")
        )
        levels = stock_levels_lock(pairs=[(p, location_id) for p in quantities])
        moves, taken = [], {}
        for product_id, quantity in quantities.items():
            level = levels[(product_id, location_id)]
            from_available = min(quantity, level.available)
            from_reserved = quantity - from_available
            moves.append(StockMove(product_id, location_id, AVAILABLE, "", from_available))
            moves.append(StockMove(product_id, location_id, RESERVED, "", from_reserved))
            taken[product_id] = from_reserved
        diverted = _divert(orders=orders, taken=taken, location_id=location_id, now=now)
        stock_moves_apply(
            moves=moves,
            levels=levels,
            reason=MovementReason.POS_SALE,
            ref=f"pos:{locked.pk}",
            actor=actor,
            now=now,
            note=f"approved override: {reason}",
        )
        for line in lines:
            line.from_reserved = taken[line.product_id]
        PosSaleLine.objects.bulk_update(lines, ["from_reserved"])
        _decided(
            locked,
            PosSaleStatus.COMPLETED,
            "pos_override_approve",
            actor,
            reason,
            now,
            from_reserved=taken,
            orders=diverted,
        )
    sale.refresh_from_db()
    return sale


def pos_divert_order(orders: list[ChannelOrder]) -> list[ChannelOrder]:
    """The online orders an approved override takes reserved units from, in the order it takes
    them: the newest received first (the page shows who would wait in this order too)."""
    return sorted(orders, key=lambda o: (o.received_at, o.pk), reverse=True)


def _decided_already(sale: PosSale) -> str:
    """Why a sale that is not held cannot be decided on (again)."""
    if sale.decided_at:
        verb = "approved" if sale.status == PosSaleStatus.COMPLETED else "rejected"
        return f"POS sale {sale.external_id} was {verb} already; it is no longer held."
    return f"POS sale {sale.external_id} is {sale.status}, not held: there is nothing to decide."


def _divert(
    *, orders: list[ChannelOrder], taken: dict[int, int], location_id: int, now
) -> list[str]:
    """Take reserved units back from the newest orders holding them; their lines wait."""
    need = dict(taken)
    touched = []
    for order in pos_divert_order(orders):
        if not any(need.values()):
            break
        locked, lines = order_lock(order)
        changed = []
        for line in lines:
            want = need.get(line.product_id, 0)
            if want and line.location_id == location_id and line.reserved:
                give = min(want, line.reserved)
                line.reserved -= give
                line.backordered += give
                need[line.product_id] = want - give
                changed.append(line)
        if changed:
            OrderLine.objects.bulk_update(changed, ["reserved", "backordered"])
            order_refresh(locked, lines, now)
            ops_task_open(
                kind="backorder",
                title=f"{locked.channel.code} order {locked.external_id}: units went to a POS sale — fill or cancel",
                ref=f"order:{locked.pk}",
                role=Role.ADMIN.value,
                location=locked.location,
                now=now,
            )
            customer_notify(
                order=locked, kind="order_delayed", ref=f"{now.timestamp():.6f}", now=now
            )
            touched.append(f"{locked.channel.code}:{locked.external_id}")
    if any(need.values()):
        raise OrderError(
            "the orders holding these units no longer hold enough", code="reservations_changed"
        )
    return touched


def pos_sale_reject(
    *, sale: PosSale, actor, reason: str, now: dt.datetime | None = None
) -> PosSale:
    require(actor, "orders.approve_pos_override", "decide on POS overrides")
    now = now or timezone.now()
    with transaction.atomic():
        locked = PosSale.objects.select_for_update().get(pk=sale.pk)
        if locked.status != PosSaleStatus.HELD:
            raise OrderError(_decided_already(locked), code="not_held")
        _decided(locked, PosSaleStatus.REJECTED, "pos_override_reject", actor, reason, now)
    sale.refresh_from_db()
    return sale


def _decided(sale: PosSale, status: str, action: str, actor, reason: str, now, **after) -> None:
    """Record an admin's decision on a held sale (completed: approved; rejected), close the
    override task and audit it as `action`."""
    sale.status, sale.decided_at, sale.decided_by, sale.decision_reason = (
        status,
        now,
        person(actor),
        reason[:255],
    )
    sale.save(update_fields=["status", "decided_at", "decided_by", "decision_reason"])
    verb = "approved" if status == PosSaleStatus.COMPLETED else "rejected"
    task = OpsTask.objects.filter(
        kind="pos_override", ref=f"pos:{sale.pk}", status=TaskStatus.OPEN
    ).first()
    if task:
        ops_task_close(task=task, actor=person(actor), resolution=f"{verb}: {reason}", now=now)
    audit_record(
        actor=actor,
        action=action,
        obj=sale,
        before={"status": PosSaleStatus.HELD},
        after={"status": status, **after},
        reason=reason,
        at=now,
    )
