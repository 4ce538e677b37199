"""The demo's day, planned: which orders arrive when, what happens to each, and what IMS must
show afterwards (gold rows), worked out from the generated data alone.

The day (orchestration.demo.day plays it) has Shopify orders placed between 30 hours and
5 minutes before it ends: reserved, acknowledged, partly shipped, cancelled, shipped and sent
back (the return lands in quarantine; two units are written off and go back to the vendor,
one return closed with its credit note, one awaiting it); a unit handed back at a store, awaiting inspection; a transfer in
transit; a supplier's delivery received; the ERP's
reset with its variance (Retail Pro, from the inventory file: the levels stay); a WooCommerce order IMS cannot fill (a backorder: the channel is
paused); a POS sale that needs units reserved for an online order (held for an admin). Their
SLA clocks are timed from when each order was placed, so the day ends with clocks on time, in
warning and breached (SLA_Breach, a task, the ladder fired).

What the gold gains, by the rules of docs/PRODUCT.md:
- Shopify is pushed after every stock change (its stand-in shop), so it stays aligned;
  Amazon, WooCommerce and the store POS are read-only: where an order took units they still
  show the old quantity, a Stock_Mismatch shown above what IMS has (an oversell risk).
- The backorder: Oversell_Risk (expected: units waiting, actual: units available).
- The held POS sale: Leakage (expected: units available at the store, actual: units the
  sale asked for).
- Each breached clock: SLA_Breach, named by its order and kind.
The SKUs the day uses have no mismatch of their own, so no other gold row changes.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from orchestration.demo.builder import (
    CHANNELS,
    SEED,
    DemoBuilder,
    DemoProduct,
    GoldRow,
    _money,
)
from sla.models import SlaKind
from sla.services import breach_ref
from sla.templatetags.sla_tags import duration

# The default SLA policies (sla migration 0003): acknowledge within 2 hours, dispatch within 24.
TARGETS = {SlaKind.ACKNOWLEDGEMENT: dt.timedelta(hours=2), SlaKind.DISPATCH: dt.timedelta(hours=24)}
WARNING_PCT = 75
PUSHED = {"shopify"}  # the channel the demo's stand-in shop takes pushes for
FIRST_ORDER = 5001

# (age in minutes when the day ends, units, what happens next)
SHOPIFY_ORDERS = [
    (5, 1, []),  # just in: every clock on time
    (100, 2, []),  # 1 h 40: the acknowledgement is in warning
    (300, 1, []),  # 5 h, nobody took it on: acknowledgement breached
    (40, 1, ["acknowledge"]),
    (1800, 1, []),  # 30 h: acknowledgement and dispatch breached, the ladder's second step
    (50, 2, ["acknowledge", "dispatch:1"]),  # half shipped
    (20, 1, ["cancel"]),
    (45, 3, ["dispatch:3", "return:3"]),  # shipped, then sent back: quarantined
]


def _clean(builder: DemoBuilder) -> list[DemoProduct]:
    """Active products with no gold row of their own (no mismatch baked in anywhere)."""
    named = {g.sku_id for g in builder.gold}
    return [
        p
        for p in builder.products
        if p.active
        and p.sku not in named
        and p.category != "watches"
        and min(p.stock.values()) >= 0
    ]


def day_plan(builder: DemoBuilder, at: dt.datetime) -> dict:
    """Plan the day ending at `at` and add what it changes to the builder's gold rows."""
    rng = random.Random(SEED + 1)
    clean = _clean(builder)
    rng.shuffle(clean)
    warehouse = [p for p in clean if p.stock["WH-EAST"] >= 8 and p.stock["STORE-NYC"] == 0]
    store = next(p for p in clean if p.stock["WH-EAST"] == 0 and p.stock["STORE-NYC"] >= 5)
    short = next(p for p in clean if p.stock["WH-EAST"] == 0 and p is not store)
    taken: dict[tuple[str, str], int] = {}
    orders = []
    for n, (age, units, then) in enumerate(SHOPIFY_ORDERS):
        product = warehouse[n]
        orders.append(
            {
                "channel": "shopify",
                "id": FIRST_ORDER + n,
                "placed_minutes_ago": age,
                "lines": [[product.sku, units]],
                "then": then,
            }
        )
        if "cancel" not in then:
            taken[(product.sku, "WH-EAST")] = units
    # An online order takes two of the store's units: a POS sale there that needs them is held.
    orders.append(
        {
            "channel": "shopify",
            "id": FIRST_ORDER + len(orders),
            "placed_minutes_ago": 15,
            "lines": [[store.sku, 2]],
            "then": [],
        }
    )
    taken[(store.sku, "STORE-NYC")] = 2
    left = store.stock["STORE-NYC"] - 2
    orders.append(
        {
            "channel": "woocommerce",
            "id": 7001,
            "placed_minutes_ago": 10,
            "lines": [[short.sku, 2]],
            "then": [],
        }
    )
    pos_sale = {"location": "STORE-NYC", "receipt": "NYC-0042", "lines": [[store.sku, left + 1]]}
    returned = warehouse[len(SHOPIFY_ORDERS) - 1]
    # Three units on their way to the San Francisco store; a supplier's delivery at the
    # warehouse (the read-only channels then show less than IMS has).
    sent, received = warehouse[len(SHOPIFY_ORDERS)], warehouse[len(SHOPIFY_ORDERS) + 1]
    taken[(sent.sku, "WH-EAST")] = 3
    taken[(received.sku, "WH-EAST")] = -24
    plan = {
        "at": at.isoformat(),
        "orders": orders,
        "pos_sale": pos_sale,
        # Two of the three units sent back are written off, each back to the vendor: one
        # return closed with the vendor's credit note, one awaiting it; one stays quarantined.
        "write_off": {"sku": returned.sku, "location": "WH-EAST", "quantity": 2},
        "vendor_returns": [
            {
                "vendor": "Acme Supply Co.",
                "location": "WH-EAST",
                "tracking_number": "1Z999AA10123456770",
                "lines": [[returned.sku, 1]],
                "credit_note": {
                    "number": "ACME-CN-2291",
                    "amount": str(builder.in_force[returned.sku]),
                },
            },
            {
                "vendor": "Acme Supply Co.",
                "location": "WH-EAST",
                "tracking_number": "1Z999AA10123456784",
                "lines": [[returned.sku, 1]],
            },
        ],
        # The half-shipped order's unit handed back at the New York store: it waits in
        # `returned` for an inspector (nothing a channel sees changes).
        # The first order carries a prescription: its customer opens it at /rx/ with the code
        # WhatsApp brings to the order's phone (every demo order's phone: +1 415 555 <id>).
        "prescription": {"order": FIRST_ORDER},
        "store_return": {"order": FIRST_ORDER + 5, "location": "STORE-NYC", "units": 1},
        "transfer": {"sku": sent.sku, "from": "WH-EAST", "to": "STORE-SF", "quantity": 3},
        "receipt": {
            "sku": received.sku,
            "location": "WH-EAST",
            "quantity": 24,
            "reference": "PO-2026-1207",
        },
        # The ERP's morning count (the inventory file as it was) applied with its variance:
        # what IMS recorded since leaves the levels as they are.
        "erp_reset": {"source": "retailpro", "file": "inventory.csv"},
    }
    _gold_stock(builder, taken)
    builder.gold.append(GoldRow(short.sku, "woocommerce", "Oversell_Risk", "2", "0", oversell=True))
    builder.gold.append(GoldRow(store.sku, "pos", "Leakage", str(left), str(left + 1)))
    _gold_breaches(builder, orders, at)
    return plan


