"""The demo's day, played (orchestration.demo.plan plans it): orders are placed through IMS's
real webhook endpoint over HTTP (a WSGI server on 127.0.0.1 for the day, each delivery signed
as the vendor signs it), people act through the services as the demo's users, the Shopify
channel pushes to its stand-in shop, and the SLA sweep runs at the day's end.

The orders arrive within a minute; each is then dated back to when the plan says it was
placed (the order and its SLA clocks, nothing else: the ledger and the audit trail keep the
real times), so the day ends with clocks on time, in warning and breached.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.db.models import F

from catalog.models import Product
from channels.models import Channel, SyncMode, SyncRun, SyncTrigger
from channels.sync.engine import sync, sync_pending
from erp.models import ErpKind, ErpSource
from erp.services.reset import erp_reset
from ims.audit import audit_origin, audit_record
from ims.http import http_client
from inventory.models import Location
from inventory.services.stock import stock_receive, stock_write_off
from inventory.services.transfers import transfer_send
from inventory.services.vendor_returns import (
    credit_note_record,
    vendor_return_close,
    vendor_return_create,
)
from notifications.models import MessageTemplate, TemplateStatus
from notifications.services.prescriptions import prescription_attach
from orchestration.demo.plan import FIRST_ORDER
from orchestration.demo.standin import CHANNEL, shopify_standin, standin_url
from orders.models import ChannelOrder
from orders.providers.base import LineIn, PosSaleIn
from orders.services.fulfilment import order_dispatch
from orders.services.pos import pos_sale_record
from orders.services.returns import customer_return_receive
from sla.models import SlaClock
from sla.services import order_acknowledge, sla_sweep

# The webhook secrets of the demo's channels (a real shop's are set in the environment).
SECRETS = {
    "IMS_CHANNEL_SHOPIFY_WEBHOOK_SECRET": "demo-shopify-webhook-secret",
    "IMS_CHANNEL_WOOCOMMERCE_WEBHOOK_SECRET": "demo-woocommerce-webhook-secret",
}


def demo_secrets() -> None:
    """The demo channels' secrets, unless the environment already names them."""
    for name, value in SECRETS.items():
        os.environ.setdefault(name, value)


def customer_phone(order_id: int) -> str:
    """The demo customer's phone for an order: +1 415 555 and the order's last four digits."""
    return f"+1415555{order_id % 10000:04d}"


def day_played() -> bool:
    """Whether this database has the demo's day already (its first order is there)."""
    return ChannelOrder.objects.filter(channel__code=CHANNEL, external_id=str(FIRST_ORDER)).exists()


