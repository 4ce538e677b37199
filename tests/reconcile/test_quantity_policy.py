"""What each channel may show: its quantity policy (share, buffer, zero-at, cap) and its
assortment (withheld products, a product's own cap), on small hand-made worlds, each figure
worked out by hand. PRODUCT.md, "Channel assortment and quantity policy": where A is the
product's `available` over the channel's locations, ATP = floor(A × share / 100), minus the
buffer taken on A, never below 0, 0 at or below zero_at, at most the cap (the product's own
on the channel, else the channel's).

The `world` fixture (tests/conftest.py): `shop` sells from WH then NYC with no buffer;
`market` sells from WH with a 2-unit buffer; W-3 (a watch) is withheld from `market`."""

from decimal import Decimal

import pytest

from catalog.models import Product
from channels.models import Channel, ChannelAssortment
from channels.sync.plan import build_plan
from reconcile.selectors import scorecard_summary
from tests.reconcile.test_reconcile import shows, stock

pytestmark = pytest.mark.django_db


def policy(code, **fields):
    Channel.objects.filter(code=code).update(**fields)


# -- Channel.atp alone: each step, then all together ---------------------------------------


@pytest.mark.parametrize(
    ("fields", "available", "expected"),
    [
        ({}, 37, 37),  # no policy: ATP is what is available
        ({"share_pct": Decimal(80)}, 37, 29),  # floor(37 × 0.8 = 29.6)
        ({"share_pct": Decimal("62.5")}, 8, 5),  # 8 × 0.625 = 5
        ({"buffer_units": 3}, 37, 34),
        ({"buffer_pct": Decimal(10)}, 37, 33),  # ceil(3.7) = 4 held back
        ({"buffer_pct": Decimal("12.5")}, 37, 32),  # ceil(4.625) = 5 held back
        ({"share_pct": Decimal("33.33"), "buffer_pct": Decimal(10)}, 37, 8),  # 12 - ceil(3.7)
        ({"share_pct": Decimal(80)}, -3, 0),  # a negative count (an ERP reset) sells nothing
        ({"buffer_units": 50}, 37, 0),  # never below 0
        ({"zero_at": 5}, 5, 0),  # at or below zero_at: stop selling
        ({"zero_at": 5}, 6, 6),
        ({"max_units": 20}, 37, 20),
        ({"max_units": 0}, 37, 0),
        # all together: floor(37 × 0.8) = 29, minus ceil(10 % of 37) = 4 → 25, above zero_at
        # 5, capped at 20
        (
            {
                "share_pct": Decimal(80),
                "buffer_pct": Decimal(10),
                "zero_at": 5,
                "max_units": 20,
            },
            37,
            20,
        ),
        # the same channel with little stock: floor(8 × 0.8) = 6, minus ceil(0.8) = 1 → 5 ≤ 5 → 0
        (
            {
                "share_pct": Decimal(80),
                "buffer_pct": Decimal(10),
                "zero_at": 5,
                "max_units": 20,
            },
            8,
            0,
        ),
    ],
)
def test_a_channel_s_atp_follows_its_policy_in_order(fields, available, expected):
    assert Channel(currency="USD", **fields).atp(available) == expected


def test_a_product_s_own_cap_overrides_the_channel_s():
    channel = Channel(currency="USD", max_units=20)
    assert channel.atp(37, max_units=5) == 5
    assert channel.atp(37, max_units=30) == 30  # its own cap is higher: it wins
    assert channel.atp(3, max_units=30) == 3


# -- reconcile and sync over a channel selling from two locations --------------------------


def test_reconcile_expects_the_policy_s_atp_over_both_locations(world, ingest, run):
    # shop sells from WH (10) and NYC (5): A = 15. With 80 %, a 1-unit buffer and a cap of
    # 10: floor(12) − 1 = 11 → capped at 10.
    policy("shop", share_pct=Decimal(80), buffer_units=1, max_units=10)
    stock(ingest, ["A-1,WH,10", "A-1,NYC,5", "B-2,WH,3", "W-3,WH,1"])
    # B-2: A = 3 → floor(2.4) = 2 − 1 = 1. W-3: A = 1 → floor(0.8) = 0 − 1 → 0.
    shows(ingest, ["shop,A-1,15,30.00,USD", "shop,B-2,1,8.00,USD", "shop,W-3,0,480.00,USD"])
    found = {k: v for k, v in run().items() if k[1] == "shop"}
    # A-1 shown 15 against 10: 5 × 30.00 at risk.
    assert found == {("A-1", "shop", "Stock_Mismatch"): ("10", "15", "150.00")}
    plan = build_plan(channel=Channel.objects.get(code="shop"))
    assert [(ln.sku, ln.field, ln.current, ln.target) for ln in plan.lines] == [
        ("A-1", "quantity", "15", "10")
    ]


def test_a_withheld_product_is_not_missing_is_pushed_0_and_shown_with_stock_is_a_mismatch(
    world,
    ingest,
    run,
):
    stock(ingest, ["A-1,WH,10", "A-1,NYC,5", "B-2,WH,3", "W-3,WH,1"])
    shop = Channel.objects.get(code="shop")
    a1, b2 = (Product.objects.get(sku=sku) for sku in ("A-1", "B-2"))
    ChannelAssortment.objects.create(channel=shop, product=a1, publish=False)
    ChannelAssortment.objects.create(channel=shop, product=b2, publish=False)
    # shop does not list B-2 (withheld: not missing) and shows A-1 with 4 units.
    shows(ingest, ["shop,A-1,4,30.00,USD", "shop,W-3,1,480.00,USD"])
    found = {k: v for k, v in run().items() if k[1] == "shop"}
    assert found == {("A-1", "shop", "Stock_Mismatch"): ("0", "4", "120.00")}
    plan = build_plan(channel=shop)
    assert [(ln.sku, ln.field, ln.target) for ln in plan.lines] == [("A-1", "quantity", "0")]
    shop_card = next(c for c in scorecard_summary().channels if c.code == "shop")
    # 3 active products, 2 withheld: 1 pair checked (W-3), plus A-1 shown anyway with its
    # exception = 2 checked, 1 with an exception.
    assert (shop_card.pairs_checked, shop_card.pairs_with_exception) == (2, 1)


def test_a_product_s_own_cap_on_one_channel_only(world, ingest, run):
    stock(ingest, ["A-1,WH,10", "A-1,NYC,5", "B-2,WH,3", "W-3,WH,1"])
    ChannelAssortment.objects.create(
        channel=Channel.objects.get(code="shop"),
        product=Product.objects.get(sku="A-1"),
        max_units=6,
    )
    # shop: A-1 capped at 6; market (WH 10 − 2) still sees 8.
    shows(
        ingest,
        [
            "shop,A-1,6,30.00,USD",
            "shop,B-2,3,8.00,USD",
            "shop,W-3,1,480.00,USD",
            "market,A-1,8,30.00,USD",
            "market,B-2,1,8.00,USD",
        ],
    )
    assert run() == {}
