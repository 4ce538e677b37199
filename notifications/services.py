"""Customer messages: sending the orders outbox (CustomerNotification) by WhatsApp or leaving
it to the order's channel, payment links, inbound WhatsApp messages, and prescription access
behind a one-time password.

Failures: a message that cannot go through is retried with backoff; one that still fails
after IMS_WHATSAPP_MAX_ATTEMPTS, or that WhatsApp refuses outright (a template refused,
paused or disabled, a recipient not on WhatsApp) is `failed` and raises a `Sync_Failure`
exception: PRODUCT.md defines it as "what was to be sent / the provider's error", which is
exactly this, so no new discrepancy is needed. There is one open exception per (template,
channel) — `sku_id` `whatsapp:<template name>` — refreshed by each new failure and resolved
when that template next goes through on that channel. The exception's source is `order`
(the customer messages of the order flow), never `sync`, so a stock or price sync never
resolves it, and a sales channel is never paused for a failed WhatsApp message.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve
from ims.audit import audit_record
from ims.errors import ApplicationError
from ims.permissions import require
from notifications.models import (
    ChannelMessaging,
    InboundMessage,
    MessageDelivery,
    MessageTemplate,
    Prescription,
    PrescriptionOtp,
    Route,
    TemplateStatus,
)
from notifications.whatsapp import (
    PhoneInvalid,
    TemplateMessage,
    WhatsAppClient,
    WhatsAppError,
    client_from_settings,
    e164,
    mask,
)
from orders.models import ChannelOrder, CustomerNotification, NotificationStatus

log = logging.getLogger("ims.notifications")

LEASE = dt.timedelta(minutes=5)  # how long a sender holds a message it is sending
NOT_CONFIGURED_WAIT = dt.timedelta(hours=1)
PRESCRIPTION_TYPES = {"application/pdf", "image/jpeg", "image/png"}
PRESCRIPTION_MAX_BYTES = 5 * 1024 * 1024
LINK_SALT = "ims.prescription-link"


class MessageError(ApplicationError):
    code = "message_error"


class AccessRefused(ApplicationError):
    """A prescription request, code or link that is refused (and recorded)."""

    code = "access_refused"
    http_status = 403


# ---------------------------------------------------------------------------
# Sending the outbox


@dataclass
class SendSummary:
    sent: int = 0
    handed_to_channel: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0  # WhatsApp not configured: left queued
    errors: list[str] = field(default_factory=list)


def _backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(minutes=1) * 4 ** max(attempts - 1, 0), dt.timedelta(hours=2))


def message_values(notification: CustomerNotification) -> dict[str, str]:
    """What a template's parameters may name: the order's, then the notification's context."""
    order = notification.order
    values = {
        "customer_name": order.customer_name or "customer",
        "order": order.name or order.external_id,
        "status": order.status,
        "shop_url": settings.IMS_SHOP_URL,
    }
    values.update(
        {k: str(v) for k, v in (notification.context or {}).items() if v not in (None, "")}
    )
    values["order"] = order.name or order.external_id
    return values


def customer_notifications_claim(*, now: dt.datetime, limit: int) -> list[int]:
    """Take up to `limit` queued messages that are due (another sender skips them): each
    gets a lease of LEASE, after which a sender that died is replaced."""
    with transaction.atomic():
        ids = list(
            CustomerNotification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=NotificationStatus.QUEUED)
            .filter(Q(delivery__isnull=True) | Q(delivery__next_attempt_at__lte=now))
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        MessageDelivery.objects.bulk_create(
            [
                MessageDelivery(notification_id=pk, route=Route.WHATSAPP, updated_at=now)
                for pk in ids
            ],
            ignore_conflicts=True,
        )
        MessageDelivery.objects.filter(notification_id__in=ids).update(
            next_attempt_at=now + LEASE, updated_at=now
        )
    return ids


