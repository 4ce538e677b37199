"""Reads of customer returns for /stock/returns/, its CSV export and the API (one selector,
shared by all of them): those received at a store and awaiting inspection first."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from orders.models import CustomerReturn, CustomerReturnStatus

# What a person reads for a status.
STATUS_WORDS = dict(CustomerReturnStatus.choices)


def customer_return_list(
    *, q: str = "", status: str = "", location: str = ""
) -> QuerySet[CustomerReturn]:
    """Customer returns, those awaiting inspection first, then newest first, with their units;
    `q` is a SKU prefix on a line, the order's external id or the return's; `status` one of
    CustomerReturnStatus; `location` a location's code. An unknown status finds nothing."""
    returns = CustomerReturn.objects.select_related(
        "order__channel", "location", "created_by", "inspected_by"
    ).prefetch_related("lines__product")
    if q:
        # Matched in a subquery, so a return's units still count all its lines.
        matching = CustomerReturn.objects.filter(
            Q(lines__product__sku__istartswith=q)
            | Q(order__external_id__iexact=q)
            | Q(external_id__iexact=q)
        ).values("pk")
        returns = returns.filter(pk__in=matching)
    if status:
        returns = returns.filter(status=status)
    if location:
        returns = returns.filter(location__code=location)
    return returns.annotate(
        units=Coalesce(Sum("lines__quantity"), 0),
        waiting=Case(
            When(status=CustomerReturnStatus.RECEIVED, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
    ).order_by("waiting", "-created_at", "-pk")


def customer_return_totals(returns: QuerySet[CustomerReturn]) -> dict[str, int]:
    ids = returns.values("pk")
    counts = CustomerReturn.objects.filter(pk__in=ids).aggregate(
        returns=Count("pk"),
        awaiting=Count("pk", filter=Q(status=CustomerReturnStatus.RECEIVED)),
    )
    units = CustomerReturn.objects.filter(pk__in=ids).aggregate(
        units=Coalesce(Sum("lines__quantity"), 0)
    )
    return {**counts, **units}


CUSTOMER_RETURN_COLUMNS = [
    "id",
    "return",
    "status",
    "channel",
    "order",
    "location",
    "skus",
    "units",
    "to_available",
    "to_damaged",
    "to_quarantined",
    "reason",
    "created_at",
    "inspected_at",
]


def customer_return_rows(returns: QuerySet[CustomerReturn]):
    """The export's rows, in CUSTOMER_RETURN_COLUMNS order."""
    for cr in returns:
        lines = list(cr.lines.all())
        yield [
            cr.pk,
            cr.external_id,
            STATUS_WORDS.get(cr.status, cr.status),
            cr.order.channel.code,
            cr.order.external_id,
            cr.location.code,
            ";".join(f"{line.product.sku}x{line.quantity}" for line in lines),
            cr.units,
            sum(line.to_available for line in lines),
            sum(line.to_damaged for line in lines),
            sum(line.to_quarantined for line in lines),
            cr.reason,
            cr.created_at.isoformat(),
            cr.inspected_at.isoformat() if cr.inspected_at else "",
        ]
