"""The one outbound HTTP client: the provider's wait read from its headers, the rate limiter,
a wait too long handed back when the caller says so, and no password of a URL in a log line."""

import logging
import time

import httpx
import pytest

from ims.http import HttpClient, RateLimiter, Retryable, RetryPolicy, retry_after


def test_rate_limit_headers_give_the_wait():
    assert retry_after(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after(httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": "1500"})) == 1.5
    assert (
        retry_after(httpx.Response(429, headers={"X-RateLimit-Reset": "1000000100"}), now=1e9)
        == 100
    )
    assert retry_after(httpx.Response(429)) is None


def test_the_limiter_makes_a_call_over_the_channels_rate_wait():
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    limiter = RateLimiter(key="test-limiter", rates={"default": "3/second"}, sleep=sleep)
    for _ in range(3):
        assert limiter.acquire() == 0
    assert waits == []
    # The fourth call in the same second waits for the moving window to let it through.
    assert limiter.acquire() > 0.5
    assert sum(waits) > 0.5


def client_for(handler, waits, **options):
    return HttpClient(
        name="provider",
        base_url="https://provider.test",
        transport=httpx.MockTransport(handler),
        sleep=waits.append,
        **options,
    )


def test_a_wait_longer_than_the_caller_may_hold_is_handed_back_at_once():
    waits, calls = [], []

    def handler(request):
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "3600"})

    policy = RetryPolicy(attempts=3, longest_wait=30, hand_back_longer_waits=True)
    with pytest.raises(Retryable) as caught:
        client_for(handler, waits, retry=policy).request("POST", "/send")
    assert caught.value.retry_after == 3600 and caught.value.status == 429
    assert len(calls) == 1 and waits == []


def test_a_long_wait_is_capped_when_the_caller_holds_on():
    waits = []
    answers = [httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(200)]
    client = client_for(lambda request: answers.pop(0), waits, retry=RetryPolicy(longest_wait=30))
    assert client.request("GET", "/x").status_code == 200
    assert waits == [30]


def test_no_user_password_or_query_of_a_url_reaches_a_log_line(caplog):
    caplog.set_level(logging.DEBUG, logger="ims.http")
    waits = []
    answers = [httpx.Response(503), httpx.Response(200)]
    client = client_for(lambda request: answers.pop(0), waits)
    client.request("GET", "https://admin:pa55word@provider.test/items?api_key=k-999")
    assert "provider.test/items" in caplog.text
    assert "pa55word" not in caplog.text and "admin" not in caplog.text
    assert "k-999" not in caplog.text
