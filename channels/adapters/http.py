"""The one way adapters talk HTTP: an httpx client with timeouts, retries and a rate limiter.

- Timeouts on every call (connect 5 s, read/write 30 s unless the adapter says otherwise).
- Retries with exponential backoff and jitter (tenacity) on 429, 5xx, timeouts and
  dropped connections, waiting what the provider asks when it says (Retry-After,
  X-Rate-Limit-Time-Reset-Ms, X-RateLimit-Reset) instead of guessing.
- A per-channel limiter (the `limits` library, moving window) taken before every call,
  so one worker never exceeds the provider's rate; with IMS_RATE_LIMIT_STORAGE set to a
  shared store (redis://…) every worker of every machine shares the same window.
- Log lines carry the method, the path and the status: never a header, a query string
  (some providers put keys there) or a body.
"""

from __future__ import annotations

import email.utils
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from limits import parse as parse_rate
from limits import storage as limit_storage
from limits import strategies
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from channels.errors import ChannelUnreachable, ProviderRefused

log = logging.getLogger("ims.channels.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0, pool=5.0)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Retryable(Exception):
    """A failed attempt worth repeating; `retry_after` is what the provider asked us to wait."""

    def __init__(self, reason: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


def retry_after(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds the provider asks us to wait, from the headers providers use for it."""
    headers = response.headers
    value = headers.get("retry-after")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            if when is not None:
                return max(when.timestamp() - (now or time.time()), 0.0)
    value = headers.get("x-rate-limit-time-reset-ms")  # BigCommerce
    if value and value.isdigit():
        return int(value) / 1000
    value = headers.get("x-ratelimit-reset")  # Lightspeed and others: seconds, or an epoch time
    if value:
        try:
            number = float(value)
        except ValueError:
            return None
        if number > 1_000_000_000:
            return max(number - (now or time.time()), 0.0)
        return max(number, 0.0)
    return None


# ---------------------------------------------------------------------------
# Rate limits per channel

_storages: dict[str, limit_storage.Storage] = {}
_storages_lock = threading.Lock()


def _storage() -> limit_storage.Storage:
    uri = os.environ.get("IMS_RATE_LIMIT_STORAGE", "memory://")
    with _storages_lock:
        if uri not in _storages:
            _storages[uri] = limit_storage.storage_from_string(uri)
        return _storages[uri]


class RateLimiter:
    """Blocks until the channel may make one more call of a kind (`rates`: {"default": "5/second"})."""

    def __init__(
        self,
        *,
        key: str,
        rates: Mapping[str, str],
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.key = key
        self.items = {name: parse_rate(rate) for name, rate in rates.items()}
        self.strategy = strategies.MovingWindowRateLimiter(_storage())
        self.sleep = sleep

    def acquire(self, operation: str = "default") -> float:
        """Take one call; returns the seconds waited."""
        item = self.items.get(operation) or self.items["default"]
        waited = 0.0
        while not self.strategy.hit(item, self.key, operation):
            stats = self.strategy.get_window_stats(item, self.key, operation)
            pause = min(max(stats.reset_time - time.time(), 0.005), 1.0)
            self.sleep(pause)
            waited += pause
        return waited


# ---------------------------------------------------------------------------
# The client


@dataclass
class RetryPolicy:
    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    # Never wait longer than this for one Retry-After (a provider asking for an hour is an outage).
    longest_wait: float = 120.0

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        """IMS_HTTP_RETRY_ATTEMPTS, IMS_HTTP_BACKOFF_SECONDS, IMS_HTTP_BACKOFF_MAX (settings or env)."""
        from django.conf import settings

        def value(name, default):
            return float(getattr(settings, name, None) or os.environ.get(name) or default)

        return cls(
            attempts=int(value("IMS_HTTP_RETRY_ATTEMPTS", 6)),
            initial=value("IMS_HTTP_BACKOFF_SECONDS", 0.5),
            maximum=value("IMS_HTTP_BACKOFF_MAX", 30),
            longest_wait=value("IMS_HTTP_LONGEST_WAIT", 120),
        )


class ProviderClient:
    """httpx.Client with the provider's base URL, timeouts, retries and the channel's limiter."""

    def __init__(
        self,
        *,
        channel: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_unauthorized: Callable[[], bool] | None = None,
        wait_for: Callable[[httpx.Response], float | None] = retry_after,
    ):
        self.channel = channel
        self.http = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
        )
        self.limiter = limiter
        self.retry = retry or RetryPolicy.from_settings()
        self.sleep = sleep
        self.on_unauthorized = on_unauthorized
        self.wait_for = wait_for
        self.calls = 0
        self.failed_calls = 0

    def close(self) -> None:
        self.http.close()

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after is not None:
            return min(error.retry_after, self.retry.longest_wait)
        return wait_exponential_jitter(multiplier=self.retry.initial, max=self.retry.maximum)(state)

    def request(
        self, method: str, url: str, *, operation: str = "default", **kwargs
    ) -> httpx.Response:
        """One call, retried as the policy says; raises ChannelUnreachable or ProviderRefused."""
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(Retryable),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, url, operation, kwargs, [False])
        except Retryable as exc:
            raise ChannelUnreachable(
                f"{self.channel}: {method} {_path(url)}: {exc.reason} "
                f"(gave up after {self.retry.attempts} attempts)",
                extra={"status": exc.status},
            ) from None

    def _attempt(self, method, url, operation, kwargs, refreshed: list[bool]) -> httpx.Response:
        if self.limiter is not None:
            self.limiter.acquire(operation)
        self.calls += 1
        started = time.perf_counter()
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            self.failed_calls += 1
            log.warning("%s %s %s: timed out", self.channel, method, _path(url))
            raise Retryable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            self.failed_calls += 1
            log.warning("%s %s %s: %s", self.channel, method, _path(url), type(exc).__name__)
            raise Retryable(f"connection failed ({type(exc).__name__})") from None
        log.debug(
            "%s %s %s -> %s in %.3fs",
            self.channel,
            method,
            _path(url),
            response.status_code,
            time.perf_counter() - started,
        )
        status = response.status_code
        if status in RETRY_STATUSES:
            self.failed_calls += 1
            raise Retryable(f"HTTP {status}", retry_after=self.wait_for(response), status=status)
        if status in (401, 403) and self.on_unauthorized is not None and not refreshed[0]:
            refreshed[0] = True
            if self.on_unauthorized():
                return self._attempt(method, url, operation, kwargs, refreshed)
        if status >= 400:
            self.failed_calls += 1
            raise ProviderRefused(
                f"{self.channel}: {method} {_path(url)}: HTTP {status}: {_excerpt(response)}",
                status=status,
            )
        return response


def _path(url: str) -> str:
    """The path of a URL only: query strings can carry keys."""
    return str(httpx.URL(url).copy_with(query=None)) if "?" in url else url


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit]
