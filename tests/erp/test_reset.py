"""The morning ERP reset with its exact variance: the seed's Retail Pro example, and the cases
around it (open reservations, hand-overs either side of as_of, returns, transfers, unknown
locations, shortfalls, omitted pairs)."""

from __future__ import annotations

import pytest

from catalog.models import Product
from channels.models import Channel, ChannelListing
from erp.errors import ResetRefused
from erp.models import ResetRun
from erp.services.export import erp_export
from exceptions.models import OpsException
from inventory.models import Location, Movement, StockLevel
from inventory.services.transfers import transfer_receive, transfer_send
from orders.providers.base import ReturnLineIn
from orders.services.fulfilment import order_dispatch
from orders.services.reservation import order_cancel
from orders.services.returns import customer_return_record
from reconcile.reconcile import reconcile
from tests.erp.conftest import at, levels, read_csv

pytestmark = pytest.mark.django_db

RESET_HEADER = "sku_id,location,quantity\n"
SEED_COUNTS = {"A,NY": 10, "A,NSH": 10, "B,NY": 10, "B,NSH": 10, "C,NY": 0, "C,NSH": 0}


def full(**counts: int) -> str:
    """The ERP's full file for the seed's SKUs and stores: A_NY=9 changes A at New York."""
    merged = {**SEED_COUNTS, **{key.replace("_", ","): value for key, value in counts.items()}}
    return RESET_HEADER + "".join(f"{pair},{quantity}\n" for pair, quantity in merged.items())


def test_the_seeds_retail_pro_example_comes_out_exactly(seed_world, shop_order, reset, tmp_path):
    # 8:30 — the web order A×2, B×2, C×2: A and B reserve in New York, C (none anywhere) waits.
    order = shop_order(830, [("A", 2), ("B", 2), ("C", 2)])
    assert order.location.code == "NY"
    assert {ln.sku: (ln.reserved, ln.backordered) for ln in order.lines.all()} == {
        "A": (2, 0),
        "B": (2, 0),
        "C": (0, 2),
    }
    # 9:00 — A and B ship from New York; the order is partially shipped, not complete.
    order_dispatch(order=order, items=[("A", 2), ("B", 2)], now=at(0, 9))
    assert levels() == {
        ("A", "NY"): 8,
        ("A", "NSH"): 10,
        ("B", "NY"): 8,
        ("B", "NSH"): 10,
        ("C", "NY"): 0,
        ("C", "NSH"): 0,
    }
    # The nightly hand-over: a partially shipped order's shipments are not handed over.
    handover = erp_export(out_dir=tmp_path, now=at(0, 23))
    assert handover.movements == 0
    assert not Movement.objects.filter(handed_to_erp_at__isnull=False).exists()

    # 7:00 next morning — Retail Pro's reset file, unaware of the shipment (its own codes).
    summary = reset(
        RESET_HEADER + "A,RP-NY,10\nA,RP-NSH,10\nB,RP-NY,10\nB,RP-NSH,10\nC,RP-NY,5\nC,RP-NSH,5\n",
        as_of=at(1, 7),
    )

    assert levels() == {
        ("A", "NY"): 8,
        ("A", "NSH"): 10,
        ("B", "NY"): 8,
        ("B", "NSH"): 10,
        ("C", "NY"): 5,
        ("C", "NSH"): 5,
    }
    assert read_csv(tmp_path / "variance.csv") == [
        ["sku_id", "location", "variance"],
        ["A", "NSH", "0"],
        ["A", "NY", "-2"],
        ["B", "NSH", "0"],
        ["B", "NY", "-2"],
        ["C", "NSH", "0"],
        ["C", "NY", "0"],
    ]
    run = summary.run
    assert (run.status, run.rows_read, run.kept, run.pairs, run.changed) == (
        "applied",
        6,
        6,
        6,
        2,
    )
    assert run.variance_total == -4 and run.skipped == {} and run.shortfalls == 0
    # The reset is a recorded movement set: C's five units at each store came in through it.
    assert sorted(
        Movement.objects.filter(reason="erp_reset").values_list(
            "product__sku", "location__code", "from_state", "to_state", "quantity", "ref"
        )
    ) == [
        ("C", "NSH", "", "available", 5, run.ref),
        ("C", "NY", "", "available", 5, run.ref),
    ]
    assert "variance total: -4 units" in "\n".join(summary.lines())

    # C's backorder is cancelled: the order completes, and its shipments are handed over.
    order_cancel(order=order, reason="customer gave up on C", now=at(1, 9))
    handover = erp_export(out_dir=tmp_path, now=at(1, 23))
    assert handover.movements == 2 and handover.by_kind == {"shipment": 2}
    assert read_csv(handover.files[0])[1:] == [
        [
            str(m.pk),
            "shipment",
            f"order:{order.pk}",
            m.product.sku,
            "NY",
            "RP-NY",
            "-2",
            m.created_at.isoformat(),
        ]
        for m in Movement.objects.filter(reason="dispatch").order_by("pk")
    ]
    # The ERP now counts 8 in New York; the next reset has no variance left and changes nothing.
    summary = reset(
        RESET_HEADER + "A,RP-NY,8\nA,RP-NSH,10\nB,RP-NY,8\nB,RP-NSH,10\nC,RP-NY,5\nC,RP-NSH,5\n",
        as_of=at(2, 7),
    )
    assert summary.run.changed == 0 and summary.run.variance_total == 0
    assert levels()[("A", "NY")] == 8 and levels()[("B", "NY")] == 8


