"""ERP source adapters against local fakes of each vendor's API, and the pull that feeds
their catalog, prices and stock through the same ingests and reset as a file."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import httpx
import pytest

from catalog.models import Product
from erp.adapters import adapter_for
from erp.adapters.base import CatalogItem, PriceRow, StockRow
from erp.errors import ErpUnreachable
from erp.models import ErpSource, ExportRun
from erp.services.export import erp_export
from inventory.models import Location, LocationAlias, Movement
from orchestration.erp import erp_pull
from orders.services.fulfilment import order_dispatch
from tests.erp import fakes
from tests.erp.conftest import at, levels, read_csv

pytestmark = pytest.mark.django_db

NS_SECRETS = {
    "consumer_key": "ck-123",
    "consumer_secret": "cs-456",
    "token_id": "tk-789",
    "token_secret": "ts-012",
}


@pytest.fixture
def erp_env(monkeypatch):
    for name, value in NS_SECRETS.items():
        monkeypatch.setenv(f"IMS_ERP_NS_{name.upper()}", value)
    monkeypatch.setenv("IMS_ERP_ODOO_API_KEY", "odoo-key")
    monkeypatch.setenv("IMS_ERP_SAP_USERNAME", "manager")
    monkeypatch.setenv("IMS_ERP_SAP_PASSWORD", "1234")
    monkeypatch.setenv("IMS_ERP_FB_USERNAME", "admin")
    monkeypatch.setenv("IMS_ERP_FB_PASSWORD", "fb-pass")
    monkeypatch.setattr("time.sleep", lambda seconds: None)


def source(code, kind, base_url, **options) -> ErpSource:
    return ErpSource.objects.create(
        code=code, name=code, kind=kind, base_url=base_url, options=options
    )


def test_netsuite_signs_every_call_and_reads_past_the_100000_row_cap(erp_env, monkeypatch):
    monkeypatch.setattr("erp.adapters.netsuite.PAGE", 2)
    monkeypatch.setattr("erp.adapters.netsuite.QUERY_CAP", 4)
    items = [
        {
            "id": i,
            "itemid": f"NS-{i}",
            "displayname": f"Item {i}",
            "upccode": "",
            "isinactive": "F",
            "cost": "2.50",
        }
        for i in range(1, 8)
    ]
    stock = [
        {"item": i, "location_id": loc, "sku": f"NS-{i}", "location": name, "quantity": 3 * i}
        for i in range(1, 4)
        for loc, name in ((1, "East"), (2, "West"))
    ]
    prices = [
        {"item": i, "sku": f"NS-{i}", "price": "9.99", "currency": "USD", "currency_id": 1}
        for i in range(1, 3)
    ]
    fake = fakes.NetSuite(items=items, stock=stock, prices=prices, secrets=NS_SECRETS)
    fake.CAP = 4
    ns = source(
        "ns", "netsuite", "https://1234567-sb1.suitetalk.api.netsuite.com", account="1234567_SB1"
    )
    adapter = adapter_for(ns, transport=fake.transport)
    try:
        catalog = list(adapter.fetch_catalog())
        rows = list(adapter.fetch_stock())
        price_rows = list(adapter.fetch_prices())
    finally:
        adapter.close()
    assert [c.sku for c in catalog] == [f"NS-{i}" for i in range(1, 8)]
    assert catalog[0] == CatalogItem(sku="NS-1", name="Item 1", cost=Decimal("2.50"))
    assert rows == [
        StockRow(f"NS-{i}", name, 3 * i) for i in range(1, 4) for name in ("East", "West")
    ]
    assert price_rows == [
        PriceRow("NS-1", "USD", Decimal("9.99")),
        PriceRow("NS-2", "USD", Decimal("9.99")),
    ]
    # Seven items through a cap of four: a second query started after the last id seen.
    item_queries = [q for q in fake.queries if "FROM item " in q]
    assert item_queries[0].endswith("WHERE id > 0 ORDER BY id")
    assert item_queries[-1].endswith("WHERE id > 4 ORDER BY id")
    # The stock query restarted at the item cut at the cap, dropping what it had already read.
    assert any("iil.item >= 2" in q for q in fake.queries)


def test_netsuite_with_a_wrong_secret_is_refused_by_the_signature_check(erp_env, monkeypatch):
    monkeypatch.setenv("IMS_ERP_NS_TOKEN_SECRET", "not-it")
    fake = fakes.NetSuite(items=[], stock=[], prices=[], secrets=NS_SECRETS)
    ns = source(
        "ns", "netsuite", "https://1234567-sb1.suitetalk.api.netsuite.com", account="1234567_SB1"
    )
    adapter = adapter_for(ns, transport=fake.transport)
    with pytest.raises(ErpUnreachable) as refused:
        list(adapter.fetch_catalog())
    assert "answered 401" in refused.value.message and "not-it" not in refused.value.message


def test_a_missing_secret_is_named(monkeypatch):
    ns = source("ns", "netsuite", "https://x.example")
    with pytest.raises(ErpUnreachable) as refused:
        adapter_for(ns)
    assert refused.value.message == "ERP source ns: the secret IMS_ERP_NS_CONSUMER_KEY is not set"


def test_odoo_reads_products_prices_and_quants_summed_per_location(erp_env, monkeypatch):
    monkeypatch.setattr("erp.adapters.odoo.PAGE", 2)
    products = [
        {
            "id": 1,
            "default_code": "OD-1",
            "name": "Desk",
            "barcode": "4006381333931",
            "uom_id": [1, "Units"],
            "standard_price": 40.0,
            "categ_id": [3, "All / Office"],
            "active": True,
            "list_price": 99.5,
            "currency_id": [2, "EUR"],
        },
        {
            "id": 2,
            "default_code": "OD-2",
            "name": "Lamp",
            "barcode": False,
            "uom_id": [1, "Units"],
            "standard_price": 4.0,
            "categ_id": [3, "All / Office"],
            "active": False,
            "list_price": 12.0,
            "currency_id": [2, "EUR"],
        },
        {
            "id": 3,
            "default_code": "OD-3",
            "name": "Chair",
            "barcode": False,
            "uom_id": [1, "Units"],
            "standard_price": 20.0,
            "categ_id": [3, "All / Office"],
            "active": True,
            "list_price": 45.0,
            "currency_id": [2, "EUR"],
        },
    ]
    quants = [
        {
            "id": 10,
            "product_id": [1, "[OD-1] Desk"],
            "location_id": [8, "WH/Stock"],
            "quantity": 3.0,
        },
        {
            "id": 11,
            "product_id": [1, "[OD-1] Desk"],
            "location_id": [8, "WH/Stock"],
            "quantity": 2.0,
        },
        {
            "id": 12,
            "product_id": [1, "[OD-1] Desk"],
            "location_id": [9, "SHOP/Stock"],
            "quantity": 1.0,
        },
        {
            "id": 13,
            "product_id": [3, "[OD-3] Chair"],
            "location_id": [8, "WH/Stock"],
            "quantity": 7.0,
        },
    ]
    fake = fakes.Odoo(products=products, quants=quants)
    odoo = source("odoo", "odoo", "https://retail.odoo.example", database="retail")
    adapter = adapter_for(odoo, transport=fake.transport)
    catalog = list(adapter.fetch_catalog())
    assert [(c.sku, c.active, c.category, c.cost) for c in catalog] == [
        ("OD-1", True, "All / Office", Decimal("40.0")),
        ("OD-2", False, "All / Office", Decimal("4.0")),
        ("OD-3", True, "All / Office", Decimal("20.0")),
    ]
    assert next(iter(adapter.fetch_prices())) == PriceRow("OD-1", "EUR", Decimal("99.5"))
    assert list(adapter.fetch_stock()) == [
        StockRow("OD-1", "WH/Stock", 5),
        StockRow("OD-1", "SHOP/Stock", 1),
        StockRow("OD-3", "WH/Stock", 7),
    ]
    first = fake.requests[0]
    assert first.url.path == "/json/2/product.product/search_read"
    assert first.headers["Authorization"] == "bearer odoo-key"
    assert first.headers["X-Odoo-Database"] == "retail"


def test_fishbowl_logs_in_pages_parts_and_inventory_by_location_group_and_logs_out(erp_env):
    parts = [
        {
            "id": 29,
            "number": "FB-1",
            "description": "Bike",
            "type": "Inventory",
            "uom": {"id": 1, "name": "Each", "abbreviation": "ea"},
            "upc": "",
            "active": True,
        },
        {
            "id": 31,
            "number": "FB-2",
            "description": "Frame",
            "type": "Inventory",
            "uom": {"id": 1, "name": "Each", "abbreviation": "ea"},
            "upc": "",
            "active": True,
        },
        {
            "id": 33,
            "number": "FB-3",
            "description": "Chain",
            "type": "Inventory",
            "uom": {"id": 1, "name": "Each", "abbreviation": "ea"},
            "upc": "",
            "active": False,
        },
    ]
    inventory = {
        1: [
            {
                "id": 28,
                "partNumber": "FB-1",
                "quantity": "242",
                "partDescription": "Bike",
                "uom": {"id": 1, "name": "Each", "abbreviation": "ea"},
            }
        ],
        2: [
            {
                "id": 36,
                "partNumber": "FB-1",
                "quantity": "46",
                "partDescription": "Bike",
                "uom": {"id": 1, "name": "Each", "abbreviation": "ea"},
            }
        ],
    }
    fake = fakes.Fishbowl(parts=parts, inventory=inventory)
    fb = source(
        "fb", "fishbowl", "https://fishbowl.example:2456", location_groups={"1": "Main", "2": "SLC"}
    )
    adapter = adapter_for(fb, transport=fake.transport)
    try:
        assert [(c.sku, c.uom, c.active) for c in adapter.fetch_catalog()] == [
            ("FB-1", "ea", True),
            ("FB-2", "ea", True),
            ("FB-3", "ea", False),
        ]
        assert list(adapter.fetch_stock()) == [
            StockRow("FB-1", "Main", 242),
            StockRow("FB-1", "SLC", 46),
        ]
        assert list(adapter.fetch_prices()) == []
    finally:
        adapter.close()
    assert fake.paths()[0] == "POST /api/login" and fake.paths()[-1] == "POST /api/logout"
    assert [
        r.url.params.get("pageNumber") for r in fake.requests if r.url.path == "/api/parts"
    ] == ["1", "2"]


def test_the_http_helper_retries_a_429_honouring_retry_after(erp_env, monkeypatch):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(503),
            httpx.Response(200, json=[]),
        ]
    )
    odoo = source("odoo", "odoo", "https://retail.odoo.example", database="retail")
    adapter = adapter_for(odoo, transport=httpx.MockTransport(lambda request: next(answers)))
    assert list(adapter.fetch_catalog()) == []
    assert waits == [3.0, 1.0]


def test_no_secret_of_an_erp_call_reaches_a_log_line_or_its_error(erp_env, caplog):
    caplog.set_level(logging.DEBUG, logger="ims.erp")
    answers = iter([httpx.Response(503), httpx.Response(400, text="bad domain")])
    odoo = source("odoo", "odoo", "https://admin:db-pass@retail.odoo.example", database="retail")
    adapter = adapter_for(odoo, transport=httpx.MockTransport(lambda request: next(answers)))
    with pytest.raises(ErpUnreachable) as refused:
        adapter.http.json("GET", "json/2/product.product/search_read?api_key=odoo-key")
    assert "answered 400: bad domain" in refused.value.message
    assert "search_read" in caplog.text and "503" in caplog.text
    for text in (caplog.text, refused.value.message):
        assert "odoo-key" not in text and "db-pass" not in text


# ---------------------------------------------------------------------------
# The pull: SAP Business One end to end, and a Retail Pro file drop


SAP_ITEMS = [
    {
        "ItemCode": code,
        "ItemName": name,
        "BarCode": barcode,
        "Valid": "tYES",
        "InventoryUOM": "EA",
        "ItemWarehouseInfoCollection": [
            {"WarehouseCode": "01", "InStock": ny, "Committed": 0.0, "Ordered": 0.0},
            {"WarehouseCode": "02", "InStock": nsh, "Committed": 0.0, "Ordered": 0.0},
        ],
        "ItemPrices": [
            {"PriceList": 1, "Price": price, "Currency": "USD", "BasePriceList": 1, "Factor": 1.0},
            {"PriceList": 2, "Price": 1.0, "Currency": "USD", "BasePriceList": 1, "Factor": 1.0},
        ],
    }
    for code, name, barcode, ny, nsh, price in (
        ("A", "A from SAP", "4006381333900", 10.0, 10.0, 6.0),
        ("B", "B", "4006381333917", 10.0, 10.0, 5.0),
        ("C", "C", "4006381333924", 5.0, 5.0, 5.0),
        ("Z-NOT-IN-IMS", "Old", "", 99.0, 99.0, 1.0),
    )
]


@pytest.fixture
def sap(seed_world, erp_env):
    LocationAlias.objects.create(location=Location.objects.get(code="NY"), scope="sap", code="01")
    LocationAlias.objects.create(location=Location.objects.get(code="NSH"), scope="sap", code="02")
    erp = source(
        "sap", "sap_b1", "https://sap.example:50000/b1s/v1", company_db="SBODEMOUS", price_list=1
    )
    erp.alias_scope = "sap"
    erp.save()
    return erp, fakes.SapB1(items=SAP_ITEMS)


def test_an_sap_pull_applies_catalog_prices_and_stock_through_the_ingests_and_the_reset(
    sap, shop_order, tmp_path
):
    erp, fake = sap
    order = shop_order(830, [("A", 2), ("B", 2), ("C", 2)])
    order_dispatch(order=order, items=[("A", 2), ("B", 2)], now=at(0, 9))
    fake.expire_after_login = True  # the session lapses once mid-read: IMS logs in again

    result = erp_pull(
        source=erp, now=at(1, 7), variance_out=tmp_path / "v.csv", transport=fake.transport
    )

    # The seed's answer, from SAP's warehouses 01/02 mapped to New York and Nashville.
    assert levels() == {
        ("A", "NY"): 8,
        ("A", "NSH"): 10,
        ("B", "NY"): 8,
        ("B", "NSH"): 10,
        ("C", "NY"): 5,
        ("C", "NSH"): 5,
    }
    assert result.reset.run.source == erp and result.reset.run.skipped == {"unknown SKU": 2}
    a = Product.objects.get(sku="A")
    assert (a.name, a.price) == ("A from SAP", Decimal("6.00"))
    assert not Product.objects.filter(sku="Z-NOT-IN-IMS").exists()
    assert read_csv(result.files["stock"])[:3] == [
        ["sku_id", "location", "quantity"],
        ["A", "01", "10"],
        ["A", "02", "10"],
    ]
    assert [p for p in fake.paths() if p.endswith("Login")] == ["POST /b1s/v1/Login"] * 2
    assert fake.paths()[-1] == "POST /b1s/v1/Logout"
    erp.refresh_from_db()
    assert erp.last_pulled_at == at(1, 7)


def test_the_hand_over_goes_to_sap_as_a_goods_issue_and_is_marked(
    sap, shop_order, tmp_path, monkeypatch
):
    _erp, fake = sap
    order = shop_order(1, [("A", 2)])
    order_dispatch(order=order, items=[("A", 2)], now=at(0, 9))
    monkeypatch.setattr(
        "erp.services.export.adapter_for",
        lambda source, transport=None: _sap_adapter(source, fake),
    )
    run = erp_export(out_dir=tmp_path, now=at(0, 22))
    assert run.by_kind == {"shipment": 1} and "InventoryGenExits 1 (1 lines)" in run.sources["sap"]
    ((entity, document),) = fake.documents
    assert entity == "InventoryGenExits"
    assert document["DocumentLines"] == [{"ItemCode": "A", "Quantity": 2, "WarehouseCode": "01"}]
    assert Movement.objects.get(reason="dispatch").handed_to_erp_at == at(0, 22)


def _sap_adapter(source, fake):
    from erp.adapters import adapter_class, config_of

    return adapter_class(source.kind)(config_of(source, fake.transport))


def test_a_refused_hand_over_marks_nothing(sap, shop_order, tmp_path, monkeypatch):
    _erp, fake = sap
    order = shop_order(1, [("A", 1)])
    order_dispatch(order=order, items=[("A", 1)], now=at(0, 9))
    monkeypatch.setenv("IMS_ERP_SAP_PASSWORD", "wrong")
    monkeypatch.setattr(
        "erp.services.export.adapter_for", lambda source, transport=None: _sap_adapter(source, fake)
    )
    with pytest.raises(ErpUnreachable) as refused:
        erp_export(out_dir=tmp_path / "out", now=at(0, 22))
    assert "Login answered 401" in refused.value.message
    assert not Movement.objects.filter(handed_to_erp_at__isnull=False).exists()
    assert ExportRun.objects.get().status == "failed"
    assert list((tmp_path / "out").iterdir()) == []


def test_a_retail_pro_drop_is_picked_up_by_its_timestamp_applied_and_archived(
    seed_world, tmp_path, shop_order
):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "inventory-20261120T0700Z.csv").write_text("ITEM,STORE,QTY\nA,NY,1\n")
    (drop / "inventory-20261121T0700Z.csv").write_text(
        "ITEM,STORE,QTY\nA,NY,10\nA,NSH,10\nB,NY,10\nB,NSH,10\nC,NY,5\nC,NSH,5\nOLD,NY,4\n"
    )
    erp = source(
        "rp",
        "retailpro",
        str(drop),
        stock_pattern="inventory-*.csv",
        columns={"sku_id": "ITEM", "location": "STORE", "quantity": "QTY"},
    )
    order = shop_order(830, [("A", 2), ("B", 2), ("C", 2)])
    order_dispatch(order=order, items=[("A", 2), ("B", 2)], now=at(0, 9))

    result = erp_pull(source=erp, now=at(1, 7, 30), variance_out=tmp_path / "v.csv")

    assert result.as_of == dt.datetime(2026, 11, 21, 7, 0, tzinfo=dt.UTC)
    assert levels()[("A", "NY")] == 8 and levels()[("C", "NSH")] == 5
    assert result.files["stock"] == drop / "processed" / "inventory-20261121T0700Z.csv"
    assert result.files["stock"].exists()
    assert result.reset.run.skipped == {"unknown SKU": 1}


def test_the_hand_over_is_written_to_a_file_sources_outbox(seed_world, shop_order, tmp_path):
    drop = tmp_path / "drop"
    source("rp", "retailpro", str(drop))
    order = shop_order(1, [("A", 2)])
    order_dispatch(order=order, items=[("A", 2)], now=at(0, 9))
    run = erp_export(out_dir=tmp_path / "reports", now=at(0, 22))
    (outbox_file,) = (drop / "outbox").iterdir()
    assert read_csv(outbox_file) == read_csv(run.files[0])
    assert read_csv(outbox_file)[1][1:] == [
        "shipment",
        f"order:{order.pk}",
        "A",
        "NY",
        "RP-NY",
        "-2",
        Movement.objects.get(reason="dispatch").created_at.isoformat(),
    ]


def test_the_nightly_job_runs_each_source_once_its_time_has_come(
    seed_world, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    from erp.tasks import erp_nightly_due_task

    ran = []
    monkeypatch.setattr(
        "orchestration.erp.erp_pull", lambda *, source, **kw: ran.append(source.code) or _Done()
    )
    monkeypatch.setattr("reconcile.reconcile.reconcile", lambda **kw: ran.append("reconcile"))
    early = source("early", "file", str(tmp_path))
    early.schedule = "06:00"
    early.save()
    late = source("late", "file", str(tmp_path))
    late.schedule = "23:00"
    late.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert erp_nightly_due_task(now=at(1, 7)) == ["early"]
    assert ran == ["early", "reconcile"]
    ErpSource.objects.filter(code="early").update(last_pulled_at=at(1, 7))
    assert erp_nightly_due_task(now=at(1, 8)) == []


class _Done:
    def lines(self):
        return []


def test_the_export_and_pull_commands(seed_world, shop_order, tmp_path, settings):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.IMS_REPORTS_DIR = tmp_path / "reports"
    order = shop_order(1, [("A", 2)])
    order_dispatch(order=order, items=[("A", 2)], now=at(0, 9))
    out = io.StringIO()
    call_command("erp_export", "--out", str(tmp_path / "handover"), stdout=out)
    assert "handed over 1 movement(s) (1 shipment)" in out.getvalue()
    assert len(list((tmp_path / "handover").iterdir())) == 1

    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "stock-20261121T070000Z.csv").write_text(
        "sku_id,location,quantity\nA,NY,10\nA,NSH,10\nB,NY,10\nB,NSH,10\nC,NY,0\nC,NSH,0\n"
    )
    source("rp", "retailpro", str(drop))
    # The file counts as of 7:00 on the 21st, before the hand-over (just now): still variance.
    out = io.StringIO()
    call_command("erp_pull", "rp", stdout=out)
    assert "rp: pulled as of 2026-11-21T07:00:00+00:00" in out.getvalue()
    assert levels()[("A", "NY")] == 8
    assert (tmp_path / "reports" / "variance.csv").exists()
    with pytest.raises(CommandError, match="no ERP source 'nope'"):
        call_command("erp_pull", "nope")
