"""Prescriptions: attached to an order by staff, read by the customer behind a one-time
password sent to the order's own WhatsApp number, then a signed link; every refusal is
recorded."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from ims.audit import audit_record
from ims.permissions import person, require
from notifications.errors import AccessRefused, MessageError
from notifications.models import MessageTemplate, Prescription, PrescriptionOtp, TemplateStatus
from notifications.whatsapp import (
    PhoneInvalid,
    TemplateMessage,
    WhatsAppClient,
    WhatsAppError,
    client_from_settings,
    e164,
    mask,
)
from orders.models import ChannelOrder

log = logging.getLogger("ims.notifications")

PRESCRIPTION_TYPES = {"application/pdf", "image/jpeg", "image/png"}
PRESCRIPTION_MAX_BYTES = 5 * 1024 * 1024
LINK_SALT = "ims.prescription-link"


def prescription_attach(*, order: ChannelOrder, upload, actor) -> Prescription:
    require(actor, "notifications.add_prescription", "attach prescriptions")
    content_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip()
    problems = {}
    if content_type not in PRESCRIPTION_TYPES:
        problems["file"] = [f"a PDF, JPEG or PNG file, not {content_type or 'an unknown type'}"]
    elif upload.size > PRESCRIPTION_MAX_BYTES:
        problems["file"] = [f"at most {PRESCRIPTION_MAX_BYTES // (1024 * 1024)} MB"]
    elif upload.size == 0:
        problems["file"] = ["the file is empty"]
    if problems:
        raise MessageError(
            "; ".join(problems["file"]), code="invalid_prescription", extra={"fields": problems}
        )
    now = timezone.now()
    with transaction.atomic():
        prescription = Prescription.objects.create(
            order=order,
            filename=(upload.name or "prescription")[:255],
            content_type=content_type,
            data=upload.read(),
            size=upload.size,
            uploaded_at=now,
            uploaded_by=person(actor),
        )
        audit_record(
            actor=actor,
            action="prescription_attach",
            obj=prescription,
            after={"order": order.external_id, "filename": prescription.filename},
            at=now,
        )
    return prescription


def _code_hash(salt: str, code: str) -> str:
    return salted_hmac("ims.prescription-otp", f"{salt}:{code}", algorithm="sha256").hexdigest()


def _refuse(order: ChannelOrder | None, reason: str, *, phone: str = "") -> AccessRefused:
    """Record a refused request (audit trail and log) and return the error to raise."""
    audit_record(
        actor=None,
        action="prescription_refused",
        obj=order,
        object_type="" if order else "orders.channelorder",
        object_id="" if order else "?",
        after={"phone": mask(phone)} if phone else None,
        reason=reason,
    )
    log.warning(
        "prescription access refused (order %s, %s): %s", order and order.pk, mask(phone), reason
    )
    return AccessRefused(reason)


def _orders_for(number: str, phone: str) -> tuple[str, ChannelOrder | None, ChannelOrder | None]:
    """(the phone in E.164, the order with this number, a prescription and this phone; else
    one with the number); AccessRefused for a phone that is no number."""
    try:
        phone = e164(phone, settings.IMS_PHONE_REGION)
    except PhoneInvalid as exc:
        raise AccessRefused(str(exc)) from exc
    number = number.strip().lstrip("#")
    candidates = list(
        ChannelOrder.objects.filter(
            Q(external_id=number) | Q(name=number) | Q(name=f"#{number}"),
            prescriptions__isnull=False,
        ).distinct()
    )
    for order in candidates:
        try:
            if e164(order.customer_phone, settings.IMS_PHONE_REGION) == phone:
                return phone, order, order
        except PhoneInvalid:
            continue
    return phone, None, (candidates[0] if candidates else None)


def prescription_otp_request(
    *,
    order_number: str,
    phone: str,
    now: dt.datetime | None = None,
    client: WhatsAppClient | None = None,
) -> PrescriptionOtp:
    """Send a one-time code to the order's own WhatsApp number. Refused (and recorded) when
    the number is not the order's, or after IMS_OTP_MAX_PER_HOUR codes within the hour."""
    now = now or timezone.now()
    phone, order, named = _orders_for(order_number, phone)
    if order is None:
        reason = (
            "the phone number is not the order's"
            if named
            else "no order with a prescription has that number"
        )
        raise _refuse(named, reason, phone=phone)
    since = now - dt.timedelta(hours=1)
    recent = PrescriptionOtp.objects.filter(Q(phone=phone) | Q(order=order), created_at__gt=since)
    if recent.count() >= settings.IMS_OTP_MAX_PER_HOUR:
        raise _refuse(order, "too many codes asked for within the hour", phone=phone)
    template = MessageTemplate.objects.filter(kind="prescription_otp").first()
    if template is None or template.status != TemplateStatus.APPROVED:
        raise MessageError(
            "codes cannot be sent now (no approved template)", code="otp_unavailable"
        )
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(16)
    with transaction.atomic():
        PrescriptionOtp.objects.filter(
            order=order, used_at__isnull=True, superseded_at__isnull=True
        ).update(superseded_at=now)
        otp = PrescriptionOtp.objects.create(
            order=order,
            phone=phone,
            salt=salt,
            code_hash=_code_hash(salt, code),
            created_at=now,
            expires_at=now + dt.timedelta(minutes=settings.IMS_OTP_TTL_MINUTES),
        )
    own_client = client is None
    client = client or client_from_settings()
    try:
        if client is None:
            raise WhatsAppError("WhatsApp is not configured")
        client.send_template(
            TemplateMessage(
                to=phone,
                template=template.name,
                language=template.language,
                body=(code,),
                button=code if template.button_parameter else None,
            )
        )
    except WhatsAppError as exc:
        PrescriptionOtp.objects.filter(pk=otp.pk).update(superseded_at=now)
        raise MessageError(f"the code could not be sent: {exc}", code="otp_not_sent") from exc
    finally:
        if own_client and client is not None:
            client.close()
    return otp