def test_units_reserved_for_an_open_order_are_still_on_the_shelf(seed_world, shop_order, reset):
    order = shop_order(1, [("A", 3)])
    summary = reset(full(), as_of=at(1, 7))
    # The ERP counts 10 on the shelf, three of them held for the order: 7 left to sell.
    level = StockLevel.objects.get(product__sku="A", location__code="NY")
    assert (level.available, level.reserved) == (7, 3)
    assert summary.run.variance_total == 0
    assert order.lines.get().reserved == 3


def test_a_shipment_handed_over_before_as_of_is_in_the_erps_count_and_one_after_is_variance(
    seed_world, shop_order, reset, tmp_path
):
    early = shop_order(1, [("A", 1)])
    order_dispatch(order=early, items=[("A", 1)], now=at(1, 5))
    erp_export(out_dir=tmp_path, now=at(1, 6))  # handed over at 6:00, before the 7:00 count
    late = shop_order(2, [("A", 2)])
    order_dispatch(order=late, items=[("A", 2)], now=at(1, 6, 30))
    erp_export(out_dir=tmp_path, now=at(1, 7, 30))  # handed over after the 7:00 count
    assert levels()[("A", "NY")] == 7

    # The ERP's 7:00 count knows the first shipment (9), not the second.
    reset(full(A_NY=9), as_of=at(1, 7), now=at(1, 8))

    assert levels()[("A", "NY")] == 7
    assert ["A", "NY", "-2"] in read_csv(tmp_path / "variance.csv")


def test_a_return_received_but_not_yet_in_the_erp_is_variance_and_stays_quarantined(
    seed_world, shop_order, reset, tmp_path
):
    order = shop_order(1, [("A", 2)])
    order_dispatch(order=order, items=[("A", 2)], now=at(0, 9))
    erp_export(out_dir=tmp_path, now=at(0, 10))  # the ERP counts 8 in New York now
    customer_return_record(
        order=order, external_id="R1", lines=[ReturnLineIn(quantity=1, sku="A")], now=at(0, 12)
    )

    reset(full(A_NY=8), as_of=at(1, 7))

    level = StockLevel.objects.get(product__sku="A", location__code="NY")
    # Nine units are in the store: eight to sell, the returned one in quarantine.
    assert (level.available, level.quarantined) == (8, 1)
    assert ["A", "NY", "1"] in read_csv(tmp_path / "variance.csv")
    # Once the return is handed over the ERP counts it; the reset agrees.
    erp_export(out_dir=tmp_path, now=at(1, 9))
    reset(full(A_NY=9), as_of=at(1, 10))
    level.refresh_from_db()
    assert (level.available, level.quarantined) == (8, 1)


