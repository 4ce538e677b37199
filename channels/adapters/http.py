"""The channel adapters' HTTP client: the one client (`ims.http`) with a channel's name and
the channels' errors (ChannelUnreachable once retrying gave up, ProviderRefused for a 4xx)."""

from __future__ import annotations

import httpx

from channels.errors import ChannelUnreachable, ProviderRefused
from ims.http import HttpClient, Refused, Retryable, excerpt, safe_url


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
