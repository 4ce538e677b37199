"""Fixtures for orders: every provider's channel with its secret, stock, and a check after
each test that the ledger and the levels agree."""

from __future__ import annotations

import pytest

from tests.orders.payloads import SECRET

CODES = ("shop", "market", "woo", "bc", "sq", "fk", "store")


@pytest.fixture(autouse=True)
def ledger_agrees(request):
    """After every database test here, each level equals the sum of its movements."""
    yield
    if request.node.get_closest_marker("django_db") is None:
        return
    from inventory.services.ledger import ledger_drift

    assert ledger_drift() == []


@pytest.fixture
def secrets(monkeypatch):
    for code in CODES:
        monkeypatch.setenv(f"IMS_CHANNEL_{code.upper()}_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv(f"IMS_CHANNEL_{code.upper()}_ACCESS_TOKEN", f"token-{code}")


@pytest.fixture
def channels(world, ingest, secrets):
    """world's shop (shopify: WH then NYC) and market (amazon: WH), plus one channel per
    other provider; stock: A-1 5 at WH and 3 at NYC, B-2 10 at WH, W-3 none."""
    ingest(
        "channels",
        """
        code,name,kind,sync_mode,locations,safety_buffer,currency
        shop,Shop,shopify,push,WH;NYC,0,USD
        market,Market,amazon,read_only,WH,2,USD
        woo,Woo,woocommerce,push,WH,0,USD
        bc,BigCommerce,bigcommerce,push,WH,0,USD
        sq,Square,square,push,NYC,0,USD
        fk,Flipkart,flipkart,push,WH,0,INR
        store,Store POS,pos,push,NYC,0,USD
        """,
    )
    ingest(
        "inventory",
        """
        sku_id,location,quantity
        A-1,WH,5
        A-1,NYC,3
        B-2,WH,10
        """,
    )


@pytest.fixture
def post(client):
    """post(code, body bytes, headers) → response, through the real URL."""

    def send(code: str, body: bytes, headers: dict):
        return client.post(
            f"/webhooks/{code}/",
            data=body,
            content_type="application/json",
            headers=headers,
        )

    return send


def level(sku: str, location: str):
    from inventory.models import StockLevel

    return StockLevel.objects.get(product__sku=sku, location__code=location)


@pytest.fixture
def fake_api():
    """A small provider API on 127.0.0.1: fake_api.routes[path] = JSON (a path without a
    query answers it with any query); .requests lists (path, headers) of each call; .url is
    its base."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Api:
        routes: dict = {}
        requests: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            Api.requests.append((self.path, dict(self.headers)))
            # A route is its path: with its query when the route names one, else any query.
            path = self.path if self.path in Api.routes else self.path.partition("?")[0]
            if path not in Api.routes:
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(Api.routes[path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Api.url = f"http://127.0.0.1:{server.server_address[1]}"
    Api.routes, Api.requests = {}, []
    yield Api
    server.shutdown()
    server.server_close()
