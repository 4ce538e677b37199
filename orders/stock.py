"""Writes for the stock flows beside orders: transfers, POS sales (with the override
approval), vendor returns and their credit notes. Each takes an actor and a reason and
changes stock only through movements."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

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
from ims.permissions import require
from ims.roles import Role
from ims.services import ops_task_close, ops_task_open
from inventory.models import Location, MovementReason, StockState
from inventory.services.stock import StockMove, stock_levels_lock, stock_moves_apply
from orders.errors import InvalidLines, OrderError
from orders.models import (
    ChannelOrder,
    CreditNote,
    OrderLine,
    PosSale,
    PosSaleLine,
    PosSaleStatus,
    Transfer,
    TransferLine,
    TransferStatus,
    VendorReturn,
    VendorReturnLine,
    VendorReturnStatus,
)
from orders.providers.base import PosSaleIn
from orders.services.state import (
    channel_location_ids,
    customer_notify,
    order_lock,
    order_refresh,
    person,
    products_for_lines,
)

AVAILABLE, RESERVED, IN_TRANSIT, DAMAGED = (
    StockState.AVAILABLE,
    StockState.RESERVED,
    StockState.IN_TRANSIT,
    StockState.DAMAGED,
)


def _quantities(lines: Sequence[tuple[int, int]]) -> dict[int, int]:
    """(product_id, quantity) pairs summed per product; refuses a non-positive quantity."""
    total: dict[int, int] = defaultdict(int)
    problems = {}
    for index, (product_id, quantity) in enumerate(lines):
        if quantity <= 0:
            problems[f"lines[{index}].quantity"] = "must be a positive whole number"
        total[product_id] += quantity
    if problems:
        raise InvalidLines(problems)
    if not total:
        raise InvalidLines({"lines": "name at least one product"})
    return dict(total)


# ---------------------------------------------------------------------------
# Transfers: source available → out; destination in → in_transit → available on receipt


def transfer_send(
    *,
    source: Location,
    destination: Location,
    lines: Sequence[tuple[int, int]],
    actor,
    reason: str,
    now: dt.datetime | None = None,
) -> Transfer:
    require(actor, "orders.add_transfer", "send transfers")
    if source.pk == destination.pk:
        raise InvalidLines({"destination": "must differ from the source"})
    quantities = _quantities(lines)
    now = now or timezone.now()
    with transaction.atomic():
        transfer = Transfer.objects.create(
            source=source,
            destination=destination,
            status=TransferStatus.IN_TRANSIT,
            reason=reason[:255],
            created_at=now,
            created_by=person(actor),
        )
        moves = [StockMove(p, source.pk, AVAILABLE, "", q) for p, q in quantities.items()] + [
            StockMove(p, destination.pk, "", IN_TRANSIT, q) for p, q in quantities.items()
        ]
        levels = stock_levels_lock(pairs=[m.pair for m in moves])
        stock_moves_apply(
            moves=moves,
            levels=levels,
            reason=MovementReason.TRANSFER,
            ref=f"transfer:{transfer.pk}",
            actor=actor,
            now=now,
            note=reason,
        )
        TransferLine.objects.bulk_create(
            TransferLine(transfer=transfer, product_id=p, quantity=q) for p, q in quantities.items()
        )
        audit_record(
            actor=actor,
            action="transfer_send",
            obj=transfer,
            after={"from": source.code, "to": destination.code, "lines": quantities},
            reason=reason,
            at=now,
        )
    return transfer


def transfer_receive(
    *, transfer: Transfer, actor, reason: str = "received", now: dt.datetime | None = None
) -> Transfer:
    require(actor, "orders.receive_transfer", "receive transfers")
    now = now or timezone.now()
    with transaction.atomic():
        locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if locked.status != TransferStatus.IN_TRANSIT:
            raise OrderError(f"transfer {locked.pk} was already received", code="transfer_received")
        moves = [
            StockMove(line.product_id, locked.destination_id, IN_TRANSIT, AVAILABLE, line.quantity)
            for line in locked.lines.all()
        ]
        levels = stock_levels_lock(pairs=[m.pair for m in moves])
        stock_moves_apply(
            moves=moves,
            levels=levels,
            reason=MovementReason.TRANSFER,
            ref=f"transfer:{locked.pk}",
            actor=actor,
            now=now,
            note=reason,
        )
        locked.status, locked.received_at, locked.received_by = (
            TransferStatus.RECEIVED,
            now,
            person(actor),
        )
        locked.save(update_fields=["status", "received_at", "received_by"])
        audit_record(
            actor=actor,
            action="transfer_receive",
            obj=locked,
            before={"status": TransferStatus.IN_TRANSIT},
            after={"status": locked.status},
            reason=reason,
            at=now,
        )
    transfer.refresh_from_db()
    return transfer


# ---------------------------------------------------------------------------
# POS sales


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
    if location is None:
        if incoming.location:
            location = Location.objects.filter(code=incoming.location).first()
            if location is None:
                raise InvalidLines({"location": f"unknown location '{incoming.location}'"})
        elif channel is not None and (ids := channel_location_ids(channel)):
            location = Location.objects.get(pk=ids[0])
        else:
            raise InvalidLines({"location": "is required"})
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
        link=f"/admin/orders/possale/{sale.pk}/change/",
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
            raise OrderError(f"POS sale {locked.external_id} is {locked.status}", code="not_held")
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
        locked.status, locked.decided_at, locked.decided_by, locked.decision_reason = (
            PosSaleStatus.COMPLETED,
            now,
            actor,
            reason[:255],
        )
        locked.save(update_fields=["status", "decided_at", "decided_by", "decision_reason"])
        _close_override_task(locked, actor, f"approved: {reason}", now)
        audit_record(
            actor=actor,
            action="pos_override_approve",
            obj=locked,
            before={"status": PosSaleStatus.HELD},
            after={"status": locked.status, "from_reserved": taken, "orders": diverted},
            reason=reason,
            at=now,
        )
    sale.refresh_from_db()
    return sale


def _divert(
    *, orders: list[ChannelOrder], taken: dict[int, int], location_id: int, now
) -> list[str]:
    """Take reserved units back from the newest orders holding them; their lines wait."""
    need = dict(taken)
    touched = []
    for order in sorted(orders, key=lambda o: (o.received_at, o.pk), reverse=True):
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
            raise OrderError(f"POS sale {locked.external_id} is {locked.status}", code="not_held")
        locked.status, locked.decided_at, locked.decided_by, locked.decision_reason = (
            PosSaleStatus.REJECTED,
            now,
            person(actor),
            reason[:255],
        )
        locked.save(update_fields=["status", "decided_at", "decided_by", "decision_reason"])
        _close_override_task(locked, actor, f"rejected: {reason}", now)
        audit_record(
            actor=actor,
            action="pos_override_reject",
            obj=locked,
            before={"status": PosSaleStatus.HELD},
            after={"status": locked.status},
            reason=reason,
            at=now,
        )
    sale.refresh_from_db()
    return sale


def _close_override_task(sale: PosSale, actor, resolution: str, now) -> None:
    task = OpsTask.objects.filter(
        kind="pos_override", ref=f"pos:{sale.pk}", status=TaskStatus.OPEN
    ).first()
    if task:
        ops_task_close(task=task, actor=person(actor), resolution=resolution, now=now)


# ---------------------------------------------------------------------------
# Vendor returns and credit notes


def vendor_return_create(
    *,
    vendor: str,
    location: Location,
    tracking_number: str,
    lines: Sequence[tuple[int, int]],
    actor,
    reason: str,
    from_state: str = DAMAGED,
    now: dt.datetime | None = None,
) -> VendorReturn:
    """Send goods back to a vendor (only from IMS): a tracking number is mandatory."""
    require(actor, "orders.add_vendorreturn", "create vendor returns")
    problems = {}
    if not tracking_number.strip():
        problems["tracking_number"] = "is required"
    if not vendor.strip():
        problems["vendor"] = "is required"
    if from_state not in (DAMAGED, AVAILABLE, StockState.QUARANTINED):
        problems["from_state"] = "one of damaged, available, quarantined"
    if problems:
        raise InvalidLines(problems)
    quantities = _quantities(lines)
    now = now or timezone.now()
    with transaction.atomic():
        vendor_return = VendorReturn.objects.create(
            vendor=vendor.strip()[:255],
            location=location,
            tracking_number=tracking_number.strip()[:128],
            reason=reason[:255],
            status=VendorReturnStatus.SHIPPED,
            created_at=now,
            created_by=person(actor),
        )
        moves = [StockMove(p, location.pk, from_state, "", q) for p, q in quantities.items()]
        levels = stock_levels_lock(pairs=[m.pair for m in moves])
        stock_moves_apply(
            moves=moves,
            levels=levels,
            reason=MovementReason.VENDOR_RETURN,
            ref=f"vendor_return:{vendor_return.pk}",
            actor=actor,
            now=now,
            note=reason,
        )
        VendorReturnLine.objects.bulk_create(
            VendorReturnLine(
                vendor_return=vendor_return, product_id=p, from_state=from_state, quantity=q
            )
            for p, q in quantities.items()
        )
        audit_record(
            actor=actor,
            action="vendor_return",
            obj=vendor_return,
            after={
                "vendor": vendor_return.vendor,
                "tracking_number": vendor_return.tracking_number,
                "lines": quantities,
            },
            reason=reason,
            at=now,
        )
    return vendor_return


def credit_note_record(
    *,
    vendor: str,
    number: str,
    amount: Decimal,
    currency: str,
    issued_on: dt.date,
    actor,
    now: dt.datetime | None = None,
) -> CreditNote:
    require(actor, "orders.add_creditnote", "record credit notes")
    if amount < 0:
        raise InvalidLines({"amount": "must not be negative"})
    now = now or timezone.now()
    with transaction.atomic():
        note = CreditNote.objects.create(
            vendor=vendor.strip()[:255],
            number=number.strip()[:64],
            amount=amount,
            currency=currency,
            issued_on=issued_on,
            created_at=now,
            created_by=person(actor),
        )
        audit_record(
            actor=actor,
            action="credit_note",
            obj=note,
            after={
                "vendor": note.vendor,
                "number": note.number,
                "amount": str(amount),
                "currency": currency,
            },
            at=now,
        )
    return note


def vendor_return_close(
    *, vendor_return: VendorReturn, credit_note: CreditNote, actor, now: dt.datetime | None = None
) -> VendorReturn:
    """Link the vendor's credit note; only then is the vendor return closed."""
    require(actor, "orders.close_vendorreturn", "close vendor returns")
    now = now or timezone.now()
    with transaction.atomic():
        locked = VendorReturn.objects.select_for_update().get(pk=vendor_return.pk)
        if locked.status == VendorReturnStatus.CLOSED:
            raise OrderError(f"vendor return {locked.pk} is already closed", code="closed")
        if credit_note.vendor != locked.vendor:
            raise InvalidLines(
                {"credit_note": f"is from {credit_note.vendor}, not {locked.vendor}"}
            )
        if VendorReturn.objects.filter(credit_note=credit_note).exists():
            raise InvalidLines({"credit_note": "is already linked to another vendor return"})
        locked.credit_note, locked.status, locked.closed_at = (
            credit_note,
            VendorReturnStatus.CLOSED,
            now,
        )
        locked.save(update_fields=["credit_note", "status", "closed_at"])
        audit_record(
            actor=actor,
            action="vendor_return_close",
            obj=locked,
            before={"status": VendorReturnStatus.SHIPPED},
            after={"status": locked.status, "credit_note": credit_note.number},
            at=now,
        )
        notify_roles(
            Role.FINANCE,
            kind="vendor_return_closed",
            subject=f"Vendor return {locked.pk} to {locked.vendor} closed",
            body=f"Credit note {credit_note.number}: {credit_note.amount} {credit_note.currency}",
        )
    vendor_return.refresh_from_db()
    return vendor_return
