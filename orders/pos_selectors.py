"""Reads of POS override requests (store sales held because they need units reserved for online
orders): what /stock/pos-overrides/, its CSV export and /api/orders/pos-sales/ list, and what
approving each would do (the units it would take from reserved and the online orders that would
wait), read as pos_sale_approve would act, without locking anything."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.db.models import (
    Case,
    CharField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat

from ims.models import AuditEvent, OpsTask
from inventory.models import StockLevel
from orders.models import OrderLine, PosSale, PosSaleLine, PosSaleStatus
from orders.services.pos import pos_divert_order

# The tabs of the page and the API's `status`: "" is every override request.
HELD, APPROVED, REJECTED = "held", "approved", "rejected"
TABS = {HELD: "Held", APPROVED: "Approved", REJECTED: "Rejected", "": "All"}


def pos_sale_state(sale: PosSale) -> str:
    """What a person reads for a sale's state: held sales await a decision; a completed sale
    that was decided on was approved."""
    if sale.status == PosSaleStatus.HELD:
        return "held, awaiting a decision"
    if sale.status == PosSaleStatus.COMPLETED:
        return "approved" if sale.decided_at else "completed"
    if sale.status == PosSaleStatus.VOIDED:
        return "voided on the POS"
    return sale.status


def _task():
    """The sale's override task (opened when it was held), as a subquery on PosSale."""
    return OpsTask.objects.filter(
        kind="pos_override",
        ref=Concat(Value("pos:"), Cast(OuterRef("pk"), CharField()), output_field=CharField()),
    )