def prescription_otp_verify(
    *, order_number: str, phone: str, code: str, now: dt.datetime | None = None
) -> str:
    """Check a code: right, in time, unused and not locked, it is used up and the answer is a
    signed link token (valid IMS_PRESCRIPTION_LINK_MINUTES) for this order's prescriptions.
    Wrong codes count; after IMS_OTP_MAX_ATTEMPTS the code is locked. Every refusal is
    recorded in the audit trail."""
    now = now or timezone.now()
    phone, order, named = _orders_for(order_number, phone)
    if order is None:
        raise _refuse(named, "the phone number is not the order's", phone=phone)
    refusal = None
    with transaction.atomic():
        otp = (
            PrescriptionOtp.objects.select_for_update()
            .filter(order=order, phone=phone)
            .order_by("-created_at", "-pk")
            .first()
        )
        if otp is None:
            refusal = "no code was sent for this order"
        elif otp.locked_at:
            refusal = "too many wrong codes: ask for a new code"
        elif otp.used_at:
            refusal = "this code was already used"
        elif otp.superseded_at:
            refusal = "a newer code was sent"
        elif now >= otp.expires_at:
            refusal = "this code has expired"
        elif not constant_time_compare(_code_hash(otp.salt, (code or "").strip()), otp.code_hash):
            otp.attempts += 1
            refusal = f"wrong code ({otp.attempts} of {settings.IMS_OTP_MAX_ATTEMPTS})"
            if otp.attempts >= settings.IMS_OTP_MAX_ATTEMPTS:
                otp.locked_at = now
                refusal += ": locked, ask for a new code"
            otp.save(update_fields=["attempts", "locked_at"])
        else:
            otp.used_at = now
            otp.save(update_fields=["used_at"])
            audit_record(
                actor=None,
                action="prescription_otp_used",
                obj=order,
                after={"otp": otp.pk, "phone": mask(phone)},
                at=now,
            )
        if refusal:
            error = _refuse(order, refusal, phone=phone)
    if refusal:
        raise error
    return signing.TimestampSigner(salt=LINK_SALT).sign_object({"order": order.pk, "otp": otp.pk})


def prescription_link_open(*, token: str, prescription_id: int | None = None) -> tuple:
    """(order, prescriptions) a link grants: only its own order's, only while it is fresh.
    A prescription of another order is refused and recorded."""
    try:
        data = signing.TimestampSigner(salt=LINK_SALT).unsign_object(
            token, max_age=dt.timedelta(minutes=settings.IMS_PRESCRIPTION_LINK_MINUTES)
        )
    except signing.SignatureExpired as exc:
        raise _refuse(None, "the link has expired: ask for a new code") from exc
    except signing.BadSignature as exc:
        raise _refuse(None, "the link is not valid") from exc
    order = ChannelOrder.objects.get(pk=data["order"])
    prescriptions = Prescription.objects.filter(order=order)
    if prescription_id is not None:
        wanted = Prescription.objects.filter(pk=prescription_id).first()
        if wanted is None or wanted.order_id != order.pk:
            raise _refuse(order, "the link is for another order's prescription")
        prescriptions = [wanted]
        audit_record(
            actor=None,
            action="prescription_view",
            obj=wanted,
            after={"order": order.external_id, "otp": data["otp"]},
        )
    return order, list(prescriptions)