def _gold_stock(builder: DemoBuilder, taken: dict[tuple[str, str], int]) -> None:
    """Where the day took units, a read-only channel still shows what it showed before."""
    by_sku = {p.sku: p for p in builder.products}
    for sku in sorted({sku for sku, _ in taken}):
        product = by_sku[sku]
        after = DemoProduct(**{**product.__dict__, "stock": dict(product.stock)})
        for (s, location), units in taken.items():
            if s == sku:
                after.stock[location] -= units
        for channel in CHANNELS:
            code = channel[0]
            if code in PUSHED or builder.withheld(product, code):
                continue
            shown, expected = builder.atp(product, channel), builder.atp(after, channel)
            if shown != expected:
                price = builder.in_force[sku]
                builder.gold.append(
                    GoldRow(
                        sku,
                        code,
                        "Stock_Mismatch",
                        str(expected),
                        str(shown),
                        # exposure only where the channel shows more than IMS has
                        _money(max(shown - expected, 0) * price),
                        shown > expected,
                    )
                )


def _gold_breaches(builder: DemoBuilder, orders: list[dict], at: dt.datetime) -> None:
    """Clocks of orders nobody acknowledged or shipped in time, as the SLA sweep at `at` sees
    them (round the clock: the demo's locations have no business hours set)."""
    for order in orders:
        if order["channel"] != "shopify" or order["then"]:
            continue
        placed = at - dt.timedelta(minutes=order["placed_minutes_ago"])
        for kind, target in TARGETS.items():
            due = placed + target
            if due > at:
                continue
            builder.gold.append(
                GoldRow(
                    breach_ref(external_id=str(order["id"]), kind=kind),
                    "shopify",
                    "SLA_Breach",
                    f"{SlaKind(kind).label} within {duration(target)} (due {due:%Y-%m-%d %H:%M} UTC)",
                    f"not done at {at:%Y-%m-%d %H:%M} UTC",
                    Decimal("0.00"),
                )
            )
