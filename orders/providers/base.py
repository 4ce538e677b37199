"""What every webhook provider module gives: signature checking, the delivery's id, and
the event parsed into plain dataclasses. Provider modules never touch the ORM."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import ClassVar, Protocol

import httpx

from ims.csvio import INT_MAX
from ims.money import MAX_WHOLE_DIGITS

# How old a delivery may be: provider retries span hours to days (Shopify retries for
# hours, Square and BigCommerce for up to days), so a body's own time gets three days; a
# signature that signs its own timestamp (ours, Standard Webhooks) gets five minutes.
MAX_BODY_AGE = dt.timedelta(days=3)
MAX_SIGNED_AGE = dt.timedelta(minutes=5)
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


# The largest quantity a line may have: what its column holds (PostgreSQL integer).
MAX_QUANTITY = INT_MAX


class SignatureRefused(Exception):
    """The delivery is not proven to come from the channel: 401, logged, not stored."""


class BadDelivery(Exception):
    """A signed delivery IMS cannot read (no id, not JSON, a value that is not what its field
    says, a topic its body contradicts): kept in the inbox with this error, answered 400.
    A provider's `verify` raises it only once the signature is proven."""


class EventKind(StrEnum):
    ORDER = "order"  # an order placed or updated (confirmed, cancelled in its state)
    CANCEL = "cancel"
    RETURN = "return"
    POS_SALE = "pos_sale"
    # A store sale voided on the POS: it takes nothing (what it took comes back).
    POS_VOID = "pos_void"
    IGNORE = "ignore"
    # A change the signed body cannot prove (WooCommerce's deletion names only the order's
    # id): nothing is changed; ops are told to check the order on the channel.
    UNPROVEN = "unproven"
    # The channel's own stock changed (Square's inventory.count.updated names counts only):
    # IMS reads the sales its point of sale made (orders.services.poll), after this commits.
    STOCK_CHANGED = "stock_changed"


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
    # Units the same sale took back (a POS return line): not counted back by IMS, ops are told.
    returned: tuple[LineIn, ...] = ()


@dataclass(frozen=True)
class Event:
    """What a delivery means for IMS."""

    kind: EventKind
    order_external_id: str = ""
    order: OrderIn | None = None
    # CANCEL: the lines cancelled (empty = the whole order).
    cancelled: tuple[ReturnLineIn, ...] = ()
    # CANCEL: `cancelled` names each line's units cancelled in all, as the channel shows them
    # now (Flipkart lists a shipment's cancelled items every time it is listed), not units
    # to cancel now: only what IMS has not cancelled yet is cancelled, so seeing it again
    # changes nothing.
    cancelled_totals: bool = False
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
    # The channel's settings a provider names in its `settings` (IMS_CHANNEL_<CODE>_<NAME>
    # → value, '' when not set), e.g. Lightspeed's OUTLET_ID, Shopify's STORE_WEBHOOK_SECRET;
    # never a variable a provider does not name.
    settings: Mapping[str, str] = field(default_factory=dict, repr=False)


class Provider(Protocol):
    kind: ClassVar[str]
    # Headers worth keeping with the raw body (lower-case); the signature is never stored.
    kept_headers: ClassVar[tuple[str, ...]]
    # A provider that reads more of the channel's settings than its webhook secret names them
    # (`IMS_CHANNEL_<CODE>_<NAME>`); it finds them in ctx.settings:
    # settings: ClassVar[tuple[str, ...]]

    def verify(self, *, headers: Mapping[str, str], body: bytes, secret: str, ctx: Context): ...

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery: ...

    def parse(self, *, headers: Mapping[str, str], body: bytes, ctx: Context) -> Event: ...

    # A provider whose channel's orders are polled (orders.services.poll) adds:
    # def polled(self, *, body: bytes, ctx: Context) -> Event
    #     the event an order as the channel's API lists it means (OrderChange.body).


# ---------------------------------------------------------------------------
# The event a delivery means: a BadDelivery, or an event IMS can store


# Exceptions a parser raises on a body of another shape than the one it reads (a list where
# an object was expected, a missing key, a number out of range).
SHAPE_ERRORS = (
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ValueError,
    ArithmeticError,
    RecursionError,
)


