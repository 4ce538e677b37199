"""The WhatsApp adapter against the local fake of the Cloud API: the documented request,
a template rejection, 429 with Retry-After, 5xx, and numbers in E.164."""

from __future__ import annotations

import logging

import httpx
import pytest

from notifications.whatsapp import (
    PhoneInvalid,
    TemplateMessage,
    WhatsAppClient,
    WhatsAppError,
    e164,
    signature_valid,
)
from standins import whatsapp as fake

MESSAGE = TemplateMessage(
    to="+14155550100", template="ims_order_received", language="en_US", body=("Asha", "#1001")
)


def test_a_template_message_goes_out_in_the_documented_shape(cloud_api, wa):
    sent = wa.send_template(MESSAGE)
    assert sent.message_id.startswith("wamid.") and sent.wa_id == "14155550100"
    assert cloud_api.sent == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+14155550100",
            "type": "template",
            "template": {
                "name": "ims_order_received",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Asha"},
                            {"type": "text", "text": "#1001"},
                        ],
                    }
                ],
            },
        }
    ]


def test_a_url_button_carries_its_suffix(cloud_api, wa):
    wa.send_template(
        TemplateMessage(
            to="+14155550100",
            template="ims_payment_link",
            language="en_US",
            body=("Asha", "#1001"),
            button="https://pay.example.com/x",
        )
    )
    button = cloud_api.sent[0]["template"]["components"][1]
    assert button == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "https://pay.example.com/x"}],
    }


def test_a_template_the_account_does_not_have_is_refused_and_not_retried(cloud_api, wa, waits):
    with pytest.raises(WhatsAppError) as refused:
        wa.send_template(
            TemplateMessage(to="+14155550100", template="ims_unknown", language="en_US")
        )
    error = refused.value
    assert (error.status, error.code, error.retryable, error.template_status) == (
        400,
        132001,
        False,
        "rejected",
    )
    assert "does not exist" in str(error)
    assert len(cloud_api.requests) == 1 and waits == []


def test_a_parameter_count_mismatch_is_refused(cloud_api, wa):
    with pytest.raises(WhatsAppError) as refused:
        wa.send_template(
            TemplateMessage(
                to="+14155550100", template="ims_order_received", language="en_US", body=("x",)
            )
        )
    assert refused.value.code == 132000 and not refused.value.retryable


def test_a_429_waits_as_long_as_retry_after_says_then_goes_through(cloud_api, wa, waits):
    cloud_api.answer_next(429, retry_after="2")
    sent = wa.send_template(MESSAGE)
    assert sent.message_id
    assert waits == [2.0]
    assert [r["status"] for r in cloud_api.requests] == [429, 200]


def test_429_every_time_gives_up_after_the_attempts_as_retryable(cloud_api, wa, waits):
    cloud_api.answer_next(429, retry_after="1", times=3)
    with pytest.raises(WhatsAppError) as throttled:
        wa.send_template(MESSAGE)
    assert throttled.value.retryable and throttled.value.code == 130429
    assert throttled.value.retry_after == 1.0
    assert waits == [1.0, 1.0] and len(cloud_api.requests) == 3


def test_a_retry_after_longer_than_a_worker_may_wait_is_handed_back(cloud_api, wa, waits):
    cloud_api.answer_next(429, retry_after="3600")
    with pytest.raises(WhatsAppError) as throttled:
        wa.send_template(MESSAGE)
    assert throttled.value.retryable and throttled.value.retry_after == 3600.0
    assert waits == [] and len(cloud_api.requests) == 1


def test_server_errors_back_off_and_retry(cloud_api, wa, waits):
    cloud_api.answer_next(503)
    assert wa.send_template(MESSAGE).message_id
    assert len(waits) == 1 and 1 <= waits[0] < 2


def test_neither_the_token_nor_the_customers_number_reaches_a_log_line(
    cloud_api, wa, waits, caplog
):
    caplog.set_level(logging.DEBUG, logger="ims.whatsapp")
    cloud_api.answer_next(503)
    cloud_api.answer_next(400, code=132001)
    with pytest.raises(WhatsAppError):
        wa.send_template(MESSAGE)
    assert "503" in caplog.text and "…0100" in caplog.text
    assert fake.TOKEN not in caplog.text and "4155550100" not in caplog.text


def test_a_wrong_token_is_refused(cloud_api):
    with (
        WhatsAppClient(
            base_url=cloud_api.url,
            phone_number_id=fake.PHONE_NUMBER_ID,
            access_token="wrong",
            sleep=lambda s: None,
        ) as bad,
        pytest.raises(WhatsAppError) as refused,
    ):
        bad.send_template(MESSAGE)
    assert (refused.value.status, refused.value.code) == (401, 190)
    assert "wrong" not in str(refused.value)  # the token is never echoed


def test_an_unreachable_api_is_retryable():
    def down(request):
        raise httpx.ConnectError("refused", request=request)

    with (
        WhatsAppClient(
            base_url="http://127.0.0.1:9/v21.0",
            phone_number_id="1",
            access_token="t",
            transport=httpx.MockTransport(down),
            sleep=lambda s: None,
        ) as c,
        pytest.raises(WhatsAppError) as error,
    ):
        c.send_template(MESSAGE)
    assert error.value.retryable and error.value.status is None


def test_numbers_are_normalised_to_e164():
    assert e164("+1 (415) 555-0100") == "+14155550100"
    assert e164("098 1234 5678", "IN") == "+919812345678"
    assert e164("+91 98123 45678") == "+919812345678"
    for bad in ("12345", "not a phone", "+1 555 0100"):
        with pytest.raises(PhoneInvalid):
            e164(bad)


def test_meta_signatures():
    import hashlib
    import hmac

    body = b'{"object":"whatsapp_business_account"}'
    good = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert signature_valid(app_secret="app-secret", body=body, header=good)
    assert not signature_valid(app_secret="app-secret", body=body + b" ", header=good)
    assert not signature_valid(app_secret="app-secret", body=body, header=None)
    assert not signature_valid(app_secret="", body=body, header=good)
