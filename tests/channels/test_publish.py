"""Listings created from IMS (channels.publish): a product IMS has and a channel lacks is
published from IMS, never created on the channel by hand; the next sync reads the new listing
and its Missing_SKU resolves. Here against the Shopify stand-in over real HTTP and the file
drop; each vendor's create call is held to its spec in tests/channels/test_adapter_*.py.

The `world` fixture (tests/conftest.py): `shop` (shopify, push) sells from WH and NYC with no
buffer; `market` (amazon, read only) from WH with a 2-unit buffer; A-1 Shirt 30.00 (MRP 40.00),
B-2 Mug 8.00 (MRP 10.00), W-3 Watch (a luxury category withheld from `market`)."""

from decimal import Decimal

import pytest

from catalog.models import ProductAlias
from channels.models import Channel, ChannelAssortment, ListingPublication
from channels.publish import PublishRefused, listing_publish
from channels.sync.engine import sync
from exceptions.models import Discrepancy, OpsException
from ims.models import AuditEvent
from ims.roles import Role
from reconcile.reconcile import reconcile
from standins.shopify import FakeShopify

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def shop(world, ingest, monkeypatch, settings):
    """`shop` served by the Shopify stand-in, which lists only A-1; IMS has A-1 10 + 2 units,
    B-2 5 at WH, W-3 2 at NYC."""
    settings.IMS_HTTP_BACKOFF_SECONDS = 0.001
    ingest(
        "inventory",
        """
        sku_id,location,quantity
        A-1,WH,10
        A-1,NYC,2
        B-2,WH,5
        W-3,NYC,2
    """,
    )
    fake = FakeShopify(maximum=20000, restore_rate=5000)
    fake.add("A-1", 12, "30.00", mrp="40.00")
    monkeypatch.setenv("IMS_CHANNEL_SHOP_ACCESS_TOKEN", "shpat_test")
    with fake.serve() as url:
        Channel.objects.filter(code="shop").update(base_url=url)
        yield fake


def missing(channel_code="shop"):
    return set(
        OpsException.objects.open()
        .filter(channel__code=channel_code, discrepancy=Discrepancy.MISSING_SKU)
        .values_list("sku_id", "push_status")
    )


def test_a_missing_sku_published_to_shopify_is_read_by_the_next_sync_and_resolves(
    shop, tmp_path, user_with_role
):
    ops = user_with_role(Role.OPS)
    sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path)
    reconcile(out_dir=tmp_path)
    assert missing() == {("B-2", ""), ("W-3", "")}

    outcome = listing_publish(
        channel=Channel.objects.get(code="shop"), skus=["B-2", "W-3"], actor=ops
    )
    assert outcome.summary == "2 published to shop."
    # The shop now lists both, as IMS has them: price, MRP as compare-at price, the ATP.
    b2, w3 = shop.variant("B-2"), shop.variant("W-3")
    assert (b2["price"], b2["compare_at"], b2["available"]) == (
        Decimal("8.00"),
        Decimal("10.00"),
        5,
    )
    assert (w3["price"], w3["available"]) == (Decimal("480.00"), 2)
    # Its ids there are the products' aliases on the channel; the exception says it went out.
    published = {p.product.sku: p for p in ListingPublication.objects.select_related("product")}
    assert published["B-2"].status == "published" and published["B-2"].actor == ops
    assert ProductAlias.objects.filter(
        scope="shop", value=published["B-2"].external_id, product__sku="B-2"
    ).exists()
    assert missing() == {("B-2", "pushed"), ("W-3", "pushed")}
    assert AuditEvent.objects.filter(action="publish_listing", actor=ops).count() == 2

    # The next sync reads the new listings; reconcile finds them and resolves the two.
    sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path)
    reconcile(out_dir=tmp_path)
    assert missing() == set()
    assert not OpsException.objects.open().filter(channel__code="shop").exists()


def test_in_dry_run_the_listing_is_worked_out_and_nothing_is_sent(shop, user_with_role):
    Channel.objects.filter(code="shop").update(sync_mode="dry_run")
    writes = sum(shop.writes.values())
    outcome = listing_publish(
        channel=Channel.objects.get(code="shop"), skus=["B-2"], actor=user_with_role(Role.OPS)
    )
    assert outcome.summary == "Dry run: 1 listing(s) worked out for shop, nothing sent."
    (preview,) = ListingPublication.objects.all()
    assert preview.status == "previewed" and preview.external_id == ""
    assert "productSet" in preview.requests[0]["body"]["query"]
    assert sum(shop.writes.values()) == writes
    with pytest.raises(KeyError):
        shop.variant("B-2")
    assert not ProductAlias.objects.exists()


def test_a_read_only_or_paused_channel_is_refused_with_the_reason(world, user_with_role):
    ops = user_with_role(Role.OPS)
    with pytest.raises(PublishRefused, match="market is read-only"):
        listing_publish(channel=Channel.objects.get(code="market"), skus=["A-1"], actor=ops)
    Channel.objects.filter(code="shop").update(status="paused", pause_reason="oversold A-1")
    with pytest.raises(PublishRefused, match=r"shop is paused \(oversold A-1\)"):
        listing_publish(channel=Channel.objects.get(code="shop"), skus=["A-1"], actor=ops)
    assert not ListingPublication.objects.exists()


def test_what_may_not_be_published_is_left_out_with_the_reason(shop, ingest, user_with_role):
    ops = user_with_role(Role.OPS)
    Channel.objects.filter(code="market").update(sync_mode="push")
    market = Channel.objects.get(code="market")
    ChannelAssortment.objects.create(channel=market, product_id=_pid("B-2"), publish=False)
    ingest("snapshot", "channel,sku_id,quantity,price,currency\nmarket,A-1,8,30.00,USD\n")
    outcome = listing_publish(channel=market, skus=["A-1", "B-2", "W-3", "NOPE-1"], actor=ops)
    assert {(s.sku, s.reason) for s in outcome.skipped} == {
        ("A-1", "market lists it already (as A-1)"),
        ("B-2", "withheld from market by its assortment"),
        ("W-3", "its category (watches) is withheld from market"),
        ("NOPE-1", "IMS has no such SKU"),
    }
    assert outcome.publications == []


def test_a_role_without_the_permission_may_not_publish(shop, user_with_role):
    from ims.errors import NotAllowed

    with pytest.raises(NotAllowed):
        listing_publish(
            channel=Channel.objects.get(code="shop"),
            skus=["B-2"],
            actor=user_with_role(Role.FINANCE),
        )


def test_a_file_drop_channel_gets_a_file_of_new_listings(
    world, ingest, tmp_path, monkeypatch, user_with_role
):
    monkeypatch.setenv("IMS_CHANNEL_SHOP_OUTBOX", str(tmp_path / "outbox"))
    ingest("inventory", "sku_id,location,quantity\nB-2,WH,5\n")
    outcome = listing_publish(
        channel=Channel.objects.get(code="shop"), skus=["B-2"], actor=user_with_role(Role.OPS)
    )
    assert outcome.summary == "1 published to shop."
    (dropped,) = (tmp_path / "outbox").glob("shop-listings-*.csv")
    assert dropped.read_text().splitlines() == [
        "channel,sku_id,name,barcode,quantity,price,currency,mrp",
        "shop,B-2,Mug,036000291452,5,8.00,USD,10.00",
    ]
    # The other side names it by the SKU: no alias is needed.
    assert not ProductAlias.objects.exists()


def _pid(sku):
    from catalog.models import Product

    return Product.objects.get(sku=sku).pk
