"""Publishing end to end against each vendor's stand-in, over real HTTP: WooCommerce,
BigCommerce, Square, Lightspeed, Amazon and Flipkart (Shopify: tests/channels/test_publish.py).

For each: the channel (push mode) is served by the vendor's fake, which does not list B-2;
a sync and reconcile open B-2's Missing_SKU there; `listing_publish` creates the listing
through the vendor's own create call (each fake holds it to the vendor's spec, see
tests/channels/test_adapter_*.py); the fake then holds B-2 at IMS's price (and MRP where the
vendor shows one) with the channel's ATP, the new listing's id is B-2's alias on the channel,
the Missing_SKU says it was pushed, and the next sync and reconcile find the listing and
resolve it. On Amazon a product whose GTIN the catalogue lacks is not matched: nothing is
written there and its Missing_SKU shows why, in a sentence telling a person what to do.

The `world` fixture (tests/conftest.py): `shop` sells from WH and NYC with no buffer; `market`
(amazon) from WH with a 2-unit buffer; A-1 Shirt 30.00 (MRP 40.00), B-2 Mug 8.00 (MRP 10.00,
barcode 036000291452), W-3 Watch (a category withheld from `market`). Here IMS has B-2 5 at WH.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest

from catalog.models import Product, ProductAlias
from channels.models import Channel, ListingPublication
from channels.publish import listing_publish
from channels.sync.engine import sync
from exceptions.models import Discrepancy, OpsException
from ims.http import _storage
from ims.roles import Role
from reconcile.reconcile import reconcile
from tests.channels.test_adapter_bigcommerce import FakeBigCommerce
from tests.channels.test_adapter_flipkart import FSN, FakeFlipkart
from tests.channels.test_adapter_lightspeed import FakeLightspeed
from tests.channels.test_adapter_woocommerce import FakeWoo
from tests.fakes.amazon import FakeAmazon
from tests.fakes.served import served
from tests.fakes.square import FakeSquare

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def stocked(world, ingest, settings):
    """The world with B-2 5 units at WH (and A-1 10 at WH), retries without waiting, and
    no rate-limit window left over from another test."""
    settings.IMS_HTTP_BACKOFF_SECONDS = 0.001
    _storage().reset()
    ingest(
        "inventory",
        """
        sku_id,location,quantity
        A-1,WH,10
        B-2,WH,5
    """,
    )
    yield
    _storage().reset()


@contextlib.contextmanager
def serve(monkeypatch, code: str, kind: str, fake, env: dict, *, path: str = ""):
    """Serve `fake` as channel `code` of this kind, in push mode, with these credentials
    (IMS_CHANNEL_<CODE>_<NAME>, `{url}` the fake's address); yields the base URL."""
    with served(fake.handle) as url:
        for name, value in env.items():
            monkeypatch.setenv(f"IMS_CHANNEL_{code.upper()}_{name}", value.format(url=url))
        Channel.objects.filter(code=code).update(kind=kind, sync_mode="push", base_url=url + path)
        yield url


def missing(code: str) -> set[tuple[str, str]]:
    """The open Missing_SKU exceptions on the channel: (SKU, push status)."""
    return set(
        OpsException.objects.open()
        .filter(channel__code=code, discrepancy=Discrepancy.MISSING_SKU)
        .values_list("sku_id", "push_status")
    )


def sync_and_reconcile(code: str, tmp_path) -> None:
    outcome = sync(channel=Channel.objects.get(code=code), out_dir=tmp_path)
    assert not outcome.problems, outcome.problems
    assert [run.status for run in outcome.runs] != ["failed"], outcome.runs[0].error
    reconcile(out_dir=tmp_path)


def publish_b2(code: str, tmp_path, ops) -> str:
    """The end-to-end walk for B-2 on channel `code`; returns the new listing's id there."""
    sync_and_reconcile(code, tmp_path)
    assert ("B-2", "") in missing(code)

    outcome = listing_publish(channel=Channel.objects.get(code=code), skus=["B-2"], actor=ops)
    assert outcome.summary == f"1 published to {code}.", [
        (p.status, p.error) for p in outcome.publications
    ]
    (publication,) = outcome.publications
    assert publication.status == "published" and publication.external_id
    assert ProductAlias.objects.filter(
        scope=code, value=publication.external_id, product__sku="B-2"
    ).exists()
    # What was sent is kept with it.
    stored = ListingPublication.objects.get(pk=publication.pk).requests
    assert stored and stored[0]["method"] in ("POST", "PUT"), stored
    assert ("B-2", "pushed") in missing(code)

    sync_and_reconcile(code, tmp_path)
    assert "B-2" not in {sku for sku, _ in missing(code)}
    return publication.external_id


# -- the web shops and POS: the product is created with its price, MRP and count -------------


def woo_b2(fake: FakeWoo):
    (row,) = [p for p in fake.products if p["sku"] == "B-2"]
    # WooCommerce shows the MRP as the regular price and the offer price as the sale price.
    return (
        Decimal(row["sale_price"]),
        Decimal(row["regular_price"]),
        row["stock_quantity"],
    )


def bigcommerce_b2(fake: FakeBigCommerce):
    (variant,) = [v for v in fake.variants if v["sku"] == "B-2"]
    product = fake.products[variant["product_id"]]
    # A new product's price and MRP (its retail price) are the product's, which its one base
    # variant shows (its own are null); the count is the variant's.
    assert (variant["price"], variant["retail_price"]) == (None, None)
    return (
        Decimal(str(product["price"])),
        Decimal(str(product["retail_price"])),
        variant["inventory_level"],
    )


def square_b2(fake: FakeSquare):
    variation = fake.variations[fake.by_sku("B-2")]
    money = variation["item_variation_data"]["price_money"]
    # Square shows no MRP.
    return Decimal(money["amount"]) / 100, None, fake.count(variation["id"])


def lightspeed_b2(fake: FakeLightspeed):
    (product,) = [p for p in fake.products if p["sku"] == "B-2"]
    counts = sorted(
        (r["version"], r["inventory_level"])
        for r in fake.inventory
        if r["product_id"] == product["id"] and r["outlet_id"] == "o1"
    )
    # Lightspeed shows no MRP; the outlet's count is its latest.
    return Decimal(str(product["price_excluding_tax"])), None, counts[-1][1]


SHOPS = {
    "woocommerce": (
        FakeWoo,
        {"CONSUMER_KEY": "ck_1", "CONSUMER_SECRET": "cs_1"},
        "",
        woo_b2,
        (Decimal("8.00"), Decimal("10.00"), 5),
    ),
    "bigcommerce": (
        lambda: FakeBigCommerce(0),
        {"ACCESS_TOKEN": "tok"},
        "/stores/abc123",
        bigcommerce_b2,
        (Decimal("8.00"), Decimal("10.00"), 5),
    ),
    "square": (
        lambda: FakeSquare(token="sq0atp-x"),
        {"ACCESS_TOKEN": "sq0atp-x", "LOCATION_ID": "L1"},
        "",
        square_b2,
        (Decimal("8.00"), None, 5),
    ),
    "lightspeed": (
        lambda: FakeLightspeed(0),
        {"ACCESS_TOKEN": "tok", "OUTLET_ID": "o1"},
        "",
        lightspeed_b2,
        (Decimal("8.00"), None, 5),
    ),
}


@pytest.mark.parametrize("kind", list(SHOPS))
def test_a_missing_sku_published_to_the_shop_is_read_by_the_next_sync_and_resolves(
    kind, stocked, monkeypatch, tmp_path, user_with_role
):
    make, env, path, held, expected = SHOPS[kind]
    fake = make()
    with serve(monkeypatch, "shop", kind, fake, env, path=path):
        publish_b2("shop", tmp_path, user_with_role(Role.OPS))
        # The vendor holds B-2 as IMS has it: price, MRP where it shows one, `shop`'s ATP (5).
        assert held(fake) == expected


# -- the marketplaces: an offer on the catalogue's item --------------------------------------

AMAZON_ENV = {
    "SELLER_ID": "A1SELLER",
    "LWA_CLIENT_ID": "amzn1.application-oa2-client.x",
    "LWA_CLIENT_SECRET": "secret-x",
    "REFRESH_TOKEN": "Atzr|refresh",
    "LWA_URL": "{url}/auth/o2/token",
}


@pytest.fixture
def amazon(stocked, monkeypatch):
    """`market` (amazon, WH, 2-unit buffer) in push mode, served by the Amazon fake, whose
    catalogue has an item for B-2's GTIN and none for A-1's; it lists nothing of ours."""
    fake = FakeAmazon(seller="A1SELLER")
    fake.add_catalog_item(Product.objects.get(sku="B-2").gtin, asin="B0MUG00001")
    with serve(monkeypatch, "market", "amazon", fake, AMAZON_ENV):
        yield fake


def test_a_missing_sku_published_to_amazon_is_an_offer_on_its_catalogue_item_and_resolves(
    amazon, tmp_path, user_with_role
):
    asin = publish_b2("market", tmp_path, user_with_role(Role.OPS))
    assert asin == "B0MUG00001"
    # Amazon holds the offer: IMS's price, the MRP as list price, `market`'s ATP (5 - 2).
    item = amazon.items["B-2"]
    assert (item["asin"], item["price"], item["mrp"], item["quantity"]) == (
        "B0MUG00001",
        Decimal("8.00"),
        Decimal("10.00"),
        3,
    )
    # The call kept with the publication holds the amounts with their digits, never a float.
    (put,) = ListingPublication.objects.get(product__sku="B-2").requests
    kept = put["body"]["attributes"]["list_price"][0]["value"]
    assert isinstance(kept, str) and Decimal(kept) == Decimal("10.00")


def test_a_product_amazon_s_catalogue_lacks_is_unmatched_and_its_missing_sku_says_what_to_do(
    amazon, tmp_path, user_with_role
):
    sync_and_reconcile("market", tmp_path)
    assert ("A-1", "") in missing("market")

    outcome = listing_publish(
        channel=Channel.objects.get(code="market"), skus=["A-1"], actor=user_with_role(Role.OPS)
    )
    (publication,) = outcome.publications
    assert publication.status == "unmatched" and publication.external_id == ""
    assert outcome.summary == "0 published to market; 1 not matched in market's catalogue."
    # Nothing was written to Amazon, and no alias names a listing that does not exist.
    assert amazon.calls["putListingsItem"] == 0 and "A-1" not in amazon.items
    assert not ProductAlias.objects.filter(scope="market").exists()
    exception = OpsException.objects.open().get(
        channel__code="market", discrepancy=Discrepancy.MISSING_SKU, sku_id="A-1"
    )
    assert exception.push_status == "failed"
    assert exception.push_error == (
        "Amazon's catalogue has no item with GTIN 04006381333931: "
        "create it in Seller Central or correct the barcode"
    )


@pytest.fixture
def flipkart(stocked, monkeypatch):
    """`shop` as a Flipkart channel (push, its warehouse location LOCa1) served by the
    Flipkart fake, whose catalogue knows the FSN TSHFZ6GZHYGVRGZH and which lists 25 FK-*
    SKUs, none of IMS's.

    Flipkart lists a seller's offer on its own catalogue product, named by its FSN, and taxes
    it by HSN code: IMS keeps neither as a product field. The FSN is B-2's alias on the
    channel (as ops add it from Flipkart's catalogue) and the HSN its `hsn` attribute,
    which the catalogue import does not carry, so the test sets `Product.attributes`.
    The channel keeps the world's USD (IMS publishes only in the channel's currency; the fake
    does not check it): B-2's 8.00 and 10.00 are whole units, as Flipkart's amounts must be."""
    ProductAlias.objects.create(scope="shop", value=FSN, product=Product.objects.get(sku="B-2"))
    Product.objects.filter(sku="B-2").update(attributes={"hsn": "6912"})
    fake = FakeFlipkart()
    env = {"APP_ID": "app-1", "APP_SECRET": "secret-1", "LOCATION_ID": "LOCa1"}
    with serve(monkeypatch, "shop", "flipkart", fake, env, path="/sellers"):
        yield fake


def test_a_missing_sku_published_to_flipkart_is_listed_on_its_fsn_and_resolves(
    flipkart, tmp_path, user_with_role
):
    fsn = publish_b2("shop", tmp_path, user_with_role(Role.OPS))
    assert fsn == FSN
    # Flipkart holds the listing on the FSN: price and MRP in whole units, `shop`'s ATP.
    listing = flipkart.listings["B-2"]
    assert listing["product_id"] == FSN
    assert (listing["price"]["selling_price"], listing["price"]["mrp"]) == (8, 10)
    assert listing["locations"] == [{"id": "LOCa1", "status": "ENABLED", "inventory": 5}]
    assert listing["tax"] == {"hsn": "6912"}