def pos_sale_list(*, status: str = "", location: str = "", sku: str = "") -> QuerySet[PosSale]:
    """POS sales that asked for an override (held now, decided on, or voided while held), held
    first, then newest; `status` is held, approved, rejected or "" (all), `location` a location
    code, `sku` a SKU prefix on any of the sale's lines. Each carries `task_status`, the state of
    its override task (open until decided: deciding closes it)."""
    lines = PosSaleLine.objects.select_related("product").order_by("pk")
    sales = (
        PosSale.objects.select_related("location", "channel", "created_by", "decided_by")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .annotate(task_status=Subquery(_task().values("status")[:1]))
        .filter(
            Q(status=PosSaleStatus.HELD)
            | Q(decided_at__isnull=False)
            | Q(task_status__isnull=False)
        )
    )
    if status == HELD:
        sales = sales.filter(status=PosSaleStatus.HELD)
    elif status == APPROVED:
        sales = sales.filter(status=PosSaleStatus.COMPLETED, decided_at__isnull=False)
    elif status == REJECTED:
        sales = sales.filter(status=PosSaleStatus.REJECTED)
    if location:
        sales = sales.filter(location__code=location)
    if sku:
        # Matched in a subquery, so a sale still shows all its lines.
        matching = PosSaleLine.objects.filter(product__sku__istartswith=sku).values("sale_id")
        sales = sales.filter(pk__in=matching)
    held_first = Case(
        When(status=PosSaleStatus.HELD, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return sales.order_by(held_first, "-created_at", "-pk")


def pos_sale_counts(*, location: str = "", sku: str = "") -> dict[str, int]:
    """How many sales each tab holds under the same search."""
    return {tab: pos_sale_list(status=tab, location=location, sku=sku).count() for tab in TABS}


def pos_sale_outlook(sales: Iterable[PosSale]) -> list[PosSale]:
    """Each sale with what approving it does or did: `outlook` — one entry per line (sku,
    quantity, from_reserved: the units taken, or that approving now would take, from units
    reserved for online orders), `waiting` — the online orders that would wait (held: each
    order's channel:id, the SKU and the units it would give up, newest order first, as
    pos_sale_approve takes them) or that waited (approved: channel:id from its audit), and
    `short` — units approving now could not find (the reservations changed: it would be
    refused). Held sales are read as if each alone were approved now."""
    sales = list(sales)
    held = [s for s in sales if s.status == PosSaleStatus.HELD]
    levels, holders = _levels_and_holders(held)
    approved = {str(s.pk): s for s in sales if s.status == PosSaleStatus.COMPLETED and s.decided_at}
    waited = defaultdict(list)
    if approved:
        events = AuditEvent.objects.filter(
            action="pos_override_approve", object_type="orders.possale", object_id__in=approved
        ).values_list("object_id", "after")
        for object_id, after in events:
            waited[object_id] = [
                {"order": ref, "order_id": None, "sku": "", "units": None}
                for ref in (after or {}).get("orders", [])
            ]
    for sale in sales:
        lines = list(sale.lines.all())
        sale.state_words = pos_sale_state(sale)
        sale.units = sum(line.quantity for line in lines)
        sale.short = 0
        if sale.status == PosSaleStatus.HELD:
            sale.outlook, sale.waiting, sale.short = _would(sale, lines, levels, holders)
        else:
            sale.outlook = [
                {
                    "sku": line.product.sku,
                    "quantity": line.quantity,
                    "from_reserved": line.from_reserved,
                }
                for line in lines
            ]
            sale.waiting = waited.get(str(sale.pk), [])
        sale.from_reserved = sum(line["from_reserved"] for line in sale.outlook)
    return sales


def _levels_and_holders(held: list[PosSale]):
    """The stock levels the held sales would take from, and the reserved order lines there
    (with their orders), in two queries."""
    pairs = {(line.product_id, s.location_id) for s in held for line in s.lines.all()}
    if not pairs:
        return {}, defaultdict(list)
    products = {p for p, _ in pairs}
    locations = {loc for _, loc in pairs}
    levels = {
        (lv.product_id, lv.location_id): lv
        for lv in StockLevel.objects.filter(product_id__in=products, location_id__in=locations)
    }
    holders = defaultdict(list)  # (product, location) -> reserved order lines
    reserved = (
        OrderLine.objects.filter(product_id__in=products, location_id__in=locations, reserved__gt=0)
        .select_related("order__channel")
        .order_by("position", "pk")
    )
    for line in reserved:
        holders[(line.product_id, line.location_id)].append(line)
    return levels, holders


def _would(sale: PosSale, lines, levels, holders):
    """What approving the held `sale` now would do (pos_sale_approve: available first, the rest
    from reserved, taken from the newest orders holding it)."""
    need, outlook = {}, []
    for line in lines:
        level = levels.get((line.product_id, sale.location_id))
        available = max(level.available, 0) if level else 0
        from_reserved = line.quantity - min(line.quantity, available)
        need[line.product_id] = from_reserved
        outlook.append(
            {"sku": line.product.sku, "quantity": line.quantity, "from_reserved": from_reserved}
        )
    by_order = defaultdict(list)
    for product_id in need:
        for order_line in holders.get((product_id, sale.location_id), []):
            by_order[order_line.order].append(order_line)
    skus = {line.product_id: line.product.sku for line in lines}
    waiting = []
    for order in pos_divert_order(list(by_order)):
        if not any(need.values()):
            break
        for order_line in by_order[order]:
            want = need.get(order_line.product_id, 0)
            if want:
                give = min(want, order_line.reserved)
                need[order_line.product_id] = want - give
                waiting.append(
                    {
                        "order": f"{order.channel.code}:{order.external_id}",
                        "order_id": order.pk,
                        "sku": skus[order_line.product_id],
                        "units": give,
                    }
                )
    return outlook, waiting, sum(need.values())


def pos_sale_detail(pk: int) -> PosSale:
    """One override request with its outlook (PosSale.DoesNotExist if it is none)."""
    return pos_sale_outlook([pos_sale_list().get(pk=pk)])[0]


POS_SALE_COLUMNS = [
    "id",
    "receipt",
    "location",
    "state",
    "created_at",
    "cashier",
    "lines",
    "units",
    "from_reserved",
    "online_orders",
    "decided_at",
    "decided_by",
    "decision_reason",
]


def pos_sale_rows(sales: QuerySet[PosSale], chunk: int = 500) -> Iterator[list]:
    """The export's rows, in POS_SALE_COLUMNS order (the outlook read `chunk` sales at a time)."""
    batch = []
    for sale in sales.iterator(chunk_size=chunk):
        batch.append(sale)
        if len(batch) == chunk:
            yield from _rows(batch)
            batch = []
    yield from _rows(batch)


def _rows(batch: list[PosSale]) -> Iterator[list]:
    for sale in pos_sale_outlook(batch):
        yield [
            sale.pk,
            sale.external_id,
            sale.location.code,
            sale.state_words,
            sale.created_at.isoformat(),
            sale.created_by.get_username() if sale.created_by else "",
            ";".join(f"{line['sku']}x{line['quantity']}" for line in sale.outlook),
            sale.units,
            sale.from_reserved,
            ";".join(
                f"{w['order']}" + (f" {w['sku']}x{w['units']}" if w["units"] else "")
                for w in sale.waiting
            ),
            sale.decided_at.isoformat() if sale.decided_at else "",
            sale.decided_by.get_username() if sale.decided_by else "",
            sale.decision_reason,
        ]
