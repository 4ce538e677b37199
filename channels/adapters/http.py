"""The channel adapters' HTTP client: the one client (`ims.http`) with a channel's name and
the channels' errors (ChannelUnreachable once retrying gave up, ProviderRefused for a 4xx);
and HttpAdapter, the constructor and close() the HTTP adapters share."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import ClassVar

import httpx

from channels.adapters.base import AdapterConfig, Capabilities, json_dumps, json_loads
from channels.errors import ChannelUnreachable, ProviderRefused
from ims.http import HttpClient, RateLimiter, Refused, Retryable, excerpt, safe_url


class ProviderClient(HttpClient):
    """HttpClient for one channel (`channel`), logging as ims.channels.http."""

    def __init__(self, *, channel: str, **options):
        super().__init__(name=channel, logger="ims.channels.http", **options)
        self.channel = channel

    def request(
        self, method: str, url: str, *, operation: str = "default", **kwargs
    ) -> httpx.Response:
        """One call, retried as the policy says; raises ChannelUnreachable or ProviderRefused."""
        try:
            return super().request(method, url, operation=operation, **kwargs)
        except Retryable as exc:
            raise ChannelUnreachable(
                f"{self.channel}: {method} {safe_url(url)}: {exc.reason} "
                f"(gave up after {self.retry.attempts} attempts)",
                extra={"status": exc.status},
            ) from None
        except Refused as exc:
            raise ProviderRefused(
                f"{self.channel}: {method} {safe_url(url)}: HTTP {exc.status}: "
                f"{excerpt(exc.response)}",
                status=exc.status,
            ) from None


class HttpAdapter:
    """What every adapter over one provider's JSON API shares: its config, one ProviderClient
    paced by a RateLimiter (`rates`, keyed by kind and channel) and close(). A subclass gives
    its auth headers (`auth_headers`) and any other client option (auth, on_unauthorized)."""

    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities(webhooks=True, compare_and_set=False)
    rates: ClassVar[Mapping[str, str]] = {"default": "10/second"}

    def __init__(
        self,
        config: AdapterConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **client_options,
    ):
        self.config = config
        self.sleep = sleep
        self.client = ProviderClient(
            channel=config.code,
            base_url=config.base_url,
            headers={
                **self.auth_headers(),
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            limiter=self.limiter(),
            transport=transport,
            sleep=sleep,
            **client_options,
        )

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate every call (none where auth comes otherwise)."""
        return {}

    def limiter(self) -> RateLimiter:
        return RateLimiter(key=f"{self.kind}:{self.config.code}", rates=self.rates)

    def _request(self, method: str, url: str, **kwargs) -> httpx.Response:
        """One call through the client (an adapter that paces itself by the provider's answer
        headers overrides it)."""
        return self.client.request(method, url, **kwargs)

    def send(self, write: Mapping) -> dict:
        """One write as a publish records it (`{"method", "path", "body"}`: no body for none),
        sent; the provider's JSON answer ({} when it answers nothing)."""
        body = write["body"]
        response = self._request(
            write["method"],
            write["path"],
            **({"content": json_dumps(body)} if body is not None else {}),
        )
        return json_loads(response.content) if response.content.strip() else {}

    def close(self) -> None:
        self.client.close()