def customer_notifications_send(
    *, now: dt.datetime | None = None, limit: int = 200, client: WhatsAppClient | None = None
) -> SendSummary:
    """Work through the outbox: each due message goes by WhatsApp (approved template, E.164
    number) or is left to the order's channel; failures are retried, then raised."""
    now = now or timezone.now()
    summary = SendSummary()
    ids = customer_notifications_claim(now=now, limit=limit)
    if not ids:
        return summary
    notifications = list(
        CustomerNotification.objects.filter(pk__in=ids)
        .select_related("order", "order__channel", "delivery")
        .order_by("created_at", "pk")
    )
    routes = dict(
        ChannelMessaging.objects.filter(
            channel_id__in={n.order.channel_id for n in notifications}
        ).values_list("channel_id", "route")
    )
    templates = {t.kind: t for t in MessageTemplate.objects.all()}
    own_client = client is None
    client = client or client_from_settings()
    try:
        for notification in notifications:
            route = routes.get(notification.order.channel_id, Route.WHATSAPP)
            if route == Route.CHANNEL:
                _handed_to_channel(notification, now)
                summary.handed_to_channel += 1
                continue
            outcome = _send_one(notification, templates.get(notification.kind), client, now)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            if outcome in ("failed", "retrying"):
                summary.errors.append(f"{notification.pk}: {notification.delivery.last_error}")
    finally:
        if own_client and client is not None:
            client.close()
    return summary


def _handed_to_channel(notification: CustomerNotification, now) -> None:
    with transaction.atomic():
        MessageDelivery.objects.filter(notification=notification).update(
            route=Route.CHANNEL,
            next_attempt_at=None,
            provider_status="handed_over",
            updated_at=now,
        )
        CustomerNotification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.SENT, sent_at=now, error=""
        )


def _send_one(notification, template: MessageTemplate | None, client, now) -> str:
    delivery = notification.delivery
    order = notification.order
    if template is None or template.status != TemplateStatus.APPROVED:
        why = (
            f"no WhatsApp template for '{notification.kind}'"
            if template is None
            else f"template {template.name} is {template.status}, not approved"
        )
        _fail(
            notification, why, now, template_name=template.name if template else notification.kind
        )
        return "failed"
    try:
        to = e164(order.customer_phone, settings.IMS_PHONE_REGION)
    except PhoneInvalid as exc:
        # The customer's own data, not the provider's failure: failed, with the reason shown.
        _fail(notification, f"no WhatsApp number: {exc}", now, raise_exception=False)
        return "failed"
    if client is None:
        delivery.last_error = "WhatsApp is not configured (IMS_WHATSAPP_PHONE_NUMBER_ID, …)"
        delivery.next_attempt_at = now + NOT_CONFIGURED_WAIT
        delivery.updated_at = now
        delivery.save(update_fields=["last_error", "next_attempt_at", "updated_at"])
        return "waiting"
    values = message_values(notification)
    message = TemplateMessage(
        to=to,
        template=template.name,
        language=template.language,
        body=tuple(values.get(key, "—") for key in template.parameters),
        button=values.get(template.button_parameter, "—") if template.button_parameter else None,
    )
    delivery.to, delivery.template = to, template.name
    try:
        sent = client.send_template(message)
    except WhatsAppError as exc:
        delivery.attempts += 1
        if exc.template_status:
            _template_refused(template, exc)
        if exc.retryable and delivery.attempts < settings.IMS_WHATSAPP_MAX_ATTEMPTS:
            wait = _backoff(delivery.attempts)
            if exc.retry_after is not None:
                wait = max(wait, dt.timedelta(seconds=exc.retry_after))
            delivery.next_attempt_at = now + wait
            delivery.last_error = str(exc)[:2000]
            delivery.updated_at = now
            delivery.save()
            return "retrying"
        _fail(notification, str(exc), now, template_name=template.name)
        return "failed"
    with transaction.atomic():
        delivery.attempts += 1
        delivery.provider_message_id = sent.message_id
        delivery.provider_status = "accepted"
        delivery.next_attempt_at = None
        delivery.last_error = ""
        delivery.updated_at = now
        delivery.save()
        CustomerNotification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.SENT, sent_at=now, error=""
        )
        _failure_resolve(channel_id=order.channel_id, template_name=template.name, now=now)
    return "sent"


def _fail(
    notification: CustomerNotification,
    error: str,
    now,
    *,
    template_name: str = "",
    raise_exception: bool = True,
) -> None:
    delivery = notification.delivery
    with transaction.atomic():
        delivery.next_attempt_at = None
        delivery.last_error = error[:2000]
        delivery.updated_at = now
        delivery.save()
        CustomerNotification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.FAILED, error=error[:2000]
        )
        notification.status, notification.error = NotificationStatus.FAILED, error
        if raise_exception:
            failure_raise(
                channel_id=notification.order.channel_id,
                template_name=template_name,
                what=f"{notification.kind} to {mask(notification.order.customer_phone)} by WhatsApp",
                error=error,
                now=now,
            )
    log.warning("customer message %s failed: %s", notification.pk, error)