def day_play(plan: dict, *, folder: Path, say: Callable[[str], None] = print) -> None:
    """Play the planned day against this database (after load_demo has ingested the files in
    `folder`)."""
    demo_secrets()
    at = dt.datetime.fromisoformat(plan["at"])
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="demo-")}
    store, admin = users["demo-store"], users["demo-admin"]
    with (
        audit_origin("demo day"),
        shopify_standin(),
        _ims_served() as url,
        http_client(base_url=url) as ims,
    ):
        _channel_push(admin)
        for order in plan["orders"]:
            _place(ims, order, at)
        orders = {
            o.external_id: o
            for o in ChannelOrder.objects.filter(
                external_id__in=[str(o["id"]) for o in plan["orders"]]
            )
        }
        for order in plan["orders"]:
            placed = at - dt.timedelta(minutes=order["placed_minutes_ago"])
            _date_back(orders[str(order["id"])], placed)
        for order in plan["orders"]:
            for step in order["then"]:
                _act(ims, order, step, orders[str(order["id"])], at, store)
        sale = plan["pos_sale"]
        pos_sale_record(
            channel=Channel.objects.get(code="pos"),
            incoming=PosSaleIn(
                external_id=sale["receipt"],
                location=sale["location"],
                lines=tuple(
                    LineIn(external_id=f"{sale['receipt']}-{n}", sku=sku, quantity=q)
                    for n, (sku, q) in enumerate(sale["lines"], start=1)
                ),
            ),
            actor=store,
        )
        off = plan["write_off"]
        warehouse = Location.objects.get(code=off["location"])
        stock_write_off(
            product_id=Product.objects.get(sku=off["sku"]).pk,
            location_id=warehouse.pk,
            quantity=off["quantity"],
            actor=store,
            reason="inspected: broken seal, back to the vendor",
        )
        finance = users["demo-finance"]
        for back in plan["vendor_returns"]:
            sent_back = vendor_return_create(
                vendor=back["vendor"],
                location=Location.objects.get(code=back["location"]),
                tracking_number=back["tracking_number"],
                lines=[(Product.objects.get(sku=sku).pk, q) for sku, q in back["lines"]],
                actor=store,
                reason="damaged in a customer's return",
            )
            if note := back.get("credit_note"):
                vendor_return_close(
                    vendor_return=sent_back,
                    credit_note=credit_note_record(
                        vendor=back["vendor"],
                        number=note["number"],
                        amount=Decimal(note["amount"]),
                        currency="USD",
                        issued_on=at.date(),
                        actor=finance,
                    ),
                    actor=finance,
                )
        _templates_approved(admin)
        prescription_attach(
            order=orders[str(plan["prescription"]["order"])],
            upload=SimpleUploadedFile("prescription.pdf", PRESCRIPTION_PDF, "application/pdf"),
            actor=store,
        )
        handed = plan["store_return"]
        half = next(o for o in plan["orders"] if o["id"] == handed["order"])
        customer_return_receive(
            order=orders[str(handed["order"])],
            location=Location.objects.get(code=handed["location"]),
            lines=[(half["lines"][0][0], handed["units"])],
            reference="NYC-RET-0007",
            reason="wrong colour",
            actor=store,
        )
        moved = plan["transfer"]
        transfer_send(
            source=Location.objects.get(code=moved["from"]),
            destination=Location.objects.get(code=moved["to"]),
            lines=[(Product.objects.get(sku=moved["sku"]).pk, moved["quantity"])],
            actor=store,
            reason="restock the San Francisco store",
        )
        delivery = plan["receipt"]
        stock_receive(
            product_id=Product.objects.get(sku=delivery["sku"]).pk,
            location_id=Location.objects.get(code=delivery["location"]).pk,
            quantity=delivery["quantity"],
            reference=delivery["reference"],
            actor=store,
        )
        reset = plan["erp_reset"]
        source, _ = ErpSource.objects.get_or_create(
            code=reset["source"],
            defaults={
                "name": "Retail Pro (HQ)",
                "kind": ErpKind.RETAILPRO,
                "base_url": str(folder),
            },
        )
        summary = erp_reset(
            path=folder / reset["file"],
            as_of=at,
            source=source,
            actor=admin,
            variance_out=folder / "erp-variance.csv",
        )
        say(f"  day: ERP reset #{summary.run.pk} applied: {summary.run.changed} level(s) changed")
        shopify = Channel.objects.get(code=CHANNEL)
        sync_pending(channel=shopify)  # whatever a stock change left queued goes out now
        pushes = SyncRun.objects.filter(channel=shopify, trigger=SyncTrigger.STOCK_CHANGED)
        say(f"  day: {pushes.count()} stock-change pushes to the stand-in shop")
        outcome = sync(channel=shopify, mode=SyncMode.DRY_RUN, record_exceptions=False)
        planned = sum(r.planned for r in outcome.runs)
        say(f"  day: a dry-run sync of {CHANNEL} plans {planned} change(s), sending none")
        swept = sla_sweep(now=at)
        say(
            f"  day: {len(plan['orders'])} orders placed through the webhook endpoint; the SLA "
            f"sweep: {swept.warnings} warning(s), {swept.breaches} breach(es), "
            f"{swept.steps} ladder step(s), {swept.notified} notified"
        )


# A one-page PDF saying what it is (the demo's prescription).
PRESCRIPTION_PDF = b"""%PDF-1.4
1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj
4 0 obj<</Length 58>>stream
BT /F1 14 Tf 20 70 Td (IMS demo prescription: order 5001) Tj ET
endstream endobj
5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj
trailer<</Root 1 0 R>>
%%EOF
"""


def _templates_approved(actor) -> None:
    """The demo's WhatsApp templates as Meta would have approved them (an admin marks each)."""
    for template in MessageTemplate.objects.exclude(status=TemplateStatus.APPROVED):
        before = {"status": template.status}
        template.status = TemplateStatus.APPROVED
        template.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="message_template_approved",
            obj=template,
            before=before,
            after={"status": template.status},
            reason="the demo: approved by Meta",
        )


def _channel_push(actor) -> None:
    """The demo's Shopify channel sells through its stand-in shop, in push mode."""
    channel = Channel.objects.get(code=CHANNEL)
    before = {"sync_mode": channel.sync_mode, "base_url": channel.base_url}
    channel.sync_mode, channel.base_url = SyncMode.PUSH, standin_url()
    channel.save(update_fields=["sync_mode", "base_url"])
    audit_record(
        actor=actor,
        action="channel_change",
        obj=channel,
        before=before,
        after={"sync_mode": channel.sync_mode, "base_url": channel.base_url},
        reason="the demo's stand-in shop",
    )


def _date_back(order: ChannelOrder, placed: dt.datetime) -> None:
    """Date the order and its running clocks back to when it was placed."""
    clocks = SlaClock.objects.filter(order=order)
    first = clocks.order_by("started_at").values_list("started_at", flat=True).first()
    ChannelOrder.objects.filter(pk=order.pk).update(placed_at=placed)
    if first is None:
        return
    shift = first - placed
    clocks.update(
        started_at=F("started_at") - shift,
        warn_at=F("warn_at") - shift,
        due_at=F("due_at") - shift,
        next_at=F("next_at") - shift,
    )


