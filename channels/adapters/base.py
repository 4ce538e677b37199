"""What every channel adapter speaks: plain dataclasses in and out, the Protocol, the config.

Adapters translate, services decide: an adapter knows its provider's URLs, auth,
payloads, pagination, batching and rate limits, returns these dataclasses, and
never touches the ORM. Credentials come from the environment
(`IMS_CHANNEL_<CODE>_<NAME>`, see Channel.env_prefix) and never reach a log line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from channels.errors import ChannelNotConfigured, ChannelUnreachable, ProviderRefused

QUANTITY = "quantity"
PRICE = "price"
# A plan line for the MRP a channel shows: sent with the offer price, in the same PriceUpdate.
MRP = "mrp"


@dataclass(frozen=True)
class ListingState:
    """What the channel shows for one of its listings now."""

    sku: str
    quantity: int | None
    price: Decimal | None
    currency: str
    external_id: str = ""
    barcode: str = ""
    # Provider ids a later push needs (variant id, inventory item id, version, product type…).
    ref: Mapping[str, Any] = field(default_factory=dict)
    # The MRP the channel shows beside the offer price (Shopify's compare-at price,
    # WooCommerce's regular price under a sale price, BigCommerce's retail price, Amazon's list
    # price, Flipkart's mrp); None where the vendor or this listing shows none.
    mrp: Decimal | None = None


@dataclass(frozen=True)
class StockUpdate:
    """Set the units a channel may sell of one SKU."""

    sku: str
    quantity: int
    # What the channel showed when the plan was made: compare-and-set where the provider has it.
    previous: int | None = None
    ref: Mapping[str, Any] = field(default_factory=dict)
    # Stable per plan line: idempotency keys and file names derive from it, so a rerun sends once.
    key: str = ""


@dataclass(frozen=True)
class PriceUpdate:
    """Set the offer price (and MRP where the provider shows one) of one SKU."""

    sku: str
    price: Decimal
    currency: str
    mrp: Decimal | None = None
    previous: Decimal | None = None
    ref: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""


@dataclass(frozen=True)
class PushResult:
    """The provider's answer for one SKU and field: sent, refused (error), or stale (not sent:
    the channel changed since the plan was made, so an absolute overwrite was refused)."""

    sku: str
    field: str
    ok: bool
    error: str = ""
    stale: bool = False


@dataclass(frozen=True)
class ListingDraft:
    """A product IMS publishes to a channel that does not list it yet: what the vendor's create
    call needs, from the SKU master (a product is created once, in IMS, never on a channel)."""

    sku: str
    name: str
    barcode: str
    # The barcode as a GTIN-14 ('' when the product has none): marketplaces match on it.
    gtin: str
    price: Decimal
    mrp: Decimal | None
    currency: str
    # The channel's ATP of the product now (Channel.atp): the new listing's quantity.
    quantity: int
    category: str = ""
    uom: str = "EA"
    # The product's attributes from the catalog (size, colour, hsn, weight…).
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # The style grouping the product with its variants (catalog.Style code and name; '' for a
    # product on its own): a shop with parent products lists the variant under that parent.
    style: str = ""
    style_name: str = ""
    # Names the channel already has for this product (its aliases scoped to the channel), e.g.
    # a Flipkart FSN or an Amazon ASIN a person chose.
    aliases: tuple[str, ...] = ()
    # Stable per (channel, product): idempotency keys derive from it, so a retry creates once.
    key: str = ""


# The attributes a shop lists a style's variants by (its options), in this order, at most three.
OPTION_NAMES = ("size", "colour", "color", "material")


def variant_options(draft: ListingDraft) -> list[tuple[str, str]]:
    """The draft's option values as (name, value): its attributes named in OPTION_NAMES, the
    name capitalised as shops show it (`size` → "Size"). The shops with parent products
    (Shopify, WooCommerce) list a style's variant by them."""
    found = [
        (str(name), str(value))
        for name, value in draft.attributes.items()
        if str(name).lower() in OPTION_NAMES and value not in (None, "")
    ]
    found.sort(key=lambda item: OPTION_NAMES.index(item[0].lower()))
    return [(name.capitalize(), value) for name, value in found[:3]]