def failure_ref(template_name: str) -> str:
    return f"whatsapp:{template_name}"[:255]


def failure_raise(
    *, channel_id: int | None, template_name: str, what: str, error: str, now
) -> None:
    """A Sync_Failure for this template on this channel: opened, or refreshed if open."""
    finding = Finding(
        failure_ref(template_name),
        Discrepancy.SYNC_FAILURE,
        what[:255],
        error[:500],
        channel_id=channel_id,
    )
    for attempt in range(2):  # a twin opened meanwhile by another sender is refreshed instead
        try:
            with transaction.atomic():
                ops_exceptions_record(findings=[finding], source=ExceptionSource.ORDER, now=now)
            return
        except IntegrityError:
            if attempt:
                raise


def _failure_resolve(*, channel_id: int | None, template_name: str, now) -> None:
    ids = list(
        OpsException.objects.open()
        .filter(
            sku_id=failure_ref(template_name),
            discrepancy=Discrepancy.SYNC_FAILURE,
            source=ExceptionSource.ORDER,
            channel_id=channel_id,
        )
        .values_list("pk", flat=True)
    )
    if ids:
        ops_exceptions_resolve(ids=ids, now=now, reason="the template went through again")


def _template_refused(template: MessageTemplate, exc: WhatsAppError) -> None:
    """WhatsApp refused the template itself: it is not sent again until an admin approves it."""
    before = {"status": template.status}
    template.status, template.status_reason = exc.template_status, str(exc)[:500]
    template.save(update_fields=["status", "status_reason", "updated_at"])
    audit_record(
        actor=None,
        action="template_refused",
        obj=template,
        before=before,
        after={"status": template.status},
        reason=template.status_reason,
    )


# ---------------------------------------------------------------------------
# Delivery statuses and inbound messages (the WhatsApp webhook)


def whatsapp_statuses_record(*, statuses: list[dict], now: dt.datetime | None = None) -> int:
    """Meta's later word on messages we sent: `failed` fails the message (and raises the
    Sync_Failure); sent, delivered and read are kept on its delivery."""
    now = now or timezone.now()
    by_id = {s.get("id"): s for s in statuses if s.get("id")}
    deliveries = MessageDelivery.objects.filter(provider_message_id__in=list(by_id)).select_related(
        "notification", "notification__order"
    )
    count = 0
    for delivery in deliveries:
        status = by_id[delivery.provider_message_id]
        state = str(status.get("status", ""))[:16]
        if state == "failed":
            errors = status.get("errors") or [{}]
            error = errors[0]
            text = f"{error.get('title') or error.get('message') or 'failed'} (code {error.get('code')})"
            _fail(delivery.notification, text, now, template_name=delivery.template)
        else:
            delivery.provider_status = state
            delivery.updated_at = now
            delivery.save(update_fields=["provider_status", "updated_at"])
        count += 1
    return count


def whatsapp_inbound_record(*, messages: list[dict], now: dt.datetime | None = None) -> list[int]:
    """Store customer messages (idempotent on Meta's message id). Nothing in them is acted
    on: no order is created and no price changes; each gets the templated reply (queued)."""
    from ims.tasks import enqueue

    now = now or timezone.now()
    rows = []
    for message in messages:
        try:
            sender = e164("+" + str(message.get("from", "")).lstrip("+"))
        except PhoneInvalid:
            log.warning("inbound WhatsApp message %s from an invalid number", message.get("id"))
            continue
        try:
            sent_at = dt.datetime.fromtimestamp(int(message.get("timestamp")), tz=dt.UTC)
        except (TypeError, ValueError):
            sent_at = now
        rows.append(
            InboundMessage(
                wamid=str(message.get("id", ""))[:128],
                sender=sender,
                profile_name=str(message.get("profile_name", ""))[:255],
                type=str(message.get("type", ""))[:20],
                text=str((message.get("text") or {}).get("body", ""))[:4000],
                sent_at=sent_at,
                received_at=now,
            )
        )
    rows = [r for r in rows if r.wamid]
    with transaction.atomic():
        known = set(
            InboundMessage.objects.filter(wamid__in=[r.wamid for r in rows]).values_list(
                "wamid", flat=True
            )
        )
        InboundMessage.objects.bulk_create(
            [r for r in rows if r.wamid not in known], ignore_conflicts=True
        )
        new_ids = list(
            InboundMessage.objects.filter(
                wamid__in=[r.wamid for r in rows if r.wamid not in known], received_at=now
            ).values_list("pk", flat=True)
        )
        for pk in new_ids:
            enqueue("notifications.tasks.inbound_reply_task", pk)
    return new_ids


