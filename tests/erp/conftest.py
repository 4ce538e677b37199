"""Fixtures for the ERP side: the seed's Retail Pro world, a reset helper, and the ledger check
after every test."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from erp.services.reset import erp_reset
from inventory.models import StockLevel
from orders.models import ChannelOrder
from tests.orders import payloads as p
from tests.orders.conftest import post, secrets  # noqa: F401 (fixtures)

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # the seed's day; its next morning is the 21st


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A time on the seed's day (0) or a later one."""
    return DAY + dt.timedelta(days=day, hours=hour, minutes=minute)


@pytest.fixture(autouse=True)
def pull_dir(settings, tmp_path):
    """What ERP pulls read goes to the test's own folder."""
    settings.IMS_ERP_PULL_DIR = tmp_path / "pulled"


@pytest.fixture(autouse=True)
def ledger_agrees(request):
    """After every database test here, each level equals the sum of its movements."""
    yield
    if request.node.get_closest_marker("django_db") is None:
        return
    from inventory.services.ledger import ledger_drift

    assert ledger_drift() == []


@pytest.fixture
def seed_world(ingest, secrets):  # noqa: F811
    """The seed at 8:00: SKUs A, B, C; New York (NY) and Nashville (NSH) with 10, 10 / 10, 10 /
    0, 0; one web shop selling from New York first, then Nashville."""
    ingest(
        "locations",
        "code,name,kind,erp_code\nNY,New York,store,RP-NY\nNSH,Nashville,store,RP-NSH\n",
    )
    ingest(
        "channels",
        "code,name,kind,sync_mode,locations,safety_buffer,currency\n"
        "shop,Shop,shopify,push,NY;NSH,0,USD\n",
    )
    ingest(
        "catalog",
        "sku_id,name,barcode,category,uom,cost,mrp,price,currency\n"
        "A,A,4006381333900,x,EA,1.00,9.00,5.00,USD\n"
        "B,B,4006381333917,x,EA,1.00,9.00,5.00,USD\n"
        "C,C,4006381333924,x,EA,1.00,9.00,5.00,USD\n",
        at=at(0, 7),
    )
    ingest(
        "inventory",
        "sku_id,location,quantity\nA,NY,10\nA,NSH,10\nB,NY,10\nB,NSH,10\nC,NY,0\nC,NSH,0\n",
        at=at(0, 8),
    )


@pytest.fixture
def shop_order(post):  # noqa: F811
    def place(order_id: int, lines) -> ChannelOrder:
        body = p.dumps(p.shopify_order(order_id, lines))
        assert post("shop", body, p.shopify_headers(body, "orders/create")).status_code == 200
        return ChannelOrder.objects.get(external_id=str(order_id))

    return place


@pytest.fixture
def reset(csv_file, tmp_path):
    """reset(csv text, as_of=, now=) → the summary; the variance file goes to tmp_path."""

    def run(text: str, *, as_of: dt.datetime, now: dt.datetime | None = None, **kwargs):
        return erp_reset(
            path=csv_file(text, name=kwargs.pop("name", "reset.csv")),
            as_of=as_of,
            now=now or as_of + dt.timedelta(minutes=5),
            variance_out=kwargs.pop("variance_out", tmp_path / "variance.csv"),
            **kwargs,
        )

    return run


def levels(state: str = "available") -> dict[tuple[str, str], int]:
    return {
        (sku, code): value
        for sku, code, value in StockLevel.objects.values_list(
            "product__sku", "location__code", state
        )
    }


def read_csv(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))
