"""Vendor returns and their credit notes: goods sent back to a vendor (only from IMS, with
a tracking number) leave stock at once; the return closes only once Finance links the
vendor's credit note."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ims.audit import audit_record
from ims.notify import notify_roles
from ims.permissions import person, require
from ims.roles import Role
from inventory.errors import FlowError, InvalidLines
from inventory.models import (
    CreditNote,
    Location,
    MovementReason,
    StockState,
    VendorReturn,
    VendorReturnLine,
    VendorReturnStatus,
)
from inventory.services.lines import lines_summed
from inventory.services.stock import StockMove, stock_move

# The states a vendor return may take units from.
RETURNABLE = (StockState.DAMAGED, StockState.AVAILABLE, StockState.QUARANTINED)


def vendor_return_create(
    *,
    vendor: str,
    location: Location,
    tracking_number: str,
    lines: Sequence[tuple[int, int]],
    actor,
    reason: str,
    from_state: str = StockState.DAMAGED,
    now: dt.datetime | None = None,
) -> VendorReturn:
    """Send goods back to a vendor (only from IMS): a tracking number is mandatory."""
    require(actor, "inventory.add_vendorreturn", "create vendor returns")
    problems = {}
    if not tracking_number.strip():
        problems["tracking_number"] = "is required"
    if not vendor.strip():
        problems["vendor"] = "is required"
    if from_state not in RETURNABLE:
        problems["from_state"] = "one of damaged, available, quarantined"
    if problems:
        raise InvalidLines(problems)
    quantities = lines_summed(lines)
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
        stock_move(
            moves=[StockMove(p, location.pk, from_state, "", q) for p, q in quantities.items()],
            reason=MovementReason.VENDOR_RETURN,
            ref=f"vendor_return:{vendor_return.pk}",
            actor=actor,
            now=now,
            note=reason,
            action=None,  # audited below, as the vendor return
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
    require(actor, "inventory.add_creditnote", "record credit notes")
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
    require(actor, "inventory.close_vendorreturn", "close vendor returns")
    now = now or timezone.now()
    with transaction.atomic():
        locked = VendorReturn.objects.select_for_update().get(pk=vendor_return.pk)
        if locked.status == VendorReturnStatus.CLOSED:
            raise FlowError(f"vendor return {locked.pk} is already closed", code="closed")
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
