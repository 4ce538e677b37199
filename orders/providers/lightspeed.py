"""Lightspeed Retail (X-Series, formerly Vend): `sale.update` webhooks, and the sales its order
poll lists (the safety net: Lightspeed says its webhooks are reliable but not guaranteed).

Delivery (https://x-series-api.lightspeedhq.com/docs/webhooks, the same text at
docs.vendhq.com/docs/webhooks; ../shared/specs/lightspeed-x-series/api-summary.md): a POST in
UTF-8, `application/x-www-form-urlencoded`; the form field `payload` holds the sale as a JSON
string in its **API 1.0** shape; other fields (`environment`, `domain_prefix`, `type`) may come
and are not relied on. It must be answered 2xx within 5 seconds, else it is retried up to 20
times over 48 hours: the payload is the whole sale, so it is stored and recorded inside the
request (nothing is read back).

Signature: `X-Signature: signature=<HMAC-SHA256 of the raw request body>,algorithm=HMAC-SHA256`
with the channel's `IMS_CHANNEL_<CODE>_WEBHOOK_SECRET`. What this rests on: Vend's webhook guide
(docs.vendhq.com/tutorials/guides/webhooks/introduction, "Verification", read as stored in the
pages corpus): "webhooks sent to OAuth-authorised applications are signed so they can be
verified as originating from Vend and unaltered in transit… If the webhook request contains a
header as below… `X-Signature: signature=897hRT893qkA783M093ha903f,algorithm=HMAC-SHA256` … To
do this, generate a signature by hashing the webhook request body and compare it to the
signature in the header for an exact match." The stored copy breaks off there ("Use the
algorithm s…"): it does not name the key or the digest's encoding, and its sample is no real
digest. IMS assumes the key is the OAuth app's client secret (set WEBHOOK_SECRET to it; what
Vend's OAuth apps were said to sign with, not read in any stored page) and accepts the
signature as hex (either case) or base64 of the HMAC-SHA256 digest; any other `algorithm` is
refused. Not established: the current X-Series pages say nothing about signing, and a 2014 issue
(chipwillman/VendAPI.Net#1) reports webhooks then carried no signature at all; a webhook added
by hand at /setup/api (no OAuth app) is not signed. IMS refuses every unsigned or wrongly signed
delivery (401, nothing stored): register the webhook through the app (`POST /api/webhooks`,
scope `webhooks`). If real deliveries are refused, the poll still takes the sales.

Age: the sale's `updated_at` (in the signed body) within 3 days when the sale has one (retries
span 48 hours); a sale without it has no signed time, and its replay is a duplicate by its id.

Delivery id: `sale:<id>@<version>`, else `@<updated_at>`, else `#<digest of the payload>`: a
sale is updated many times (parked, completed, paid off, voided), each update a delivery of its
own; the same update sent again is a duplicate.

The sale (API 1.0 register sale: docs.vendhq.com/docs/sales_101 "Full payload", and Vend's
"sale payload explanation" gist pzurek/c86b7e917ae1b6f76fb2fdf00b456255): `id`, `register_id`,
`status`, `sale_date`, `updated_at`, `invoice_number`, `register_sale_products[]` with `id`,
`product_id`, `quantity`, `price`, `status`; an `outlet_id` where the payload has one. The
poll's API 2.0 sale (`GET /api/2.0/sales`) has `line_items[]` in their place, `outlet_id`,
`version`, and `state` beside or instead of `status`.

What a sale means: a sale on a Lightspeed register is a store sale (EventKind.POS_SALE,
orders.services.pos): its units leave the store's location (the channel's first location) at
once, or, if they are reserved for online orders, it is held for an admin, as any POS sale.
By status:
- CLOSED, ONACCOUNT / ON_ACCOUNT (goods taken, paid later), LAYBY (goods set aside), their
  `_CLOSED` states, AWAITING_DISPATCH / AWAITING_PICKUP and DISPATCHED_CLOSED /
  PICKED_UP_CLOSED (sold for delivery or pickup from the store): the sale, recorded once by its
  id (a later status of a known sale changes nothing);
- SAVED / OPEN (parked, in progress): nothing moves until it is completed;
- VOIDED: nothing moves; a sale IMS recorded gives its units back (EventKind.POS_VOID), and a
  sale voided before IMS saw it is recorded voided, so its completed state arriving late moves
  nothing;
- any other status: ignored, named in the delivery's outcome.
A line whose `status` is VOIDED is no part of the sale. A negative quantity is a unit coming
back (a return on the register): it is not counted back on its own; ops are told (its state,
sellable or to inspect, is the store's call). A quantity that is not a whole number is refused.

Products: the line's `sku` when it carries one; else its `product_id`, the Lightspeed product
UUID, which is the channel's listing's external id (LightspeedAdapter.fetch_snapshot:
ListingState.external_id, ref.product_id), or a product alias scoped to the channel. A line
naming neither is no stocked product (left out).

Outlet: Lightspeed sends every outlet's sales to each webhook; a channel is one outlet
(`IMS_CHANNEL_<CODE>_OUTLET_ID`, as its adapter): a sale naming another `outlet_id` is ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import ClassVar
from urllib.parse import parse_qs

from orders.providers.base import (
    MAX_BODY_AGE,
    BadDelivery,
    Context,
    Delivery,
    Event,
    EventKind,
    LineIn,
    PosSaleIn,
    SignatureRefused,
    check_age,
    equal,
    header,
    hmac_sha256,
    load_json,
    parse_price,
    parse_quantity,
    parse_time,
    printable,
    text,
)

SIGNATURE_HEADER = "X-Signature"
TOPIC = "sale.update"
MAX_FORM_FIELDS = 50

SOLD = frozenset(
    {
        "CLOSED",
        "ONACCOUNT",
        "ON_ACCOUNT",
        "ONACCOUNT_CLOSED",
        "ON_ACCOUNT_CLOSED",
        "LAYBY",
        "LAYBY_CLOSED",
        "AWAITING_DISPATCH",
        "AWAITING_PICKUP",
        "DISPATCHED_CLOSED",
        "PICKED_UP_CLOSED",
    }
)
PARKED = frozenset({"SAVED", "OPEN", "PARKED"})
VOIDED = "VOIDED"
# API 2.0's `state` where a sale has no `status`.
STATES = {"closed": "CLOSED", "pending": "ONACCOUNT", "parked": "SAVED", "voided": VOIDED}


class Lightspeed:
    kind: ClassVar[str] = "lightspeed"
    kept_headers: ClassVar[tuple[str, ...]] = ()
    settings: ClassVar[tuple[str, ...]] = ("OUTLET_ID",)

    def verify(self, *, headers, body: bytes, secret: str, ctx: Context) -> None:
        check_signature(headers=headers, body=body, secret=secret)
        form = _form(body)
        if form.get("type", TOPIC) != TOPIC:
            return  # another webhook's object: ignored when processed, no sale time to check
        when = parse_time(_payload(form).get("updated_at"), where="updated_at")
        if when is not None:
            check_age(when, now=ctx.now, max_age=MAX_BODY_AGE)

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery:
        form = _form(body)
        kind = form.get("type", "")
        if kind and kind != TOPIC:
            # Another webhook sent to this URL: named by its body, ignored when processed.
            return Delivery(f"{kind}#{hashlib.sha256(body).hexdigest()[:32]}", kind)
        return Delivery(delivery_id(_payload(form)), TOPIC)

    def parse(self, *, headers, body: bytes, ctx: Context) -> Event:
        form = _form(body)
        kind = form.get("type", "")
        if kind and kind != TOPIC:
            return Event(EventKind.IGNORE, note=f"webhook type {printable(kind)} is not {TOPIC}")
        return sale_event(_payload(form), ctx)

    def polled(self, *, body: bytes, ctx: Context) -> Event:
        """A sale as `GET /api/2.0/sales` lists it."""
        sale = load_json(body)
        if not isinstance(sale, dict):
            raise BadDelivery("a listed sale is not a JSON object")
        return sale_event(_checked_sale(sale), ctx)


def sign(*, secret: str, body: bytes) -> str:
    """The X-Signature value for a body, as IMS verifies it (hex digest)."""
    return f"signature={hmac_sha256(secret, body).hex()},algorithm=HMAC-SHA256"


def check_signature(*, headers, body: bytes, secret: str) -> None:
    given = header(headers, SIGNATURE_HEADER)
    if not given:
        raise SignatureRefused(f"missing signature ({SIGNATURE_HEADER})")
    parts = {}
    for part in given.split(","):
        name, _, value = part.strip().partition("=")
        parts[name.strip().lower()] = value.strip()
    signature, algorithm = parts.get("signature", ""), parts.get("algorithm", "")
    if not signature or algorithm.upper() != "HMAC-SHA256":
        raise SignatureRefused(
            f"{SIGNATURE_HEADER} is not of the form signature=<HMAC-SHA256>,algorithm=HMAC-SHA256"
        )
    digest = hmac_sha256(secret, body)
    if equal(digest.hex(), signature.lower()):
        return
    try:
        decoded = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not equal(digest, decoded):
        raise SignatureRefused("signature does not match")


def delivery_id(sale: dict) -> str:
    sale_id = text(sale["id"])
    if sale.get("version") not in (None, ""):
        return f"sale:{sale_id}@{text(sale['version'])}"
    if sale.get("updated_at"):
        return f"sale:{sale_id}@{text(sale['updated_at'])}"
    canonical = repr(sorted(sale.items())).encode("utf-8", "surrogatepass")
    return f"sale:{sale_id}#{hashlib.sha256(canonical).hexdigest()[:32]}"


def _form(body: bytes) -> dict[str, str]:
    """The form's fields (the first value of each); BadDelivery if it is no UTF-8 form."""
    try:
        fields = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadDelivery(
            f"the body is not a UTF-8 form (application/x-www-form-urlencoded): "
            f"{printable(str(exc))}"
        ) from None
    return {name: values[0] for name, values in fields.items()}


