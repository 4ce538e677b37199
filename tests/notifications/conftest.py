"""Fixtures for customer messages: the local fake Cloud API, a client pointed at it that
records its waits instead of sleeping, approved templates, and an order with a phone."""

from __future__ import annotations

import pytest

from notifications.models import MessageTemplate, TemplateStatus
from notifications.whatsapp import WhatsAppClient
from standins import whatsapp as fake
from tests.sla.conftest import people, place, store  # noqa: F401 (shared fixtures)

PHONE = "+14155550100"

TEMPLATES = {
    # kind: (name, parameters, button parameter)
    "order_received": ("ims_order_received", ["customer_name", "order"], ""),
    "order_dispatched": ("ims_order_dispatched", ["customer_name", "order", "tracking_number"], ""),
    "payment_link": ("ims_payment_link", ["customer_name", "order"], "url"),
    "prescription_otp": ("ims_prescription_code", ["code"], "code"),
    "inbound_reply": ("ims_shop_pointer", ["shop_url"], ""),
}


@pytest.fixture
def cloud_api(settings):
    api = fake.FakeCloudApi()
    server, thread = fake.serve(api)
    settings.IMS_WHATSAPP_BASE_URL = api.url
    settings.IMS_WHATSAPP_PHONE_NUMBER_ID = fake.PHONE_NUMBER_ID
    settings.IMS_WHATSAPP_ACCESS_TOKEN = fake.TOKEN
    for name, params, button in TEMPLATES.values():
        api.add_template(name, body_params=len(params), url_button=bool(button))
    yield api
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def waits():
    return []


@pytest.fixture
def wa(cloud_api, waits):
    with WhatsAppClient(
        base_url=cloud_api.url,
        phone_number_id=fake.PHONE_NUMBER_ID,
        access_token=fake.TOKEN,
        timeout=5,
        sleep=waits.append,
    ) as c:
        yield c


@pytest.fixture
def templates(db):
    """IMS's templates for these kinds, approved (the migration leaves them pending)."""
    MessageTemplate.objects.all().delete()
    return {
        kind: MessageTemplate.objects.create(
            kind=kind,
            name=name,
            parameters=params,
            button_parameter=button,
            status=TemplateStatus.APPROVED,
        )
        for kind, (name, params, button) in TEMPLATES.items()
    }