def test_a_transfer_in_transit_is_counted_once(seed_world, reset, tmp_path):
    ny, nsh = Location.objects.get(code="NY"), Location.objects.get(code="NSH")
    a = Product.objects.get(sku="A")
    transfer = transfer_send(
        source=ny, destination=nsh, lines=[(a.pk, 3)], actor=None, reason="rebalance", now=at(0, 15)
    )

    reset(full(), as_of=at(1, 7))

    assert levels()[("A", "NY")] == 7
    nashville = StockLevel.objects.get(product=a, location=nsh)
    assert (nashville.available, nashville.in_transit) == (10, 3)
    variance = read_csv(tmp_path / "variance.csv")
    assert ["A", "NY", "-3"] in variance and ["A", "NSH", "3"] in variance

    transfer_receive(transfer=transfer, actor=None, now=at(1, 11))
    reset(full(), as_of=at(1, 12))
    nashville.refresh_from_db()
    assert (nashville.available, nashville.in_transit) == (13, 0)
    # Handed over, the ERP moves the units itself and the variance is gone.
    erp_export(out_dir=tmp_path, now=at(1, 13))
    summary = reset(full(A_NY=7, A_NSH=13), as_of=at(1, 14))
    assert summary.run.changed == 0 and summary.run.variance_total == 0


def test_a_location_the_file_names_that_ims_does_not_know_is_skipped_and_told(seed_world, reset):
    summary = reset(
        RESET_HEADER
        + "A,NY,6\nA,PARIS,4\nA,NSH,10\nB,PARIS,1\nB,NY,10\nB,NSH,10\nC,NY,0\nC,NSH,0\n",
        as_of=at(1, 7),
        name="rp.csv",
    )
    assert levels()[("A", "NY")] == 6
    assert summary.run.skipped == {"unknown location": 2}
    assert any(
        "rp.csv:3: location: unknown location 'PARIS' (2 rows skipped)" in note
        for note in summary.lines()
    )


def test_rows_outside_the_scope_are_counted_by_reason(seed_world, reset, ingest):
    ingest(
        "catalog",
        "sku_id,name,barcode,category,uom,cost,mrp,price,currency,status\n"
        "Z,Old,4006381333931,x,EA,1.00,9.00,5.00,USD,inactive\n",
        at=at(0, 7),
    )
    summary = reset(
        RESET_HEADER
        + "A,NY,10\nA,NSH,10\nB,NY,10\nB,NSH,10\nC,NY,0\nC,NSH,0\n"
        + "Z,NY,3\nNEVER-SOLD,NY,40\nNEVER-SOLD,NSH,2\n",
        as_of=at(1, 7),
    )
    assert summary.run.kept == 6
    assert summary.run.skipped == {"inactive product": 1, "unknown SKU": 2}
    assert not StockLevel.objects.filter(product__sku="Z").exists()


def test_a_sku_a_channel_sells_that_ims_does_not_know_becomes_an_exception(seed_world, reset):
    shop = Channel.objects.get(code="shop")
    ChannelListing.objects.create(
        channel=shop, identifier="GHOST", sku="GHOST", quantity=3, seen_at=at(0, 6)
    )
    summary = reset(
        RESET_HEADER + "A,NY,10\nA,NSH,10\nB,NY,10\nB,NSH,10\nC,NY,0\nC,NSH,0\nGHOST,NY,4\n",
        as_of=at(1, 7),
    )
    exception = OpsException.objects.get(sku_id="GHOST")
    assert (exception.discrepancy, exception.channel, exception.source, exception.status) == (
        "Channel_Only_SKU",
        shop,
        "erp",
        "open",
    )
    assert summary.run.skipped == {"unknown SKU": 1}
    # The next file without it resolves it.
    reset(RESET_HEADER + "A,NY,10\nA,NSH,10\nB,NY,10\nB,NSH,10\n", as_of=at(2, 7))
    exception.refresh_from_db()
    assert exception.status == "resolved"