def event_of(
    provider: Provider,
    *,
    headers: Mapping[str, str],
    body: bytes,
    ctx: Context,
    polled: bool = False,
) -> Event:
    """What a delivery means, with its text storable; BadDelivery if the body cannot be read.
    What the event does follows from the signed body (providers never act on the topic
    header alone). httpx errors (reading a thin payload's order back) pass through: they
    are transient, the delivery is kept and tried again. `polled`: the body is an order as
    the channel's API lists it (orders.services.poll), read by the provider's `polled`."""
    try:
        if polled:
            event = provider.polled(body=body, ctx=ctx)
        else:
            event = provider.parse(headers=headers, body=body, ctx=ctx)
    except SHAPE_ERRORS as exc:
        if isinstance(exc, BadDelivery):
            raise
        raise BadDelivery(
            f"the body is not of the shape a {provider.kind} delivery has: "
            f"{type(exc).__name__}: {printable(str(exc))}"
        ) from None
    return _checked(event, "")


# Fields that identify something (an order, a line, a product, a location): text IMS cannot
# store there is refused, since cleaning it would name something else. Any other text is
# display text, cleaned.
IDENTITY_FIELDS = frozenset(
    {
        "external_id",
        "order_external_id",
        "sku",
        "item_id",
        "line_external_id",
        "return_id",
        "location",
    }
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable(value: str) -> str:
    """Why a text cannot be stored as it is ('' if it can): PostgreSQL refuses NUL in text,
    and a lone surrogate has no UTF-8 encoding."""
    if "\x00" in value:
        return "a NUL character"
    found = _SURROGATE.search(value)
    if found:
        return f"a lone surrogate (U+{ord(found.group()):04X})"
    return ""


def clean_text(value: str) -> str:
    """Display text made storable: NUL removed, each lone surrogate made U+FFFD."""
    return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def printable(value: str) -> str:
    """A text for an error message: storable, control characters escaped."""
    return clean_text(value).encode("unicode_escape").decode("ascii")


def _checked(obj, where: str):
    changes = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        name = f"{where}{f.name}"
        if isinstance(value, str):
            reason = unstorable(value)
            if reason and f.name in IDENTITY_FIELDS:
                raise BadDelivery(f"{name} contains {reason}; refused: it identifies something")
            if reason:
                changes[f.name] = clean_text(value)
        elif f.name == "quantity":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadDelivery(f"{name} '{value}' is not a whole number of units")
            parse_quantity(value, where=name)
            if not isinstance(value, int):
                changes[f.name] = int(value)
        elif is_dataclass(value):
            checked = _checked(value, f"{name}.")
            if checked is not value:
                changes[f.name] = checked
        elif isinstance(value, tuple) and any(is_dataclass(v) for v in value):
            checked = tuple(
                _checked(v, f"{name}[{i}].") if is_dataclass(v) else v for i, v in enumerate(value)
            )
            if any(a is not b for a, b in zip(checked, value, strict=True)):
                changes[f.name] = checked
    return replace(obj, **changes) if changes else obj


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
    """The body's JSON; BadDelivery if it is not JSON (or is nested too deep, or has a number
    of more digits than Python reads)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, digits
        raise BadDelivery(f"body is not JSON: {printable(str(exc))}") from None


def body_time(payload, *fields: str) -> dt.datetime | None:
    """The body's own time, which the signature covers: the first of `fields` the body has
    (else the last); None when that is absent too or the body is no JSON object."""
    if not isinstance(payload, dict):
        return None
    where = next((name for name in fields if payload.get(name)), fields[-1])
    return parse_time(payload.get(where), where=where)


def parse_time(value, *, where: str = "time") -> dt.datetime | None:
    """An ISO-8601 / RFC 3339 time (naive ones are UTC), or a Unix time in seconds; None
    when absent. BadDelivery if it is there but no time (NaN, 1e20, 'soon')."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        if not isinstance(value, str):
            raise ValueError
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadDelivery(f"{where}: '{printable(str(value))}' is not a time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_quantity(value, *, where: str) -> int:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BadDelivery(f"{where}: quantity '{printable(str(value))}' is not a number") from None
    if (
        not number.is_finite()
        or number <= 0
        or number > MAX_QUANTITY
        or number != number.to_integral_value()
    ):
        raise BadDelivery(
            f"{where}: quantity '{printable(str(value))}' is not a whole number of units "
            f"from 1 to {MAX_QUANTITY}"
        )
    return int(number)


def parse_price(value) -> Decimal | None:
    """A unit price, None when absent or not a number; BadDelivery if it is a number no
    money column holds (NaN, Infinity, 1e20)."""
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or (number and number.adjusted() >= MAX_WHOLE_DIGITS):
        raise BadDelivery(f"price '{printable(str(value))}' is out of range")
    return number


def text(value) -> str:
    return "" if value is None else str(value)
