"""The channel adapters' client (the one HTTP client with the channels' errors): timeouts,
retries with backoff on 429/5xx honouring the provider's headers, and no secret in any log line."""

import logging

import httpx
import pytest

from channels.adapters.http import ProviderClient
from channels.errors import ChannelUnreachable, ProviderRefused
from ims.http import RetryPolicy


def client_for(handler, clock, **options):
    return ProviderClient(
        channel="shop",
        base_url="https://provider.test",
        headers={"Authorization": "Bearer s3cret-token"},
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        **options,
    )


def test_a_429_storm_is_waited_out_as_the_provider_asks(clock):
    answers = [httpx.Response(429, headers={"Retry-After": "2"})] * 4 + [
        httpx.Response(200, json={"ok": True})
    ]
    client = client_for(lambda request: answers.pop(0), clock)
    assert client.request("GET", "/v3/items").json() == {"ok": True}
    assert clock.sleeps == [2.0, 2.0, 2.0, 2.0]
    assert (client.calls, client.failed_calls) == (5, 4)


def test_a_500_then_success_backs_off_with_jitter(clock):
    answers = [httpx.Response(500), httpx.Response(503), httpx.Response(200, json=[1])]
    client = client_for(lambda request: answers.pop(0), clock)
    assert client.request("GET", "/x").json() == [1]
    assert len(clock.sleeps) == 2
    assert all(0 < s <= 30 for s in clock.sleeps)


def test_a_timeout_is_retried_and_then_given_up_as_unreachable(clock):
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    client = client_for(handler, clock, retry=RetryPolicy(attempts=3))
    with pytest.raises(ChannelUnreachable) as caught:
        client.request("POST", "/batch")
    assert "timed out" in caught.value.message and "3 attempts" in caught.value.message
    assert client.calls == 3 and len(clock.sleeps) == 2


def test_a_4xx_is_refused_at_once_without_retrying(clock):
    client = client_for(lambda request: httpx.Response(422, json={"message": "bad sku"}), clock)
    with pytest.raises(ProviderRefused) as caught:
        client.request("PUT", "/v3/x")
    assert caught.value.status == 422 and "bad sku" in caught.value.message
    assert client.calls == 1 and clock.sleeps == []


def test_an_unauthorized_answer_refreshes_the_token_once_and_goes_again(clock):
    tokens = iter(["fresh"])
    seen = []

    def handler(request):
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] != "Bearer fresh":
            return httpx.Response(401, json={"error": "expired"})
        return httpx.Response(200, json={})

    client = client_for(handler, clock)

    def refresh():
        client.http.headers["Authorization"] = f"Bearer {next(tokens)}"
        return True

    client.on_unauthorized = refresh
    client.request("GET", "/x")
    assert seen == ["Bearer s3cret-token", "Bearer fresh"]


def test_no_secret_reaches_a_log_line(clock, caplog):
    caplog.set_level(logging.DEBUG, logger="ims.channels.http")
    answers = [httpx.Response(500), httpx.Response(200, json={})]
    client = client_for(lambda request: answers.pop(0), clock)
    client.request("GET", "/items?consumer_secret=cs_123")
    text = caplog.text
    assert "/items" in text
    assert "s3cret-token" not in text and "cs_123" not in text
