"""Prescription access behind a one-time password: sent to the order's own number, stored
only as an HMAC, single use, time-limited, rate-limited, locked after a few wrong codes, and
never opening another order's prescription. Every refusal is in the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ims.models import AuditEvent
from ims.roles import Role
from notifications.errors import AccessRefused, MessageError
from notifications.models import Prescription, PrescriptionOtp
from notifications.services.prescriptions import (
    prescription_attach,
    prescription_link_open,
    prescription_otp_request,
    prescription_otp_verify,
)
from tests.notifications.conftest import PHONE
from tests.sla.conftest import ny

pytestmark = pytest.mark.django_db

T0 = ny(2026, 11, 16, 10, 0)
PDF = b"%PDF-1.4 a prescription"
OTHER_PHONE = "+14155550199"


@pytest.fixture
def orders(store, place, user_with_role):
    """Order 1001 (Asha, PHONE) and 2002 (someone else), each with a prescription."""
    clerk = user_with_role(Role.STORE_STAFF, "pharmacist")
    mine, theirs = place("1001", T0, phone=PHONE), place("2002", T0, phone=OTHER_PHONE)
    for order in (mine, theirs):
        prescription_attach(
            order=order,
            upload=SimpleUploadedFile(f"rx-{order.external_id}.pdf", PDF, "application/pdf"),
            actor=clerk,
        )
    return mine, theirs


def sent_code(cloud_api) -> str:
    """The code as the customer reads it on WhatsApp (the fake saw the request)."""
    return cloud_api.sent[-1]["template"]["components"][0]["parameters"][0]["text"]


def refusals() -> list[str]:
    return list(
        AuditEvent.objects.filter(action="prescription_refused")
        .order_by("pk")
        .values_list("reason", flat=True)
    )


def ask(wa, at=T0, number="1001", phone=PHONE):
    return prescription_otp_request(order_number=number, phone=phone, now=at, client=wa)


def test_the_customer_gets_a_code_and_a_short_lived_link_to_their_prescription(
    orders, templates, cloud_api, wa, client
):
    mine, _ = orders
    otp = ask(wa, number="#1001", phone="+1 (415) 555-0100")
    code = sent_code(cloud_api)
    assert len(code) == 6 and code.isdigit()
    sent = cloud_api.sent[-1]
    assert sent["to"] == PHONE and sent["template"]["name"] == "ims_prescription_code"
    # Only an HMAC is stored: the code itself appears in no column.
    stored = PrescriptionOtp.objects.filter(pk=otp.pk).values().get()
    assert code not in "".join(str(v) for v in stored.values())
    assert len(otp.code_hash) == 64

    token = prescription_otp_verify(order_number="1001", phone=PHONE, code=code, now=T0)
    order, prescriptions = prescription_link_open(token=token)
    assert order == mine and [p.filename for p in prescriptions] == ["rx-1001.pdf"]
    response = client.get(f"/rx/{token}/{prescriptions[0].pk}/")
    assert response.status_code == 200 and response.content == PDF
    assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(action="prescription_view").count() == 1


def test_a_code_is_used_once(orders, templates, cloud_api, wa):
    ask(wa)
    code = sent_code(cloud_api)
    prescription_otp_verify(order_number="1001", phone=PHONE, code=code, now=T0)
    with pytest.raises(AccessRefused, match="already used"):
        prescription_otp_verify(order_number="1001", phone=PHONE, code=code, now=T0)
    assert refusals() == ["this code was already used"]


def test_a_code_expires(orders, templates, cloud_api, wa, settings):
    settings.IMS_OTP_TTL_MINUTES = 10
    ask(wa)
    code = sent_code(cloud_api)
    with pytest.raises(AccessRefused, match="expired"):
        prescription_otp_verify(
            order_number="1001", phone=PHONE, code=code, now=T0 + dt.timedelta(minutes=10)
        )
    assert refusals() == ["this code has expired"]
    assert PrescriptionOtp.objects.get().used_at is None


def test_guessing_locks_the_code_after_a_few_wrong_tries(
    orders, templates, cloud_api, wa, settings
):
    settings.IMS_OTP_MAX_ATTEMPTS = 5
    ask(wa)
    code = sent_code(cloud_api)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for n in range(1, 6):
        with pytest.raises(AccessRefused, match=f"wrong code \\({n} of 5\\)"):
            prescription_otp_verify(order_number="1001", phone=PHONE, code=wrong, now=T0)
    otp = PrescriptionOtp.objects.get()
    assert otp.attempts == 5 and otp.locked_at == T0
    # Even the right code no longer opens anything.
    with pytest.raises(AccessRefused, match="too many wrong codes"):
        prescription_otp_verify(order_number="1001", phone=PHONE, code=code, now=T0)
    assert len(refusals()) == 6 and refusals()[-2].endswith("locked, ask for a new code")
    assert PrescriptionOtp.objects.get().used_at is None


def test_asking_for_another_orders_prescription_is_refused(
    orders, templates, cloud_api, wa, client
):
    _, theirs = orders
    # With my phone, their order number: no code is sent.
    with pytest.raises(AccessRefused, match="not the order's"):
        ask(wa, number="2002")
    assert cloud_api.requests == []
    assert refusals() == ["the phone number is not the order's"]
    assert AuditEvent.objects.get(action="prescription_refused").object_id == str(theirs.pk)
    # With my link, their prescription: refused and recorded.
    ask(wa)
    token = prescription_otp_verify(
        order_number="1001", phone=PHONE, code=sent_code(cloud_api), now=T0
    )
    their_file = Prescription.objects.get(order=theirs)
    response = client.get(f"/rx/{token}/{their_file.pk}/")
    assert response.status_code == 403 and PDF not in response.content
    assert refusals()[-1] == "the link is for another order's prescription"


def test_codes_are_rate_limited(orders, templates, cloud_api, wa, settings):
    settings.IMS_OTP_MAX_PER_HOUR = 3
    for minute in range(3):
        ask(wa, at=T0 + dt.timedelta(minutes=minute))
    with pytest.raises(AccessRefused, match="too many codes"):
        ask(wa, at=T0 + dt.timedelta(minutes=4))
    assert len(cloud_api.sent) == 3
    ask(wa, at=T0 + dt.timedelta(minutes=61))  # the hour has passed
    # Only the newest code works.
    older = PrescriptionOtp.objects.order_by("created_at").first()
    assert older.superseded_at is not None


def test_a_stale_or_forged_link_is_refused(orders, templates, cloud_api, wa, client, settings):
    ask(wa)
    token = prescription_otp_verify(
        order_number="1001", phone=PHONE, code=sent_code(cloud_api), now=T0
    )
    mine = Prescription.objects.get(order=orders[0])
    settings.IMS_PRESCRIPTION_LINK_MINUTES = 0  # the link's time is up
    assert client.get(f"/rx/{token}/{mine.pk}/").status_code == 403
    settings.IMS_PRESCRIPTION_LINK_MINUTES = 10
    assert client.get(f"/rx/{token}/{mine.pk}/").status_code == 200
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/rx/{forged}/{mine.pk}/").status_code == 403
    assert refusals()[-2:] == ["the link has expired: ask for a new code", "the link is not valid"]


def test_the_pages_walk_the_customer_through(orders, templates, cloud_api, client, settings):
    page = client.get("/rx/")
    assert page.status_code == 200 and b"Send me a code" in page.content
    response = client.post("/rx/", {"order": "1001", "phone": PHONE})
    assert response.status_code == 200 and b"Enter your code" in response.content
    code = sent_code(cloud_api)
    wrong = client.post(
        "/rx/verify/", {"order": "1001", "phone": PHONE, "code": f"{(int(code) + 1) % 10**6:06d}"}
    )
    assert wrong.status_code == 403 and b"wrong code" in wrong.content
    done = client.post("/rx/verify/", {"order": "1001", "phone": PHONE, "code": code})
    assert done.status_code == 200 and b"rx-1001.pdf" in done.content
    refused = client.post("/rx/", {"order": "2002", "phone": PHONE})
    assert refused.status_code == 403


def test_only_pdf_and_images_are_attached(orders, user_with_role):
    mine, _ = orders
    clerk = user_with_role(Role.STORE_STAFF, "clerk2")
    with pytest.raises(MessageError, match="PDF, JPEG or PNG"):
        prescription_attach(
            order=mine, upload=SimpleUploadedFile("x.html", b"<html>", "text/html"), actor=clerk
        )
    assert Prescription.objects.filter(order=mine).count() == 1
