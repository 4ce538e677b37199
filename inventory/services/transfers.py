"""Transfers between locations: the source's available units go out at once and arrive
in_transit at the destination; receiving the transfer makes them available there. Each
takes an actor and a reason and changes stock only through movements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from ims.audit import audit_record
from ims.permissions import person, require
from inventory.errors import FlowError, InvalidLines
from inventory.models import (
    Location,
    MovementReason,
    StockState,
    Transfer,
    TransferLine,
    TransferStatus,
)
from inventory.services.lines import lines_summed
from inventory.services.stock import StockMove, stock_move

AVAILABLE, IN_TRANSIT = StockState.AVAILABLE, StockState.IN_TRANSIT


def transfer_send(
    *,
    source: Location,
    destination: Location,
    lines: Sequence[tuple[int, int]],
    actor,
    reason: str,
    now: dt.datetime | None = None,
) -> Transfer:
    """Source available → out; destination in → in_transit (all or nothing)."""
    require(actor, "inventory.add_transfer", "send transfers")
    if source.pk == destination.pk:
        raise InvalidLines({"destination": "must differ from the source"})
    quantities = lines_summed(lines)
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
        stock_move(
            moves=[StockMove(p, source.pk, AVAILABLE, "", q) for p, q in quantities.items()]
            + [StockMove(p, destination.pk, "", IN_TRANSIT, q) for p, q in quantities.items()],
            reason=MovementReason.TRANSFER,
            ref=f"transfer:{transfer.pk}",
            actor=actor,
            now=now,
            note=reason,
            action=None,  # audited below, as the transfer
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
    """The destination's in_transit units become available; a transfer is received once."""
    require(actor, "inventory.receive_transfer", "receive transfers")
    now = now or timezone.now()
    with transaction.atomic():
        locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if locked.status != TransferStatus.IN_TRANSIT:
            raise FlowError(f"transfer {locked.pk} was already received", code="transfer_received")
        stock_move(
            moves=[
                StockMove(
                    line.product_id, locked.destination_id, IN_TRANSIT, AVAILABLE, line.quantity
                )
                for line in locked.lines.all()
            ],
            reason=MovementReason.TRANSFER,
            ref=f"transfer:{locked.pk}",
            actor=actor,
            now=now,
            note=reason,
            action=None,  # audited below, as the transfer
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