def inbound_reply(
    *, message: InboundMessage, client: WhatsAppClient | None = None, now=None
) -> str:
    """Answer a customer's message with the approved reply template pointing to the shop
    (once an hour per number at most). Returns what happened."""
    now = now or timezone.now()
    if message.replied_at:
        return message.reply_outcome
    recent = InboundMessage.objects.filter(
        sender=message.sender, replied_at__gt=now - dt.timedelta(hours=1)
    ).exclude(pk=message.pk)
    template = MessageTemplate.objects.filter(kind="inbound_reply").first()
    own_client = client is None
    if recent.exists():
        outcome = "not replied: this number had the reply within the hour"
    elif template is None or template.status != TemplateStatus.APPROVED:
        outcome = "not replied: no approved inbound_reply template"
    elif (client := client or client_from_settings()) is None:
        outcome = "not replied: WhatsApp is not configured"
    else:
        try:
            values = {"shop_url": settings.IMS_SHOP_URL, "customer_name": message.profile_name}
            sent = client.send_template(
                TemplateMessage(
                    to=message.sender,
                    template=template.name,
                    language=template.language,
                    body=tuple(values.get(k, "—") for k in template.parameters),
                )
            )
            outcome = f"replied: {sent.message_id}"
        except WhatsAppError as exc:
            outcome = f"reply failed: {exc}"[:255]
            if exc.template_status:
                _template_refused(template, exc)
            failure_raise(
                channel_id=None,
                template_name=template.name,
                what=f"reply to {mask(message.sender)} by WhatsApp",
                error=str(exc),
                now=now,
            )
        finally:
            if own_client:
                client.close()
    InboundMessage.objects.filter(pk=message.pk).update(
        replied_at=now if outcome.startswith("replied") else None, reply_outcome=outcome[:255]
    )
    return outcome


# ---------------------------------------------------------------------------
# What staff send or attach


def payment_link_send(*, order: ChannelOrder, url: str, actor) -> CustomerNotification:
    """Queue a payment link to the customer (by the order's route, like every message)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    from orders.services.state import customer_notify

    require(actor, "notifications.send_payment_link", "send payment links")
    url = (url or "").strip()
    try:
        URLValidator(schemes=["https"])(url)
    except ValidationError as exc:
        raise MessageError(
            "a payment link must be an https:// address",
            code="invalid_url",
            extra={"fields": {"url": ["must be an https:// address"]}},
        ) from exc
    now = timezone.now()
    ref = f"{now.timestamp():.6f}"
    with transaction.atomic():
        customer_notify(
            order=order,
            kind="payment_link",
            ref=ref,
            context={"order": order.external_id, "url": url},
            now=now,
        )
        notification = CustomerNotification.objects.get(order=order, kind="payment_link", ref=ref)
        audit_record(actor=actor, action="payment_link_send", obj=order, after={"url": url}, at=now)
    return notification


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
            uploaded_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_record(
            actor=actor,
            action="prescription_attach",
            obj=prescription,
            after={"order": order.external_id, "filename": prescription.filename},
            at=now,
        )
    return prescription


# ---------------------------------------------------------------------------
# Prescription access behind a one-time password


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


def _orders_for(number: str, phone: str) -> tuple[ChannelOrder | None, ChannelOrder | None]:
    """(the order with this number, a prescription and this phone; else one with the number)."""
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
                return order, order
        except PhoneInvalid:
            continue
    return None, (candidates[0] if candidates else None)


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
    try:
        phone = e164(phone, settings.IMS_PHONE_REGION)
    except PhoneInvalid as exc:
        raise AccessRefused(str(exc)) from exc
    order, named = _orders_for(order_number, phone)
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
    try:
        phone = e164(phone, settings.IMS_PHONE_REGION)
    except PhoneInvalid as exc:
        raise AccessRefused(str(exc)) from exc
    order, named = _orders_for(order_number, phone)
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
