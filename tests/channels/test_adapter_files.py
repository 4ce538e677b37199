"""The file adapter: a CSV drop folder in and out, written whole (never half a file), once per plan."""

from decimal import Decimal

from channels.adapters.base import PriceUpdate, StockUpdate
from channels.adapters.files import FileAdapter


def test_reads_the_newest_inbox_file_and_writes_whole_files_once(tmp_path, config):
    adapter = FileAdapter(config("file", outbox=str(tmp_path / "out"), inbox=str(tmp_path / "in")))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(
        "channel,sku_id,quantity,price,currency\nshop,X-1,4,2.50,USD\nother,X-2,1,1.00,USD\n"
    )
    states = list(adapter.fetch_snapshot())
    assert [(s.sku, s.quantity, s.price) for s in states] == [("X-1", 4, Decimal("2.50"))]
    updates = [StockUpdate("X-1", 7, key="9-1")]
    assert adapter.push_inventory(updates)[0].ok
    assert adapter.push_inventory(updates)[0].ok  # a rerun of the same plan
    files = list((tmp_path / "out").iterdir())
    assert len(files) == 1 and not files[0].name.startswith(".")
    assert files[0].read_text() == "channel,sku_id,quantity,price,currency,mrp\nshop,X-1,7,,,\n"
    adapter.push_prices([PriceUpdate("X-1", Decimal("3"), "USD", key="9-2")])
    assert len(list((tmp_path / "out").iterdir())) == 2
