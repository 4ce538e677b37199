"""What every ERP adapter offers, the plain records it returns, and the HTTP client they share
(the one client of `ims.http`: timeouts, retries with backoff on 429/5xx honouring
Retry-After, no secret in any log line).

Adapters translate, services decide: an adapter knows its system's URLs, auth, payloads and
paging, and yields plain dataclasses; it never touches the ORM.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from erp.errors import ErpUnreachable
from ims.http import HttpClient, Refused, Retryable, RetryPolicy, excerpt, safe_url


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    barcode: str = ""
    uom: str = ""
    cost: Decimal | None = None
    category: str = ""
    active: bool = True


@dataclass(frozen=True)
class StockRow:
    """The ERP's physical count of a SKU at one of its locations (its own code)."""

    sku: str
    location: str
    quantity: int


@dataclass(frozen=True)
class PriceRow:
    sku: str
    currency: str
    price: Decimal


@dataclass(frozen=True)
class HandoverRecord:
    """One IMS movement the ERP is told of: `quantity` is the change of the physical count at
    the location (+ into it, − out of it)."""

    movement_id: int
    kind: str
    ref: str
    sku: str
    location: str
    erp_location: str
    quantity: int
    at: str

    def row(self) -> tuple:
        """The record in the hand-over file's columns (HANDOVER_COLUMNS, in this order)."""
        return astuple(self)


HANDOVER_COLUMNS = (
    "movement_id",
    "kind",
    "ref",
    "sku_id",
    "location",
    "erp_location",
    "quantity",
    "at",
)


@dataclass
class SourceConfig:
    """What an adapter is given: the source's code, kind, base URL and options, and a way to
    read its secrets from the environment (IMS_ERP_<CODE>_<SECRET>)."""

    code: str
    kind: str
    base_url: str
    options: Mapping[str, Any] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None  # tests hand a fake transport in

    @property
    def env_prefix(self) -> str:
        return "IMS_ERP_" + re.sub(r"[^A-Z0-9]", "_", self.code.upper()) + "_"

    def secret(self, name: str) -> str:
        value = os.environ.get(self.env_prefix + name, "")
        if not value:
            raise ErpUnreachable(
                f"ERP source {self.code}: the secret {self.env_prefix}{name} is not set",
                code="erp_secret_missing",
            )
        return value


class ErpAdapter:
    """What every ERP adapter offers. What one does not override reads nothing, refuses a
    push (the hand-over file is the record) and closes its HTTP client, if it has one."""

    kind: ClassVar[str]
    accepts_handover: ClassVar[bool] = False
    # The secrets it reads (IMS_ERP_<CODE>_<NAME>, SourceConfig.secret); a file source none.
    credentials: ClassVar[tuple[str, ...]] = ()
    http: ErpHttp | None = None

    def __init__(self, config: SourceConfig):
        self.config = config

    def fetch_catalog(self) -> Iterator[CatalogItem]:
        return iter(())

    def fetch_stock(self) -> Iterator[StockRow]:
        return iter(())

    def fetch_prices(self) -> Iterator[PriceRow]:
        return iter(())

    def push_handover(self, records: Sequence[HandoverRecord]) -> str:
        raise ErpUnreachable(
            f"{self.config.code}: {self.kind} takes the hand-over file, not a push"
        )

    def close(self) -> None:
        if self.http is not None:
            self.http.close()


# ---------------------------------------------------------------------------
# The adapters' HTTP client

# Four calls at most, 0.5 s, 1 s, 2 s apart, or what Retry-After asks, at most a minute.
ERP_RETRY = RetryPolicy(attempts=4, initial=0.5, maximum=30.0, longest_wait=60.0, jitter=0.0)


class ErpHttp:
    """The one HTTP client (`ims.http`) for an adapter: base URL, timeouts, retries with backoff
    on 429 and 5xx (Retry-After honoured, capped), and errors that name the call but never a
    secret."""

    def __init__(
        self,
        config: SourceConfig,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ):
        self.config = config
        if not config.base_url:
            raise ErpUnreachable(
                f"ERP source {config.code} has no base_url", code="erp_no_base_url"
            )
        self.http = HttpClient(
            name=config.code,
            base_url=config.base_url.rstrip("/") + "/",
            headers={"Accept": "application/json", "User-Agent": "IMS", **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(30.0, connect=10.0),
            transport=config.transport,
            retry=ERP_RETRY,
            logger="ims.erp",
        )
        self.client = self.http.http

    def json(self, method: str, url: str, **kwargs) -> Any:
        """Send, retrying 429/5xx and transport errors, and read the JSON answer; raise
        ErpUnreachable on failure."""
        what = f"{self.config.code}: {method} {safe_url(url)}"
        try:
            response = self.http.request(method, url, **kwargs)
        except (Retryable, Refused) as exc:
            response = exc.response
            if response is None:
                error = exc.error
                raise ErpUnreachable(f"{what}: {type(error).__name__}: {error}") from None
            raise ErpUnreachable(
                f"{what} answered {response.status_code}: "
                f"{excerpt(response) or response.reason_phrase}",
                extra={"status": response.status_code},
            ) from None
        try:
            return response.json()
        except ValueError:
            raise ErpUnreachable(f"{what} answered something that is not JSON") from None

    def close(self) -> None:
        self.http.close()


def decimal_or_none(value) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value))


def whole(value, *, what: str) -> int:
    """An ERP's quantity as a whole number of units (ERPs send 12.0 for twelve)."""
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ErpUnreachable(f"{what}: quantity {value} is not a whole number of units")
    return int(number)
