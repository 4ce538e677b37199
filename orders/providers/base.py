"""What every webhook provider module gives: signature checking, the delivery's id, and
the event parsed into plain dataclasses. Provider modules never touch the ORM."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import ClassVar, Protocol

import httpx

# How old a delivery may be: provider retries span hours to days (Shopify retries for
# hours, Square and BigCommerce for up to days), so a body's own time gets three days; a
# signature that signs its own timestamp (ours, Standard Webhooks) gets five minutes.
MAX_BODY_AGE = dt.timedelta(days=3)
MAX_SIGNED_AGE = dt.timedelta(minutes=5)
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


class SignatureRefused(Exception):
    """The delivery is not proven to come from the channel: 401, logged, not stored."""


class BadDelivery(Exception):
    """A signed delivery IMS cannot read (no id, not JSON): 400, not stored."""


class EventKind(StrEnum):
    ORDER = "order"  # an order placed or updated (confirmed, cancelled in its state)
    CANCEL = "cancel"
    RETURN = "return"
    POS_SALE = "pos_sale"
    IGNORE = "ignore"


@dataclass(frozen=True)
class LineIn:
    """An order line as the provider names it: its SKU and/or its own item id.

    `not_stocked` says, from the vendor's own payload, why the line is no stocked product
    (a gift card, a tip, a line that needs no shipping, a custom line naming no product):
    such a line is recorded on the order and never reserved. '' for a product line."""

    external_id: str
    sku: str
    quantity: int
    item_id: str = ""
    unit_price: Decimal | None = None
    not_stocked: str = ""
    name: str = ""  # the line's title as the channel shows it


@dataclass(frozen=True)
class OrderIn:
    external_id: str
    placed_at: dt.datetime
    lines: tuple[LineIn, ...]  # every line, product lines and lines not stocked
    name: str = ""
    confirmed: bool = True
    cancelled: bool = False
    currency: str = ""
    customer_name: str = ""
    customer_email: str = ""
    customer_phone: str = ""


@dataclass(frozen=True)
class ReturnLineIn:
    """Units of a line coming back (`line_external_id`) or, without it, of a SKU."""

    quantity: int
    line_external_id: str = ""
    sku: str = ""
    item_id: str = ""


@dataclass(frozen=True)
class PosSaleIn:
    external_id: str
    location: str
    lines: tuple[LineIn, ...]


@dataclass(frozen=True)
class Event:
    """What a delivery means for IMS."""

    kind: EventKind
    order_external_id: str = ""
    order: OrderIn | None = None
    # CANCEL: the lines cancelled (empty = the whole order).
    cancelled: tuple[ReturnLineIn, ...] = ()
    # RETURN: the provider's refund/return id and the units coming back.
    return_id: str = ""
    returned: tuple[ReturnLineIn, ...] = ()
    # RETURN/CANCEL of everything left: shipped units come back, the rest is cancelled.
    whole_order: bool = False
    reason: str = ""
    sale: PosSaleIn | None = None
    note: str = ""


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    topic: str


@dataclass
class Context:
    """What a provider may need besides the delivery: the URL it was sent to (Square signs
    it), a client to fetch what a thin payload leaves out, the time now."""

    now: dt.datetime
    url: str = ""
    client: httpx.Client | None = field(default=None, repr=False)


class Provider(Protocol):
    kind: ClassVar[str]
    # Headers worth keeping with the raw body (lower-case); the signature is never stored.
    kept_headers: ClassVar[tuple[str, ...]]

    def verify(self, *, headers: Mapping[str, str], body: bytes, secret: str, ctx: Context): ...

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery: ...

    def parse(self, *, headers: Mapping[str, str], body: bytes, ctx: Context) -> Event: ...


# ---------------------------------------------------------------------------
# Helpers


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def equal(expected: bytes | str, given: bytes | str) -> bool:
    """Constant-time comparison."""
    if isinstance(expected, str):
        expected = expected.encode()
    if isinstance(given, str):
        given = given.encode()
    return hmac.compare_digest(expected, given)


def check_base64_hmac(*, secret: str, message: bytes, given: str | None) -> None:
    if not given:
        raise SignatureRefused("missing signature")
    if not equal(base64.b64encode(hmac_sha256(secret, message)), given.strip()):
        raise SignatureRefused("signature does not match")


def check_age(when: dt.datetime | None, *, now: dt.datetime, max_age: dt.timedelta) -> None:
    """Refuse a delivery whose signed time is too old (a replay) or in the future."""
    if when is None:
        raise SignatureRefused("no signed time to check the delivery's age")
    if when < now - max_age:
        raise SignatureRefused(f"stale: signed at {when.isoformat()}, older than {max_age}")
    if when > now + MAX_CLOCK_SKEW:
        raise SignatureRefused(f"signed in the future ({when.isoformat()})")


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by case-insensitive name ('' when absent)."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def load_json(body: bytes):
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadDelivery(f"body is not JSON: {exc}") from None


def parse_time(text) -> dt.datetime | None:
    """An ISO-8601 / RFC 3339 time (naive ones are UTC), or a Unix time in seconds."""
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        return dt.datetime.fromtimestamp(text, dt.UTC)
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse_quantity(value, *, where: str) -> int:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadDelivery(f"{where}: quantity '{value}' is not a number") from None
    if number != number.to_integral_value() or number <= 0:
        raise BadDelivery(f"{where}: quantity '{value}' is not a whole number of units")
    return int(number)


def parse_price(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def text(value) -> str:
    return "" if value is None else str(value)