@dataclass(frozen=True)
class PublishResult:
    """The provider's answer to one draft. `ok`: the listing exists now and `external_id` is
    its id there (stored as the product's alias on the channel). `unmatched`: a marketplace
    found no single catalogue item to offer the product against (no GTIN, no match, several):
    a person must act, and nothing was created. `requests` are the writes sent (or, in a dry
    run, that would be sent): each {"method", "path", "body"}."""

    sku: str
    ok: bool
    external_id: str = ""
    ref: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    unmatched: bool = False
    requests: tuple[Mapping[str, Any], ...] = ()


def listed_already(adapter, sku: str) -> PublishResult | None:
    """The listing the channel has of `sku` already (a publish sent again after its answer was
    lost), as a publish's result; None when it has none. Read before creating, so a retry
    creates once where the provider takes no idempotency key."""
    listed = next(iter(adapter.fetch_snapshot(skus=[sku])), None)
    if listed is None:
        return None
    return PublishResult(sku, True, external_id=listed.external_id, ref=dict(listed.ref))


def publish_taken_back(
    sku: str,
    refused: Exception,
    sent: Sequence[Mapping[str, Any]],
    undo: Mapping[str, Any],
    send: Callable[[Mapping[str, Any]], object],
    *,
    what: str = "product",
) -> PublishResult:
    """A publish whose later step was refused (`refused`, after the writes `sent`): `undo`
    (deleting what it created) is sent through `send`, so nothing is left half-created; the
    result names both failures when the undo fails too."""
    error = str(refused)[:400]
    try:
        send(undo)
    except (ProviderRefused, ChannelUnreachable) as gone:
        error += f"; the {what} it created could not be deleted: {str(gone)[:200]}"
    return PublishResult(sku, False, error=error, requests=(*sent, undo))


@dataclass(frozen=True)
class OrderChange:
    """An order as the channel's own API lists it, for the order poll (orders.services.poll):
    its id, the channel's time of its last change, and the vendor's object as JSON, which the
    channel's provider (`orders.providers.<kind>`, `polled`) reads into an event."""

    external_id: str
    changed_at: dt.datetime
    body: bytes
    # The channel's own version of this change where it has one (Lightspeed): the poll names
    # the change by it rather than by its time.
    version: str = ""


@dataclass(frozen=True)
class PosSaleChange:
    """Units the channel's own point of sale sold, as the channel's API lists them (Square's
    inventory adjustments IN_STOCK → SOLD): the change's id (it names the sale, so it is
    recorded once), the channel's time of it, and the vendor's objects as JSON, which the
    channel's provider (`polled`) reads into a POS sale."""

    external_id: str
    changed_at: dt.datetime
    body: bytes


@dataclass(frozen=True)
class Capabilities:
    read: bool = True
    push_stock: bool = True
    push_price: bool = True
    webhooks: bool = False
    # The provider refuses a quantity write when the current value is not the one we read.
    compare_and_set: bool = False
    # IMS can create a listing of a product the channel does not list (adapter.publish).
    publish: bool = False


@dataclass(frozen=True)
class AdapterConfig:
    """One channel as its adapter sees it: no ORM object, just the values it needs."""

    code: str
    kind: str
    base_url: str
    currency: str
    env_prefix: str
    # Location ids the adapter needs (e.g. a Shopify location gid) come from settings too.
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @classmethod
    def of(cls, channel, *, environ: Mapping[str, str] | None = None) -> AdapterConfig:
        return cls(
            code=channel.code,
            kind=channel.kind,
            base_url=(channel.base_url or "").rstrip("/"),
            currency=channel.currency,
            env_prefix=channel.env_prefix,
            environ=os.environ if environ is None else environ,
        )

    def secret(self, name: str) -> str:
        """A credential; a missing one names the variable to set (never a value)."""
        value = self.environ.get(self.env_prefix + name, "")
        if not value:
            raise ChannelNotConfigured(
                f"channel {self.code}: set {self.env_prefix}{name}",
                extra={"variable": self.env_prefix + name},
            )
        return value

    def setting(self, name: str, default: str = "") -> str:
        return self.environ.get(self.env_prefix + name, default) or default


