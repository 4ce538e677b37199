"""The WhatsApp Business Cloud API adapter: template messages out, webhook signatures in.

Adapters translate, services decide: this module knows the URL, the auth header, the
payload and the error shapes, and returns plain dataclasses; it never touches the ORM.
It calls through the one HTTP client (`ims.http`), with timeouts; 429, 5xx and Meta's
throttling codes are retried with backoff, honouring Retry-After (up to 30 seconds; a
longer wait is handed back to the caller as a retryable error). The access token is never logged, and
phone numbers appear in logs only masked.

Request (Meta's documented shape):
    POST {base}/{phone-number-id}/messages   Authorization: Bearer <token>
    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+14155550100",
     "type": "template",
     "template": {"name": "...", "language": {"code": "en_US"},
                  "components": [{"type": "body", "parameters": [{"type": "text", "text": "…"}]},
                                 {"type": "button", "sub_type": "url", "index": "0",
                                  "parameters": [{"type": "text", "text": "…"}]}]}}
Answer 200: {"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
             "messages": [{"id": "wamid…", "message_status": "accepted"}]}
Error: {"error": {"message", "type", "code", "error_subcode"?, "error_data": {"details"},
                  "fbtrace_id"}}
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
import phonenumbers

from ims.http import HttpClient, Refused, Retryable, RetryPolicy, retry_after

log = logging.getLogger("ims.whatsapp")

# Meta's error codes (Cloud API "Error codes" page).
THROTTLED = {4, 80007, 130429, 131048, 131056}  # rate limits: try again later
TEMPLATE_STATUS = {132001: "rejected", 132015: "paused", 132016: "disabled"}


class PhoneInvalid(ValueError):
    pass


def e164(number: str, region: str | None = None) -> str:
    """A phone number in E.164 (`+14155550100`), or PhoneInvalid naming what is wrong."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneInvalid(f"'{mask(number)}' is not a phone number ({exc})") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneInvalid(f"'{mask(number)}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask(number: str) -> str:
    """A phone number as logs may show it: its last 4 digits only."""
    digits = "".join(c for c in number if c.isdigit())
    return f"…{digits[-4:]}" if len(digits) > 4 else "…"


def signature_valid(*, app_secret: str, body: bytes, header: str | None) -> bool:
    """Meta's X-Hub-Signature-256: `sha256=` + hex HMAC-SHA256 of the raw body (app secret)."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


@dataclass(frozen=True)
class TemplateMessage:
    to: str  # E.164
    template: str
    language: str
    body: tuple[str, ...] = ()
    button: str | None = None  # the variable suffix of the template's first URL button

    def payload(self) -> dict:
        components = []
        if self.body:
            components.append(
                {"type": "body", "parameters": [{"type": "text", "text": v} for v in self.body]}
            )
        if self.button is not None:
            components.append(
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": self.button}],
                }
            )
        template = {"name": self.template, "language": {"code": self.language}}
        if components:
            template["components"] = components
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": self.to,
            "type": "template",
            "template": template,
        }


@dataclass(frozen=True)
class Sent:
    message_id: str
    wa_id: str


@dataclass
class WhatsAppError(Exception):
    """A send that did not go through. `retryable`: try again later (after `retry_after`
    seconds if the provider said); `template_status`: Meta refused the template itself."""

    message: str
    status: int | None = None
    code: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    template_status: str = ""

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no answer"
        code = f", code {self.code}" if self.code else ""
        return f"{self.message} ({where}{code})"


def _error_body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return (body.get("error") or {}) if isinstance(body, dict) else {}


def _retryable(response: httpx.Response, code=None) -> bool:
    """429, 5xx and Meta's throttling codes are worth trying again."""
    status = response.status_code
    if code is None:
        code = _error_body(response).get("code")
    return status == 429 or status >= 500 or code in THROTTLED