def test_reconcile_after_the_erp_raised_a_channel_only_sku_refreshes_it_not_a_second_one(
    seed_world, reset, tmp_path
):
    shop = Channel.objects.get(code="shop")
    ChannelListing.objects.create(
        channel=shop,
        identifier="GHOST",
        sku="GHOST",
        quantity=3,
        price="20.00",
        currency="USD",
        seen_at=at(0, 6),
    )
    with_ghost = full() + "GHOST,NY,4\n"
    reset(with_ghost, as_of=at(1, 7))

    def ghost():
        return list(
            OpsException.objects.filter(sku_id="GHOST", status__in=["open", "acknowledged"])
            .order_by("pk")
            .values_list("channel__code", "discrepancy", "source", "exposure")
        )

    assert ghost() == [("shop", "Channel_Only_SKU", "erp", 60)]
    # Reconcile finds the same listing: the ERP's exception is refreshed, not raised twice.
    run = reconcile(out_dir=tmp_path / "reports", now=at(1, 8))
    assert run.status == "succeeded"
    assert ghost() == [("shop", "Channel_Only_SKU", "erp", 60)]
    assert reconcile(out_dir=tmp_path / "reports", now=at(1, 9)).status == "succeeded"
    assert ghost() == [("shop", "Channel_Only_SKU", "erp", 60)]
    seen = OpsException.objects.get(sku_id="GHOST", status="open")
    assert (seen.first_seen, seen.last_seen, seen.currency) == (at(1, 7, 5), at(1, 9), "USD")
    # The ERP's next file without it resolves the ERP's; reconcile, still seeing the
    # listing, raises its own; the ERP's file naming it again refreshes that one.
    reset(full(), as_of=at(2, 7))
    assert ghost() == []
    reconcile(out_dir=tmp_path / "reports", now=at(2, 8))
    assert ghost() == [("shop", "Channel_Only_SKU", "reconcile", 60)]
    reset(with_ghost, as_of=at(3, 7))
    assert ghost() == [("shop", "Channel_Only_SKU", "reconcile", 60)]


def test_a_count_below_what_is_reserved_is_an_oversell_risk_never_a_silent_clamp(
    seed_world, shop_order, reset
):
    shop_order(1, [("A", 4)])
    summary = reset(full(A_NY=1), as_of=at(1, 7))
    level = StockLevel.objects.get(product__sku="A", location__code="NY")
    assert (level.available, level.reserved) == (0, 4)
    risk = OpsException.objects.get(sku_id="A", discrepancy="Oversell_Risk", channel=None)
    assert (risk.expected, risk.actual, risk.source, risk.oversell) == ("4", "1", "erp", True)
    assert summary.run.shortfalls == 1
    # A later count that covers the order resolves it.
    reset(full(A_NY=6), as_of=at(2, 7))
    risk.refresh_from_db()
    assert risk.status == "resolved"
    assert levels()[("A", "NY")] == 2


def test_a_pair_the_file_omits_is_set_to_zero(seed_world, reset, tmp_path):
    # Forty units elsewhere keep the omitted pair under the share a reset may zero.
    summary = reset(
        RESET_HEADER + "A,NY,10\nB,NY,10\nB,NSH,10\nC,NY,10\nC,NSH,10\n",
        as_of=at(1, 7),
        zero_share=0.25,
    )
    assert levels()[("A", "NSH")] == 0
    assert (summary.run.omitted, summary.run.omitted_units) == (1, 10)
    assert ["A", "NSH", "0"] in read_csv(tmp_path / "variance.csv")


def test_a_file_that_would_zero_too_much_stock_is_refused_as_truncated(seed_world, reset):
    before = levels()
    with pytest.raises(ResetRefused) as refused:
        reset(RESET_HEADER + "A,NY,10\nA,NSH,10\n", as_of=at(1, 7), name="cut.csv")
    assert "likely a truncated file" in str(refused.value)
    assert "omits 4 (product, location) pairs holding 20 of 40 units (50.0%)" in str(refused.value)
    assert levels() == before
    assert not Movement.objects.filter(reason="erp_reset").exists()
    assert ResetRun.objects.get().status == "rejected"
