"""The demo's stand-in shop: IMS's own Shopify fake (standins.shopify), holding what the demo's
Shopify channel lists, served on 127.0.0.1 while the demo runs. The channel is in push mode
against it, so a push (Push correction, Sync now, the push after an order) really lands."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from channels.models import ChannelListing
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
