"""A channel's Amazon SQS queue (Amazon's ORDER_CHANGE notifications): read and delete
messages over the AWS JSON 1.0 protocol, the protocol botocore itself speaks to SQS.

- Each call is `POST /` to the queue URL's host with `X-Amz-Target: AmazonSQS.<Operation>`
  and `Content-Type: application/x-amz-json-1.0`, the queue URL in the JSON body.
- Each is signed with Signature Version 4 by botocore (`SigV4Auth` on an `AWSRequest`),
  signed again on every retry (a fresh `X-Amz-Date`), and sent through the one HTTP client
  (`ims.http`, as every channel call: timeouts, retries, errors as the channels' own).
- `receive`: `ReceiveMessage` with long polling (`WaitTimeSeconds`), up to 10 messages, each
  hidden from other readers for `VisibilityTimeout` seconds; a message whose `MD5OfBody` does
  not match its body is marked so (the caller leaves it: it comes back).
- `delete`: `DeleteMessageBatch` (10 a call) by the receipt handles of the messages read.
- Errors: SQS's JSON error (`__type`, `message`, `x-amzn-query-error`) in the message of a
  ProviderRefused; a throttled call (`RequestThrottled`, `ThrottlingException`) is retried
  like a 429.

Settings (environment): `IMS_CHANNEL_<CODE>_SQS_QUEUE_URL`, `…_AWS_ACCESS_KEY_ID`,
`…_AWS_SECRET_ACCESS_KEY` (required), `…_AWS_SESSION_TOKEN` (temporary credentials);
`…_AWS_REGION` (else read from the queue URL, `sqs.<region>.amazonaws.com`);
`…_SQS_WAIT_SECONDS` (long polling, 0–20, default 10), `…_SQS_VISIBILITY_SECONDS`
(default 120: longer than storing ten messages takes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from channels.adapters.base import AdapterConfig, chunks
from channels.adapters.http import ProviderClient
from channels.errors import ChannelNotConfigured
from ims.http import RETRY_STATUSES

SERVICE = "sqs"
TARGET_PREFIX = "AmazonSQS"
CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_MESSAGES = 10  # ReceiveMessage and DeleteMessageBatch take at most 10
# What SigV4 signs besides X-Amz-Date (and X-Amz-Security-Token): what says where the call
# goes and what it does. Headers a proxy may rewrite (Connection, Accept-Encoding) are not.
SIGNED_HEADERS = ("host", "content-type", "x-amz-target")
THROTTLED = ("RequestThrottled", "ThrottlingException", "Throttling")
_REGION_IN_HOST = (
    re.compile(
        r"(?:^|\.)sqs[.-]([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$"
    ),
    re.compile(r"^([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.queue\.amazonaws\.com$"),
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class SigV4(httpx.Auth):
    """httpx auth that signs each request (each retry too) with botocore's SigV4Auth."""

    requires_request_body = True

    def __init__(self, credentials: Credentials, *, region: str, service: str = SERVICE):
        self.credentials = credentials
        self.region = region
        self.service = service

    def auth_flow(self, request: httpx.Request):
        signed = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={
                name: request.headers[name] for name in SIGNED_HEADERS if name in request.headers
            },
        )
        SigV4Auth(self.credentials, self.service, self.region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        yield request


def region_of(queue_url: str) -> str:
    """The AWS region an SQS queue URL names ('' when its host names none)."""
    host = httpx.URL(queue_url).host
    for pattern in _REGION_IN_HOST:
        found = pattern.search(host)
        if found:
            return found.group(1)
    return "us-east-1" if host == "queue.amazonaws.com" else ""


@dataclass(frozen=True)
class QueueMessage:
    """One message as ReceiveMessage gave it: its body as UTF-8 bytes, the receipt handle
    that deletes it, how often it was received, and whether its body matched its MD5."""

    message_id: str
    receipt_handle: str
    body: bytes
    receive_count: int = 1
    intact: bool = True


class SqsQueue:
    """One channel's SQS queue, read and deleted through a ProviderClient."""

    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = (
        "SQS_QUEUE_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    )
    optional_settings: ClassVar[tuple[str, ...]] = (
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "SQS_WAIT_SECONDS",
        "SQS_VISIBILITY_SECONDS",
    )

    def __init__(
        self,
        config: AdapterConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self.url = config.secret("SQS_QUEUE_URL")
        url = httpx.URL(self.url)
        if url.scheme not in ("https", "http") or not url.host or url.path.count("/") < 2:
            raise ChannelNotConfigured(
                f"channel {config.code}: {config.env_prefix}SQS_QUEUE_URL is no SQS queue URL "
                "(https://sqs.<region>.amazonaws.com/<account>/<queue>)",
                extra={"variable": config.env_prefix + "SQS_QUEUE_URL"},
            )
        if url.scheme == "http" and url.host not in _LOOPBACK:
            raise ChannelNotConfigured(
                f"channel {config.code}: {config.env_prefix}SQS_QUEUE_URL must be https",
                extra={"variable": config.env_prefix + "SQS_QUEUE_URL"},
            )
        self.region = config.setting("AWS_REGION") or region_of(self.url)
        if not self.region:
            raise ChannelNotConfigured(
                f"channel {config.code}: the queue URL names no region; set "
                f"{config.env_prefix}AWS_REGION",
                extra={"variable": config.env_prefix + "AWS_REGION"},
            )
        credentials = Credentials(
            config.secret("AWS_ACCESS_KEY_ID"),
            config.secret("AWS_SECRET_ACCESS_KEY"),
            config.setting("AWS_SESSION_TOKEN") or None,
        )
        self.wait_seconds = _seconds(config, "SQS_WAIT_SECONDS", 10, most=20)
        self.visibility_seconds = _seconds(config, "SQS_VISIBILITY_SECONDS", 120, most=43_200)
        self.client = ProviderClient(
            channel=config.code,
            base_url=str(url.copy_with(path="/", query=None, fragment=None)),
            headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
            auth=SigV4(credentials, region=self.region),
            # A long poll holds the answer for up to wait_seconds.
            timeout=httpx.Timeout(self.wait_seconds + 20.0, connect=5.0, pool=5.0),
            retryable=_retryable,
            transport=transport,
            sleep=sleep,
        )

    def close(self) -> None:
        self.client.close()

    def call(self, operation: str, payload: dict) -> dict:
        response = self.client.request(
            "POST",
            "/",
            operation=operation,
            content=json.dumps({"QueueUrl": self.url, **payload}, separators=(",", ":")),
            headers={"X-Amz-Target": f"{TARGET_PREFIX}.{operation}"},
        )
        return json.loads(response.content) if response.content else {}

    def receive(self, *, max_messages: int = MAX_MESSAGES) -> list[QueueMessage]:
        """Up to `max_messages` messages, waiting up to wait_seconds for the first one; each
        is hidden from every reader for visibility_seconds, then comes back unless deleted."""
        body = self.call(
            "ReceiveMessage",
            {
                "MaxNumberOfMessages": max(1, min(max_messages, MAX_MESSAGES)),
                "WaitTimeSeconds": self.wait_seconds,
                "VisibilityTimeout": self.visibility_seconds,
                "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
            },
        )
        messages = []
        for item in body.get("Messages") or []:
            text = item.get("Body") or ""
            raw = text.encode("utf-8", "surrogatepass")
            md5 = item.get("MD5OfBody")
            attributes = item.get("Attributes") or {}
            count = str(attributes.get("ApproximateReceiveCount") or "1")
            messages.append(
                QueueMessage(
                    message_id=str(item.get("MessageId") or ""),
                    receipt_handle=str(item["ReceiptHandle"]),
                    body=raw,
                    receive_count=int(count) if count.isdigit() else 1,
                    intact=md5 is None
                    or hashlib.md5(raw, usedforsecurity=False).hexdigest() == md5,
                )
            )
        return messages

    def delete(self, messages: Sequence[QueueMessage]) -> list[str]:
        """Delete the messages read (by their receipt handles), 10 a call; returns the ids
        SQS could not delete, each with why (they come back and are read again)."""
        failed = []
        for batch in chunks(list(messages), MAX_MESSAGES):
            ids = {str(n): m for n, m in enumerate(batch)}
            body = self.call(
                "DeleteMessageBatch",
                {"Entries": [{"Id": n, "ReceiptHandle": m.receipt_handle} for n, m in ids.items()]},
            )
            for entry in body.get("Failed") or []:
                message = ids.get(str(entry.get("Id")))
                name = message.message_id if message else str(entry.get("Id"))
                failed.append(f"{name}: {entry.get('Code')}: {entry.get('Message', '')}".strip())
        return failed


def _seconds(config: AdapterConfig, name: str, default: int, *, most: int) -> int:
    """A whole number of seconds from 0 to `most` (what SQS accepts), else the variable named."""
    value = config.setting(name, str(default)).strip()
    if not value.isdigit() or int(value) > most:
        raise ChannelNotConfigured(
            f"channel {config.code}: {config.env_prefix}{name} must be a whole number of "
            f"seconds from 0 to {most}",
            extra={"variable": config.env_prefix + name},
        )
    return int(value)


def _retryable(response: httpx.Response) -> bool:
    """429 and 5xx, and SQS's throttling answers (400 with a throttling error type)."""
    if response.status_code in RETRY_STATUSES:
        return True
    if response.status_code != 400:
        return False
    kind = response.headers.get("x-amzn-query-error", "")
    with contextlib.suppress(ValueError, AttributeError):  # not JSON, or no object
        kind += " " + str(response.json().get("__type", ""))
    return any(name in kind for name in THROTTLED)
