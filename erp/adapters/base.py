"""What every ERP adapter offers, the plain records it returns, and the one HTTP client helper
they share (timeouts, retries with backoff on 429/5xx honouring Retry-After, no secret in any
log line).

Adapters translate, services decide: an adapter knows its system's URLs, auth, payloads and
paging, and yields plain dataclasses; it never touches the ORM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import httpx

from erp.errors import ErpUnreachable

log = logging.getLogger("ims.erp")


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

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


class ErpAdapter(Protocol):
    kind: ClassVar[str]
    accepts_handover: ClassVar[bool]

    def fetch_catalog(self) -> Iterator[CatalogItem]: ...
    def fetch_stock(self) -> Iterator[StockRow]: ...
    def fetch_prices(self) -> Iterator[PriceRow]: ...
    def push_handover(self, records: Sequence[HandoverRecord]) -> str: ...
    def close(self) -> None: ...


# ---------------------------------------------------------------------------
# The shared HTTP client

RETRY_STATUSES = {429, 500, 502, 503, 504}


class ErpHttp:
    """One httpx client per adapter: base URL, timeouts, retries with backoff on 429 and 5xx
    (Retry-After honoured, capped), and errors that name the call but never a secret."""

    def __init__(
        self,
        config: SourceConfig,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 30.0,
    ):
        self.config = config
        self.retries = retries
        self.backoff = backoff
        if not config.base_url:
            raise ErpUnreachable(
                f"ERP source {config.code} has no base_url", code="erp_no_base_url"
            )
        self.client = httpx.Client(
            base_url=config.base_url.rstrip("/") + "/",
            headers={"Accept": "application/json", "User-Agent": "IMS", **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=config.transport,
        )

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        """Send, retrying 429/5xx and transport errors; raise ErpUnreachable on failure."""
        what = f"{self.config.code}: {method} {url.split('?')[0]}"
        for attempt in range(self.retries + 1):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if attempt == self.retries:
                    raise ErpUnreachable(f"{what}: {type(exc).__name__}: {exc}") from None
                self._sleep(attempt, None)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                log.warning("%s answered %s; retrying", what, response.status_code)
                self._sleep(attempt, response.headers.get("Retry-After"))
                continue
            if response.is_error:
                raise ErpUnreachable(
                    f"{what} answered {response.status_code}: {_excerpt(response)}",
                    extra={"status": response.status_code},
                )
            return response
        raise AssertionError("unreachable")

    def json(self, method: str, url: str, **kwargs) -> Any:
        response = self.request(method, url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ErpUnreachable(
                f"{self.config.code}: {method} {url.split('?')[0]} answered something that is not JSON"
            ) from None

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt)
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = min(float(retry_after), 60.0)
        time.sleep(delay)

    def close(self) -> None:
        self.client.close()


def _excerpt(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:300] or response.reason_phrase


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
