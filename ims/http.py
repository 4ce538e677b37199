"""The one outbound HTTP client: httpx with timeouts, tenacity retries and a rate limiter.

Used by the channel adapters (`channels/adapters/http.py` turns its errors into the channels'
own), the ERP adapters, WhatsApp and the order read-backs.

- Timeouts on every call (connect 5 s, read/write 30 s unless the caller says otherwise).
- Retries with exponential backoff and jitter (tenacity) on 429, 5xx, timeouts and
  dropped connections, waiting what the provider asks when it says (Retry-After,
  X-Rate-Limit-Time-Reset-Ms, X-RateLimit-Reset) instead of guessing; a wait longer than
  the policy allows is capped, or handed back to the caller when the policy says so.
- An optional limiter (the `limits` library, moving window) taken before every call,
  so one worker never exceeds the provider's rate; with IMS_RATE_LIMIT_STORAGE set to a
  shared store (redis://…) every worker of every machine shares the same window.
- Log lines carry the method, the path and the status: never a header, a query string
  (some providers put keys there), a user or password in a URL, or a body.
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
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0, pool=5.0)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def http_client(
    *,
    base_url: str,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A bare httpx.Client with timeouts that never follows redirects."""
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers or {}),
        auth=auth,
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
    )


def safe_url(url: str) -> str:
    """A URL as logs and messages may show it: no query string, no user or password."""
    if "?" not in url and "@" not in url and "#" not in url:
        return url
    return str(httpx.URL(url).copy_with(query=None, fragment=None, userinfo=b""))


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


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so a test's patched time.sleep is used


# ---------------------------------------------------------------------------
# Rate limits

_storages: dict[str, limit_storage.Storage] = {}
_storages_lock = threading.Lock()


def _storage() -> limit_storage.Storage:
    uri = os.environ.get("IMS_RATE_LIMIT_STORAGE", "memory://")
    with _storages_lock:
        if uri not in _storages:
            _storages[uri] = limit_storage.storage_from_string(uri)
        return _storages[uri]


class RateLimiter:
    """Blocks until `key` may make one more call of a kind (`rates`: {"default": "5/second"})."""

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
# Retries


@dataclass
class RetryPolicy:
    """`attempts` calls at most; between them `initial` × 2^n seconds plus up to `jitter`,
    at most `maximum`, or what the provider asks for, at most `longest_wait` (a provider asking
    for an hour is an outage). With `hand_back_longer_waits` a longer ask is not waited out
    (nor capped): the call gives up at once and the caller retries later."""

    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    longest_wait: float = 120.0
    jitter: float = 1.0
    hand_back_longer_waits: bool = False

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


class Retryable(Exception):
    """A failed attempt worth repeating; `retry_after` is what the provider asked us to wait.
    Raised by `HttpClient.request` once it gives up, with the last answer (`response`) or the
    transport error (`error`)."""

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        response: httpx.Response | None = None,
        error: Exception | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status
        self.response = response
        self.error = error


class Refused(Exception):
    """The provider answered with an error that retrying will not fix (a 4xx)."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.status = response.status_code


# ---------------------------------------------------------------------------
# The client


class HttpClient:
    """httpx.Client with a base URL, timeouts, retries as `retry` says and an optional limiter.

    `request` returns a response below 400; it raises Retryable once retrying gave up and
    Refused for any other error answer. `retryable(response)` says which answers are worth
    repeating (default: 429 and 5xx), `wait_for(response)` how long the provider asked to
    wait; `on_unauthorized()` may renew a credential once on 401/403 and say so."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        on_unauthorized: Callable[[], bool] | None = None,
        wait_for: Callable[[httpx.Response], float | None] = retry_after,
        retryable: Callable[[httpx.Response], bool] | None = None,
        logger: str = "ims.http",
    ):
        self.name = name
        self.http = http_client(
            base_url=base_url, headers=headers, auth=auth, timeout=timeout, transport=transport
        )
        self.limiter = limiter
        self.retry = retry or RetryPolicy.from_settings()
        self.sleep = sleep or _sleep
        self.on_unauthorized = on_unauthorized
        self.wait_for = wait_for
        self.retryable = retryable or (lambda response: response.status_code in RETRY_STATUSES)
        self.log = logging.getLogger(logger)
        self.calls = 0
        self.failed_calls = 0

    def close(self) -> None:
        self.http.close()

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after is not None:
            return min(error.retry_after, self.retry.longest_wait)
        return wait_exponential_jitter(
            multiplier=self.retry.initial, max=self.retry.maximum, jitter=self.retry.jitter
        )(state)

    def _worth_repeating(self, error: BaseException) -> bool:
        if not isinstance(error, Retryable):
            return False
        too_long = error.retry_after is not None and error.retry_after > self.retry.longest_wait
        return not (too_long and self.retry.hand_back_longer_waits)

    def request(
        self, method: str, url: str, *, operation: str = "default", **kwargs
    ) -> httpx.Response:
        """One call, retried as the policy says."""
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception(self._worth_repeating),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self._attempt, method, url, operation, kwargs, [False])

    def _attempt(self, method, url, operation, kwargs, refreshed: list[bool]) -> httpx.Response:
        if self.limiter is not None:
            self.limiter.acquire(operation)
        self.calls += 1
        started = time.perf_counter()
        where = f"{self.name} {method} {safe_url(url)}"
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            self.failed_calls += 1
            self.log.warning("%s: timed out", where)
            raise Retryable(f"timed out ({type(exc).__name__})", error=exc) from None
        except httpx.TransportError as exc:
            self.failed_calls += 1
            self.log.warning("%s: %s", where, type(exc).__name__)
            raise Retryable(f"connection failed ({type(exc).__name__})", error=exc) from None
        status = response.status_code
        self.log.debug("%s -> %s in %.3fs", where, status, time.perf_counter() - started)
        if status >= 400 and self.retryable(response):
            self.failed_calls += 1
            self.log.warning("%s -> %s", where, status)
            raise Retryable(
                f"HTTP {status}",
                retry_after=self.wait_for(response),
                status=status,
                response=response,
            )
        if status in (401, 403) and self.on_unauthorized is not None and not refreshed[0]:
            refreshed[0] = True
            if self.on_unauthorized():
                return self._attempt(method, url, operation, kwargs, refreshed)
        if status >= 400:
            self.failed_calls += 1
            raise Refused(response)
        return response


def excerpt(response: httpx.Response, limit: int = 300) -> str:
    """The start of an error answer's body on one line, for a message."""
    return response.text.strip().replace("\n", " ")[:limit]
