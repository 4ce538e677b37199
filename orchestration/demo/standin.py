"""The demo's stand-ins, served on 127.0.0.1 while the demo runs: the Shopify shop (IMS's own
Shopify fake, standins.shopify), holding what the demo's Shopify channel lists (the channel is
in push mode against it, so a push — Push correction, Sync now, the push after an order —
really lands), and WhatsApp's Cloud API (standins.whatsapp), so a customer message (the
prescription code asked for at /rx/) is really sent: the console shows it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

from django.test.utils import override_settings

from channels.models import ChannelListing
from notifications.models import MessageTemplate
from standins import whatsapp
from standins.shopify import FakeShopify

CHANNEL = "shopify"
# The stand-in's access token, as a real shop's would be set (IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN).
TOKEN = "shpat_demo_standin"
DEFAULT_PORT = 8101


def standin_port() -> int:
    return int(os.environ.get("IMS_DEMO_STANDIN_PORT") or DEFAULT_PORT)


def standin_url(port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or standin_port()}"


@contextlib.contextmanager
def shopify_standin(port: int | None = None) -> Iterator[FakeShopify]:
    """Serve the stand-in shop, stocked with the channel's listings as IMS last read them."""
    os.environ.setdefault("IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN", TOKEN)
    # A Plus-sized bucket: the demo's whole-shop reads and pushes are not slowed.
    shop = FakeShopify(
        token=os.environ["IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN"], maximum=100_000, restore_rate=50_000
    )
    for listing in ChannelListing.objects.filter(channel__code=CHANNEL).order_by("identifier"):
        shop.add(listing.identifier, listing.quantity, listing.price, barcode=listing.barcode or "")
    port = port or standin_port()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(shop.serve(port=port))
        except OSError as exc:
            raise OSError(
                f"the demo's stand-in shop cannot listen on 127.0.0.1:{port} ({exc}); "
                "set IMS_DEMO_STANDIN_PORT to a free port"
            ) from exc
        yield shop


@contextlib.contextmanager
def whatsapp_standin(say: Callable[[str], None] = print) -> Iterator[str]:
    """The WhatsApp Cloud API's stand-in (standins.whatsapp), knowing IMS's message templates:
    each message it accepts is printed (the console is the customer's phone). Yields the base
    URL to set as IMS_WHATSAPP_BASE_URL (its number id and token: standins.whatsapp)."""
    api = whatsapp.FakeCloudApi(on_message=lambda body: say(_message_line(body)))
    for template in MessageTemplate.objects.all():
        api.add_template(
            template.name,
            language=template.language,
            body_params=len(template.parameters),
            url_button=bool(template.button_parameter),
        )
    port = int(os.environ.get("IMS_DEMO_WHATSAPP_PORT") or DEFAULT_PORT + 1)
    server, thread = whatsapp.serve(api, port=port)
    try:
        yield api.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _message_line(body: dict) -> str:
    template = body.get("template") or {}
    values = [
        p.get("text", "")
        for c in template.get("components", [])
        if c.get("type") == "body"
        for p in c.get("parameters", [])
    ]
    return f"stand-in WhatsApp → {body.get('to')}: {template.get('name')} {values}"


def demo_whatsapp(url: str):
    """The demo's WhatsApp account is its stand-in (a real one: IMS_WHATSAPP_* set)."""
    return override_settings(
        IMS_WHATSAPP_BASE_URL=url,
        IMS_WHATSAPP_PHONE_NUMBER_ID=whatsapp.PHONE_NUMBER_ID,
        IMS_WHATSAPP_ACCESS_TOKEN=whatsapp.TOKEN,
    )
