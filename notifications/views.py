"""The WhatsApp webhook (GET handshake, signed POSTs) and the customer's prescription pages
(ask for a code, enter it, open the short-lived link). Thin: services decide."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from ims.errors import ApplicationError
from ims.views import object_action, post_action
from notifications.errors import AccessRefused
from notifications.services.outbox import payment_link_send
from notifications.services.prescriptions import (
    prescription_attach,
    prescription_link_open,
    prescription_otp_request,
    prescription_otp_verify,
)
from notifications.services.webhook import whatsapp_inbound_record, whatsapp_statuses_record
from notifications.whatsapp import inbound_messages, signature_valid, status_updates
from orders.models import ChannelOrder

log = logging.getLogger("ims.webhooks")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":  # Meta's subscription handshake
        token = request.GET.get("hub.verify_token", "")
        expected = settings.IMS_WHATSAPP_VERIFY_TOKEN
        if (
            request.GET.get("hub.mode") == "subscribe"
            and expected
            and constant_time_compare(token, expected)
        ):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        log.warning("WhatsApp webhook handshake refused (wrong mode or verify token)")
        return HttpResponse("verification refused", status=403, content_type="text/plain")
    if not signature_valid(
        app_secret=settings.IMS_WHATSAPP_APP_SECRET,
        body=request.body,
        header=request.headers.get("X-Hub-Signature-256"),
    ):
        log.warning("WhatsApp webhook refused: missing or wrong X-Hub-Signature-256")
        return JsonResponse(
            {"code": "signature_refused", "message": "X-Hub-Signature-256 is missing or wrong"},
            status=401,
        )
    try:
        payload = json.loads(request.body)
    except ValueError:
        return JsonResponse({"code": "bad_delivery", "message": "the body is not JSON"}, status=400)
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return JsonResponse(
            {"code": "bad_delivery", "message": "not a whatsapp_business_account event"},
            status=400,
        )
    stored = whatsapp_inbound_record(messages=inbound_messages(payload))
    statuses = whatsapp_statuses_record(statuses=status_updates(payload))
    return JsonResponse({"messages": len(stored), "statuses": statuses})


def _form(request, template: str, **context) -> HttpResponse:
    return render(
        request, f"notifications/{template}", {"shop_url": settings.IMS_SHOP_URL, **context}
    )


@require_http_methods(["GET", "POST"])
def prescription_request(request: HttpRequest) -> HttpResponse:
    """The customer names their order and phone; a code goes to that phone by WhatsApp."""
    if request.method == "GET":
        return _form(request, "rx_request.html")
    number, phone = request.POST.get("order", ""), request.POST.get("phone", "")
    try:
        prescription_otp_request(order_number=number, phone=phone)
    except ApplicationError as exc:
        response = _form(request, "rx_request.html", error=exc.message, order=number)
        response.status_code = 403 if isinstance(exc, AccessRefused) else 400
        return response
    return _form(request, "rx_verify.html", order=number, phone=phone)


@require_http_methods(["POST"])
def prescription_verify(request: HttpRequest) -> HttpResponse:
    number, phone = request.POST.get("order", ""), request.POST.get("phone", "")
    try:
        token = prescription_otp_verify(
            order_number=number, phone=phone, code=request.POST.get("code", "")
        )
    except ApplicationError as exc:
        response = _form(request, "rx_verify.html", error=exc.message, order=number, phone=phone)
        response.status_code = 403
        return response
    order, prescriptions = prescription_link_open(token=token)
    return _form(request, "rx_files.html", order=order, prescriptions=prescriptions, token=token)


def prescription_file(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    try:
        _, (prescription,) = prescription_link_open(token=token, prescription_id=pk)
    except AccessRefused as exc:
        return HttpResponse(exc.message, status=403, content_type="text/plain")
    response = HttpResponse(bytes(prescription.data), content_type=prescription.content_type)
    response["Content-Disposition"] = f'inline; filename="{prescription.filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------------------
# Staff actions on an order's customer messages (buttons on the SLA order page, /sla/orders/…)


@login_required
@permission_required("notifications.add_prescription", raise_exception=True)
@require_POST
def prescription_upload_view(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(ChannelOrder, pk=pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "choose a file to attach")
        return redirect(f"/sla/orders/{pk}/")
    return post_action(
        request,
        lambda: prescription_attach(order=order, upload=upload, actor=request.user),
        f"Prescription {upload.name} attached.",
        f"/sla/orders/{pk}/",
    )


payment_link_view = object_action(
    ChannelOrder,
    "notifications.send_payment_link",
    lambda order, request: payment_link_send(
        order=order, url=request.POST.get("url", ""), actor=request.user
    ),
    "Payment link queued for the customer.",
    "/sla/orders/{row.pk}/",
)
