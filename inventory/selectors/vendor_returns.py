"""Reads of vendor returns and credit notes: what /stock/vendor-returns/, its CSV export, the
API and the Finance page list (one selector each, shared by all of them)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from inventory.models import CreditNote, VendorReturn, VendorReturnStatus

# What a person reads for a status: a shipped return waits for the vendor's credit note.
STATE_WORDS = {
    VendorReturnStatus.SHIPPED: "shipped, awaiting credit note",
    VendorReturnStatus.CLOSED: "closed",
}


def vendor_return_list(*, q: str = "", status: str = "") -> QuerySet[VendorReturn]:
    """Vendor returns, newest first, with their units; `q` matches the vendor, the tracking
    number or a SKU on a line, `status` is shipped or closed."""
    returns = VendorReturn.objects.select_related("location", "credit_note").prefetch_related(
        "lines__product"
    )
    if q:
        # Matched in a subquery, so a return's units still count all its lines.
        matching = VendorReturn.objects.filter(
            Q(vendor__icontains=q)
            | Q(tracking_number__icontains=q)
            | Q(lines__product__sku__istartswith=q)
        ).values("pk")
        returns = returns.filter(pk__in=matching)
    if status in VendorReturnStatus.values:
        returns = returns.filter(status=status)
    return returns.annotate(units=Coalesce(Sum("lines__quantity"), 0)).order_by(
        "-created_at", "-pk"
    )


def vendor_return_totals(returns: QuerySet[VendorReturn]) -> dict[str, int]:
    ids = returns.values("pk")
    counts = VendorReturn.objects.filter(pk__in=ids).aggregate(
        returns=Count("pk"),
        awaiting=Count("pk", filter=Q(status=VendorReturnStatus.SHIPPED)),
        closed=Count("pk", filter=Q(status=VendorReturnStatus.CLOSED)),
    )
    units = VendorReturn.objects.filter(pk__in=ids).aggregate(
        units=Coalesce(Sum("lines__quantity"), 0)
    )
    return {**counts, **units}


VENDOR_RETURN_COLUMNS = [
    "id",
    "vendor",
    "location",
    "skus",
    "units",
    "tracking_number",
    "reason",
    "state",
    "created_at",
    "credit_note",
    "amount",
    "currency",
    "closed_at",
]


def vendor_return_rows(returns: QuerySet[VendorReturn]):
    """The export's rows, in VENDOR_RETURN_COLUMNS order."""
    for vr in returns:
        note = vr.credit_note
        yield [
            vr.pk,
            vr.vendor,
            vr.location.code,
            ";".join(f"{line.product.sku}x{line.quantity}" for line in vr.lines.all()),
            vr.units,
            vr.tracking_number,
            vr.reason,
            STATE_WORDS.get(vr.status, vr.status),
            vr.created_at.isoformat(),
            note.number if note else "",
            note.amount if note else "",
            note.currency if note else "",
            vr.closed_at.isoformat() if vr.closed_at else "",
        ]


def credit_note_list(*, q: str = "") -> QuerySet[CreditNote]:
    """Vendors' credit notes, newest first, with the vendor return each closed."""
    notes = CreditNote.objects.select_related("vendor_return")
    if q:
        notes = notes.filter(Q(vendor__icontains=q) | Q(number__icontains=q))
    return notes.order_by("-issued_on", "-pk")


CREDIT_NOTE_COLUMNS = ["vendor_return", "vendor", "number", "amount", "currency", "issued_on"]


def credit_note_rows(notes: QuerySet[CreditNote]):
    for note in notes:
        vr = getattr(note, "vendor_return", None)
        yield [
            vr.pk if vr else "",
            note.vendor,
            note.number,
            note.amount,
            note.currency,
            note.issued_on.isoformat(),
        ]
