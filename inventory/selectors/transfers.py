"""Reads of transfers between locations: the in-transit list the transfers page, its CSV export
and the API share (kept apart from selectors.py, which the quarantine and vendor returns use)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from inventory.models import Transfer, TransferLine, TransferStatus


def transfer_lines(
    *,
    status: str = TransferStatus.IN_TRANSIT,
    sku: str = "",
    location: str = "",
    keep: int | None = None,
) -> QuerySet[TransferLine]:
    """Lines of transfers in `status` (all statuses when blank), newest transfer first; `sku` is
    a SKU prefix, `location` a code at either end. `keep` (a transfer's id) stays listed
    whatever its status: the transfer just acted on, in view with what became of it."""
    lines = TransferLine.objects.select_related(
        "product",
        "transfer__source",
        "transfer__destination",
        "transfer__created_by",
        "transfer__received_by",
    )
    if status:
        held = Q(transfer__status=status)
        lines = lines.filter(held | Q(transfer_id=keep) if keep else held)
    sku = sku.strip()
    if sku:
        lines = lines.filter(product__sku__startswith=sku)
    if location:
        lines = lines.filter(
            Q(transfer__source__code=location) | Q(transfer__destination__code=location)
        )
    return lines.order_by("-transfer__created_at", "-transfer_id", "product__sku")


def transfer_totals(lines: QuerySet[TransferLine]) -> dict[str, int]:
    """What the lines hold: the transfers, the SKUs and the units."""
    return lines.aggregate(
        transfers=Count("transfer", distinct=True),
        skus=Count("product", distinct=True),
        units=Coalesce(Sum("quantity"), 0),
    )


def transfer_list(*, status: str = "", sku: str = "", location: str = "") -> QuerySet[Transfer]:
    """Transfers (the API's list), newest first, with their lines; the same filters as
    transfer_lines: a status, a SKU prefix on any line, a location at either end."""
    transfers = Transfer.objects.select_related(
        "source", "destination", "created_by", "received_by"
    ).prefetch_related("lines__product")
    if status:
        transfers = transfers.filter(status=status)
    sku = sku.strip()
    if sku:
        transfers = transfers.filter(
            pk__in=TransferLine.objects.filter(product__sku__startswith=sku).values("transfer_id")
        )
    if location:
        transfers = transfers.filter(Q(source__code=location) | Q(destination__code=location))
    return transfers.order_by("-created_at", "-pk")


TRANSFER_COLUMNS = [
    "transfer",
    "sku_id",
    "name",
    "from",
    "to",
    "units",
    "status",
    "reason",
    "sent_at",
    "sent_by",
    "received_at",
    "received_by",
]


def _who(user) -> str:
    return user.get_username() if user is not None else "IMS"


def transfer_rows(lines: QuerySet[TransferLine]):
    """The export's rows, in TRANSFER_COLUMNS order (streamed)."""
    for line in lines.iterator(chunk_size=2000):
        transfer = line.transfer
        yield [
            transfer.pk,
            line.product.sku,
            line.product.name,
            transfer.source.code,
            transfer.destination.code,
            line.quantity,
            transfer.status,
            transfer.reason,
            transfer.created_at.isoformat(),
            _who(transfer.created_by),
            transfer.received_at.isoformat() if transfer.received_at else "",
            _who(transfer.received_by) if transfer.received_at else "",
        ]