class WhatsAppClient:
    def __init__(
        self,
        *,
        base_url: str,
        phone_number_id: str,
        access_token: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        if not (base_url and phone_number_id and access_token):
            raise ValueError("WhatsApp needs a base URL, a phone number id and an access token")
        self.phone_number_id = phone_number_id
        # Three calls at most, 1 s, 2 s (+ up to 0.5 s) apart or what Retry-After asks; an ask
        # longer than 30 s is handed back at once: the outbox tries again later.
        self.http = HttpClient(
            name="WhatsApp",
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
            retry=RetryPolicy(
                attempts=3,
                initial=1.0,
                maximum=30.0,
                longest_wait=30.0,
                jitter=0.5,
                hand_back_longer_waits=True,
            ),
            sleep=sleep,
            retryable=_retryable,
            logger="ims.whatsapp",
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> WhatsAppClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send_template(self, message: TemplateMessage) -> Sent:
        """Send one template message; raises WhatsAppError when it does not go through."""
        try:
            response = self.http.request(
                "POST", f"{self.phone_number_id}/messages", json=message.payload()
            )
        except (Retryable, Refused) as exc:
            if exc.response is None:
                error = WhatsAppError(
                    f"could not reach WhatsApp: {type(exc.error).__name__}", retryable=True
                )
            else:
                error = self._error(exc.response)
        else:
            if response.status_code == 200:
                return self._sent(response)
            error = self._error(response)
        log.warning("WhatsApp %s to %s: %s", message.template, mask(message.to), error)
        raise error

    @staticmethod
    def _sent(response: httpx.Response) -> Sent:
        body = response.json()
        try:
            message_id = body["messages"][0]["id"]
        except (KeyError, IndexError, TypeError) as exc:
            raise WhatsAppError(
                "WhatsApp answered 200 without a message id", status=200, retryable=False
            ) from exc
        contacts = body.get("contacts") or [{}]
        return Sent(message_id=message_id, wa_id=str(contacts[0].get("wa_id", "")))

    @staticmethod
    def _error(response: httpx.Response) -> WhatsAppError:
        error = _error_body(response)
        code = error.get("code")
        details = (error.get("error_data") or {}).get("details", "")
        text = error.get("message") or response.reason_phrase or "error"
        if details:
            text = f"{text}: {details}"
        status = response.status_code
        retryable = _retryable(response, code)
        return WhatsAppError(
            text[:500],
            status=status,
            code=code,
            retryable=retryable,
            retry_after=retry_after(response) if retryable else None,
            template_status=TEMPLATE_STATUS.get(code, ""),
        )


def client_from_settings() -> WhatsAppClient | None:
    """The configured client, or None where WhatsApp is not set up (IMS_WHATSAPP_*)."""
    from django.conf import settings

    if not (settings.IMS_WHATSAPP_PHONE_NUMBER_ID and settings.IMS_WHATSAPP_ACCESS_TOKEN):
        return None
    return WhatsAppClient(
        base_url=settings.IMS_WHATSAPP_BASE_URL,
        phone_number_id=settings.IMS_WHATSAPP_PHONE_NUMBER_ID,
        access_token=settings.IMS_WHATSAPP_ACCESS_TOKEN,
    )


def inbound_messages(payload: Mapping) -> list[dict]:
    """The customer messages in a webhook payload (entry[].changes[].value.messages[])."""
    found = []
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            names = {
                c.get("wa_id"): (c.get("profile") or {}).get("name", "")
                for c in value.get("contacts") or []
            }
            for message in value.get("messages") or []:
                found.append({**message, "profile_name": names.get(message.get("from"), "")})
    return found


def status_updates(payload: Mapping) -> list[dict]:
    """Delivery statuses of messages we sent (entry[].changes[].value.statuses[])."""
    return [
        status
        for entry in payload.get("entry") or []
        for change in entry.get("changes") or []
        for status in (change.get("value") or {}).get("statuses") or []
    ]