def _payload(form: dict[str, str]) -> dict:
    if "payload" not in form:
        raise BadDelivery("the form has no `payload` field (Lightspeed sends the sale in it)")
    return _checked_sale(load_json(form["payload"].encode("utf-8", "surrogatepass")))


def _checked_sale(sale) -> dict:
    """The payload if it is a sale: an object with an `id`, a status and its lines."""
    if not isinstance(sale, dict):
        raise BadDelivery("the payload is not a JSON object, so no sale")
    if sale.get("id") in (None, "") or isinstance(sale.get("id"), dict | list):
        raise BadDelivery("the payload has no sale `id`: it is not a sale")
    lines = sale.get("register_sale_products", sale.get("line_items"))
    if not isinstance(lines, list):
        raise BadDelivery(
            f"the payload (id {printable(text(sale.get('id')))}) has no `register_sale_products` "
            "(or `line_items`): it is not a sale"
        )
    if not (sale.get("status") or sale.get("state")):
        raise BadDelivery(f"sale {printable(text(sale['id']))} has no `status`")
    return sale


def sale_event(sale: dict, ctx: Context) -> Event:
    """What a sale (API 1.0 or 2.0 shape) means: see the module."""
    sale_id = text(sale["id"])
    # Read as verify read it: a replay from the inbox refuses it too.
    parse_time(sale.get("updated_at"), where="updated_at")
    status = text(sale.get("status")).upper() or STATES.get(text(sale.get("state")).lower(), "")
    outlet, ours = text(sale.get("outlet_id")), ctx.settings.get("OUTLET_ID", "")
    if outlet and ours and outlet != ours:
        return Event(
            EventKind.IGNORE,
            note=f"sale {sale_id} is at outlet {printable(outlet)}, not this channel's ({ours})",
        )
    if status in PARKED:
        return Event(
            EventKind.IGNORE,
            note=f"sale {sale_id} is {status.lower()}: nothing moves until it is completed",
        )
    items = sale.get("register_sale_products", sale.get("line_items"))
    sold, returned = _lines(items)
    incoming = PosSaleIn(external_id=sale_id, location="", lines=sold, returned=returned)
    if status == VOIDED:
        return Event(EventKind.POS_VOID, sale=incoming)
    if status not in SOLD:
        return Event(
            EventKind.IGNORE,
            note=f"sale {sale_id} has status {printable(status)}, which IMS does not know: "
            "nothing moved",
        )
    if not sold and not returned:
        return Event(EventKind.IGNORE, note=f"sale {sale_id} has no stocked line")
    return Event(EventKind.POS_SALE, sale=incoming)


def _lines(items: list) -> tuple[tuple[LineIn, ...], tuple[LineIn, ...]]:
    """The sale's lines: (units sold, units coming back)."""
    sold, returned = [], []
    for i, item in enumerate(items):
        where = f"register_sale_products[{i}]"
        if not isinstance(item, dict):
            raise BadDelivery(f"{where} is not an object")
        if text(item.get("status")).upper() == VOIDED:
            continue
        sku, product = text(item.get("sku")), text(item.get("product_id"))
        if not sku and not product:
            continue  # names no product: nothing IMS stocks
        try:
            quantity = Decimal(str(item.get("quantity")))
        except (InvalidOperation, ValueError):
            raise BadDelivery(
                f"{where}: quantity '{printable(str(item.get('quantity')))}' is not a number"
            ) from None
        if quantity.is_finite() and quantity == 0:
            continue
        line = LineIn(
            external_id=text(item.get("id")) or str(i + 1),
            sku=sku,
            item_id=product,
            quantity=parse_quantity(
                abs(quantity) if quantity.is_finite() else quantity, where=where
            ),
            unit_price=parse_price(item.get("price")),
            name=text(item.get("name")),
        )
        (returned if quantity < 0 else sold).append(line)
    return tuple(sold), tuple(returned)
