"""What each channel offers: Ops withhold or cap many products at once (a whole category), the
change is audited and those products' stock is queued for that channel; the file `ingest
assortment` does the same, and a file with any bad cell is refused whole, each problem named."""

from __future__ import annotations

import pytest

from catalog.models import Product
from channels.assortment import UNSET, assortment_set
from channels.assortment_selectors import assortment_list, assortment_totals
from channels.models import Channel, ChannelAssortment, PendingPush
from ims.errors import ApplicationError, FileRejected, NotAllowed
from ims.models import AuditEvent, IngestRun
from ims.roles import Role

pytestmark = pytest.mark.django_db

HEADER = "channel,sku_id,publish,max_units\n"


@pytest.fixture
def shelf(world, ingest):
    """The world's three products and two more in `home`: A-1 apparel; B-2, H-4, H-5 home;
    W-3 watches. shop pushes, market is read-only."""
    ingest(
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,price,currency
        H-4,Bowl,4006381333948,home,EA,2.00,10.00,8.00,USD
        H-5,Plate,4006381333955,home,EA,2.00,10.00,8.00,USD
    """,
        name="more.csv",
    )
    return {c.code: c for c in Channel.objects.all()}


def offered(channel) -> dict[str, tuple[bool, int | None]]:
    return {p.sku: (p.offered, p.cap) for p in assortment_list(channel=channel)}


def test_with_no_row_every_active_product_is_offered_without_a_cap(shelf):
    assert offered(shelf["shop"]) == {
        "A-1": (True, None),
        "B-2": (True, None),
        "H-4": (True, None),
        "H-5": (True, None),
        "W-3": (True, None),
    }
    totals = assortment_totals(assortment_list(channel=shelf["shop"]))
    assert totals == {"products": 5, "offered": 5, "withheld": 0}


def test_ops_withhold_a_whole_category_audited_and_queued_for_that_channel_only(
    shelf, user_with_role
):
    ops = user_with_role(Role.OPS)
    shop = shelf["shop"]
    home = Product.objects.filter(category__name="home")
    changed = assortment_set(
        channel=shop, products=home, publish=False, actor=ops, reason="online only"
    )
    assert changed == 3
    assert offered(shop) == {
        "A-1": (True, None),
        "B-2": (False, None),
        "H-4": (False, None),
        "H-5": (False, None),
        "W-3": (True, None),
    }
    # market is untouched: the assortment is per channel
    assert all(v == (True, None) for v in offered(shelf["market"]).values())
    assert assortment_totals(assortment_list(channel=shop)) == {
        "products": 5,
        "offered": 2,
        "withheld": 3,
    }
    assert assortment_totals(assortment_list(channel=shop, offered="no"))["products"] == 3

    event = AuditEvent.objects.get(action="channel_assortment_set")
    assert (event.actor, event.object_id, event.reason) == (ops, str(shop.pk), "online only")
    assert event.after == {
        "products": 3,
        "publish": False,
        "skus": ["B-2", "H-4", "H-5"],
        "more_skus": 0,
    }
    queued = sorted(PendingPush.objects.values_list("channel__code", "product__sku"))
    assert queued == [("shop", "B-2"), ("shop", "H-4"), ("shop", "H-5")]


def test_setting_the_same_again_changes_nothing_and_records_nothing(shelf, user_with_role):
    ops = user_with_role(Role.OPS)
    home = Product.objects.filter(category__name="home")
    assortment_set(channel=shelf["shop"], products=home, publish=False, actor=ops)
    PendingPush.objects.all().delete()
    again = assortment_set(channel=shelf["shop"], products=home, publish=False, actor=ops)
    assert again == 0
    assert AuditEvent.objects.filter(action="channel_assortment_set").count() == 1
    assert not PendingPush.objects.exists()


def test_a_product_cap_alone_keeps_the_offer_and_blank_clears_it(shelf, user_with_role):
    ops = user_with_role(Role.OPS)
    shop = shelf["shop"]
    ids = list(Product.objects.filter(sku__in=["A-1", "B-2"]).values_list("pk", flat=True))
    assortment_set(channel=shop, products=ids[:1], publish=False, actor=ops)
    assert assortment_set(channel=shop, products=ids, max_units=5, actor=ops) == 2
    assert offered(shop)["A-1"] == (False, 5)
    assert offered(shop)["B-2"] == (True, 5)
    assert assortment_set(channel=shop, products=ids, max_units=None, actor=ops) == 2
    assert offered(shop)["A-1"] == (False, None)
    assert ChannelAssortment.objects.filter(channel=shop).count() == 2


def test_a_read_only_channel_is_sent_nothing(shelf, user_with_role):
    home = Product.objects.filter(category__name="home")
    assortment_set(channel=shelf["market"], products=home, publish=False, actor=None)
    assert offered(shelf["market"])["H-4"] == (False, None)
    assert not PendingPush.objects.exists()


@pytest.mark.parametrize(
    "role", [Role.CATALOG_MANAGER, Role.PRICING, Role.STORE_STAFF, Role.FINANCE]
)
def test_roles_other_than_ops_and_admins_may_not_change_the_assortment(shelf, user_with_role, role):
    with pytest.raises(NotAllowed):
        assortment_set(
            channel=shelf["shop"],
            products=Product.objects.all(),
            publish=False,
            actor=user_with_role(role),
        )
    assert not ChannelAssortment.objects.exists()


def test_nothing_to_change_is_refused(shelf, user_with_role):
    with pytest.raises(ApplicationError) as refused:
        assortment_set(
            channel=shelf["shop"],
            products=Product.objects.all(),
            max_units=UNSET,
            actor=user_with_role(Role.OPS),
        )
    assert "publish" in refused.value.extra["fields"]


# ---------------------------------------------------------------------------
# ingest assortment


def test_a_good_file_sets_each_channel_and_audits_it(shelf, ingest):
    run, result = ingest(
        "assortment",
        HEADER + "shop,B-2,no,\nshop,A-1,yes,10\nmarket,W-3,no,\nmarket,A-1,YES,\n",
    )
    assert (result.rows, result.created, result.unchanged) == (4, 3, 1)
    assert run.kind == "assortment" and run.status == "applied"
    assert offered(shelf["shop"])["B-2"] == (False, None)
    assert offered(shelf["shop"])["A-1"] == (True, 10)
    assert offered(shelf["market"])["W-3"] == (False, None)
    assert offered(shelf["market"])["A-1"] == (True, None)
    events = {
        e.object_id: e.after for e in AuditEvent.objects.filter(action="channel_assortment_set")
    }
    assert events[str(shelf["shop"].pk)]["products"] == 2
    assert events[str(shelf["market"].pk)] == {
        "products": 1,
        "offered": 0,
        "withheld": 1,
        "skus": ["W-3"],
        "more_skus": 0,
    }
    # only the channel that sends gets the push queued
    assert sorted(PendingPush.objects.values_list("channel__code", "product__sku")) == [
        ("shop", "A-1"),
        ("shop", "B-2"),
    ]


def test_max_units_may_be_left_out_of_the_header(shelf, ingest):
    ingest("assortment", "channel,sku_id,publish\nshop,B-2,no\n")
    assert offered(shelf["shop"])["B-2"] == (False, None)


@pytest.mark.parametrize(
    "line, message",
    [
        ("shop,B-2,maybe,", "assortment.csv:2: publish: 'maybe' is not yes or no"),
        ("shop,B-2,,", "assortment.csv:2: publish: is required"),
        ("shop,B-2,no,-1", "assortment.csv:2: max_units: '-1' is negative"),
        ("shop,B-2,no,2.5", "assortment.csv:2: max_units: '2.5' is not a whole number"),
        ("shop,B-2,no,lots", "assortment.csv:2: max_units: 'lots' is not a number"),
        ("nowhere,B-2,no,", "assortment.csv:2: channel: unknown channel 'nowhere'"),
        ("shop,ZZ-9,no,", "assortment.csv:2: sku_id: unknown SKU 'ZZ-9'"),
        (",B-2,no,", "assortment.csv:2: channel: is required"),
        ("shop,,no,", "assortment.csv:2: sku_id: is required"),
    ],
)
def test_each_bad_cell_is_named_and_nothing_is_applied(shelf, ingest, line, message):
    with pytest.raises(FileRejected) as rejected:
        ingest("assortment", HEADER + "shop,A-1,no,\n" + line + "\n", name="assortment.csv")
    assert [str(e).rsplit("/", 1)[-1] for e in rejected.value.errors] == [
        message.replace(":2:", ":3:")
    ]
    assert not ChannelAssortment.objects.exists()
    assert not PendingPush.objects.exists()
    assert IngestRun.objects.get(kind="assortment").status == "rejected"


def test_the_same_channel_and_sku_twice_is_an_error_naming_the_first_line(shelf, ingest):
    with pytest.raises(FileRejected) as rejected:
        ingest("assortment", HEADER + "shop,A-1,no,\nmarket,A-1,no,\nshop,A-1,yes,\n")
    assert [f"{e.line}: {e.column}: {e.reason}" for e in rejected.value.errors] == [
        "4: sku_id: 'A-1' on shop is also on line 2"
    ]
    assert not ChannelAssortment.objects.exists()


def test_a_file_without_the_publish_column_is_refused(shelf, ingest):
    with pytest.raises(FileRejected) as rejected:
        ingest("assortment", "channel,sku_id\nshop,A-1\n")
    assert [(e.column, e.reason) for e in rejected.value.errors] == [
        ("publish", "required column is missing from the header")
    ]