class ChannelAdapter(Protocol):
    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # The provider's largest allowed batch per call.
    stock_batch: ClassVar[int]
    price_batch: ClassVar[int]

    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        """Every listing (or only these SKUs), page by page."""
        ...

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]: ...

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        """Set each offer price and, where `mrp` is given and the vendor shows one, the MRP in
        the same write (results carry field PRICE)."""
        ...

    # Adapters whose capabilities say `publish` add (channels.publish.listing_publish calls it):
    # def publish(self, drafts: Sequence[ListingDraft], *, dry_run: bool = False)
    #         -> list[PublishResult]
    #     create each draft's listing (a web shop: the product with its SKU, barcode, price,
    #     MRP and quantity; a marketplace: an offer on the catalogue item its GTIN finds), one
    #     result per draft, in order. A draft that fails leaves nothing half-created on the
    #     channel. In a dry run only reads are sent; the results say what would be written.

    def close(self) -> None: ...

    # Adapters whose channel can list its orders add (the order poll calls it):
    # def orders_changed(self, *, since: dt.datetime) -> Iterator[OrderChange]
    #     every order changed at or after `since`, oldest change first.
    # One whose list is ordered by its own cursor (Lightspeed's versions) sets
    # `orders_positioned = True`, takes `after` (the position the last poll reached, '' at
    # first) and, once the list is read, says where it got to in `orders_reached`.
    # Adapters whose channel sells from its own stock without orders IMS receives (Square's
    # POS) add (orders.services.poll calls them):
    # def pos_sales_changed(self, *, since, until=None) -> Iterator[PosSaleChange]
    #     every sale its point of sale recorded after `since` (and before `until`).
    # def counts_as_of(self, moment: dt.datetime) -> None
    #     IMS's stock includes every such sale up to `moment`: quantities pushed after this
    #     call are stamped with that time, so the channel applies later sales on top of them.


# ---------------------------------------------------------------------------
# JSON with exact decimals: money goes out as the number it is, never through float.

_DECIMAL = re.compile(r'"\\u0000dec:(-?[0-9.]+)"')


def _mark(value):
    if isinstance(value, Decimal):
        return "\u0000dec:" + format(value, "f")
    if isinstance(value, Mapping):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value


def json_dumps(payload: Any) -> str:
    """JSON text in which every Decimal is a JSON number with exactly its digits."""
    return _DECIMAL.sub(r"\1", json.dumps(_mark(payload), separators=(",", ":")))


def json_loads(text: str | bytes) -> Any:
    """Parse a provider's JSON with numbers that have a fraction read as Decimal."""
    return json.loads(text, parse_float=Decimal)


def utc_time(value) -> dt.datetime | None:
    """An ISO-8601 time from a provider (naive ones are UTC), in UTC; None when absent or
    not a time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def push_in_halves(
    updates: Sequence,
    field: str,
    size: int,
    send: Callable[[list], object],
    *,
    ref: str,
    missing: str,
    split_on: tuple[int, ...],
    stale_marker: str | None = None,
) -> list[PushResult]:
    """Send the updates that carry `ref` through `send(batch)`, `size` a call (the others fail
    with `missing`). A provider that refuses a whole batch for one bad item answers with a
    status in `split_on`: such a batch is halved until the refused items are found. A refusal
    whose message holds `stale_marker` marks its items stale."""

    def send_halving(batch: list) -> list[PushResult]:
        try:
            send(batch)
        except ProviderRefused as exc:
            if exc.status not in split_on or len(batch) == 1:
                stale = stale_marker is not None and stale_marker in exc.message
                return [
                    PushResult(u.sku, field, False, exc.message[:400], stale=stale) for u in batch
                ]
            half = len(batch) // 2
            return send_halving(batch[:half]) + send_halving(batch[half:])
        return [PushResult(u.sku, field, True) for u in batch]

    results = [PushResult(u.sku, field, False, missing) for u in updates if not u.ref.get(ref)]
    for batch in chunks([u for u in updates if u.ref.get(ref)], size):
        results.extend(send_halving(list(batch)))
    return results


def as_price(value) -> Decimal | None:
    """A provider's price (string, int or Decimal) as Decimal; None when absent."""
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def as_quantity(value) -> int | None:
    if value is None or value == "":
        return None
    return int(Decimal(str(value)))