def _act(ims: httpx.Client, order: dict, step: str, placed: ChannelOrder, at, actor) -> None:
    what, _, units = step.partition(":")
    sku = order["lines"][0][0]
    if what == "acknowledge":
        order_acknowledge(order=placed, actor=actor)
    elif what == "dispatch":
        order_dispatch(
            order=placed, items=[(sku, int(units))], actor=actor, tracking_number="DEMO-TRACK"
        )
    elif what == "cancel":
        _post(ims, "shopify", _shopify_order(order, at, cancelled=True), "orders/cancelled")
    elif what == "return":
        body = _shopify_order(order, at)
        refund = {
            "id": order["id"] * 10,
            "order_id": order["id"],
            "created_at": _iso(at),
            "processed_at": _iso(at),
            "note": "wrong size",
            "restock": True,
            "refund_line_items": [
                {
                    "id": order["id"] * 100,
                    "line_item_id": body["line_items"][0]["id"],
                    "quantity": int(units),
                    "restock_type": "return",
                    "line_item": body["line_items"][0],
                }
            ],
        }
        _post(ims, "shopify", refund, "refunds/create")


def _place(ims: httpx.Client, order: dict, at: dt.datetime) -> None:
    if order["channel"] == "shopify":
        _post(ims, "shopify", _shopify_order(order, at), "orders/create")
    else:
        _post(ims, "woocommerce", _woo_order(order, at), "order.created")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _shopify_order(order: dict, at: dt.datetime, *, cancelled: bool = False) -> dict:
    """The order as Shopify's webhook carries it (REST body)."""
    placed = at - dt.timedelta(minutes=order["placed_minutes_ago"])
    return {
        "id": order["id"],
        "admin_graphql_api_id": f"gid://shopify/Order/{order['id']}",
        "name": f"#{order['id']}",
        "email": "customer@example.com",
        "phone": customer_phone(order["id"]),
        "created_at": _iso(placed),
        "updated_at": _iso(dt.datetime.now(dt.UTC)),
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": None,
        "cancelled_at": _iso(at) if cancelled else None,
        "cancel_reason": "customer" if cancelled else None,
        "line_items": [
            {
                "id": order["id"] * 100 + n,
                "variant_id": order["id"] * 1000 + n,
                "product_id": order["id"] * 1000,
                "title": sku,
                "sku": sku,
                "quantity": quantity,
                "requires_shipping": True,
                "gift_card": False,
                "fulfillable_quantity": quantity,
            }
            for n, (sku, quantity) in enumerate(order["lines"])
        ],
    }


def _woo_order(order: dict, at: dt.datetime) -> dict:
    """The order as WooCommerce's webhook carries it (the REST v3 order)."""
    placed = at - dt.timedelta(minutes=order["placed_minutes_ago"])
    naive = placed.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    return {
        "id": order["id"],
        "parent_id": 0,
        "number": str(order["id"]),
        "status": "processing",
        "currency": "USD",
        "date_created_gmt": naive.isoformat(),
        "date_modified_gmt": dt.datetime.now(dt.UTC)
        .replace(tzinfo=None, microsecond=0)
        .isoformat(),
        "line_items": [
            {
                "id": order["id"] * 10 + n,
                "name": sku,
                "product_id": order["id"] * 100 + n,
                "variation_id": 0,
                "quantity": quantity,
                "sku": sku,
            }
            for n, (sku, quantity) in enumerate(order["lines"])
        ],
        "refunds": [],
    }


def _post(ims: httpx.Client, channel: str, payload: dict, topic: str) -> None:
    """Deliver one webhook as its vendor does: the raw body signed with the channel's secret."""
    body = json.dumps(payload).encode()
    secret = os.environ[f"IMS_CHANNEL_{channel.upper()}_WEBHOOK_SECRET"].encode()
    signature = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
    if channel == "shopify":
        headers = {
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": "ims-demo.myshopify.com",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        }
    else:
        resource, _, event = topic.partition(".")
        headers = {
            "X-WC-Webhook-Source": "https://wholesale.example.com/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": signature,
            "X-WC-Webhook-ID": "1",
            "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        }
    headers["Content-Type"] = "application/json"
    answer = ims.post(f"/webhooks/{channel}/", content=body, headers=headers)
    if answer.status_code >= 300:
        raise RuntimeError(
            f"the demo's {topic} for {channel} was answered {answer.status_code}: {answer.text[:300]}"
        )


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        return None


@contextlib.contextmanager
def _ims_served() -> Iterator[str]:
    """IMS itself on 127.0.0.1 (a free port) for the day's webhooks."""
    server = make_server(
        "127.0.0.1", 0, WSGIHandler(), server_class=WSGIServer, handler_class=_Quiet
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
