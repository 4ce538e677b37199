"""The webhook endpoint: POST /webhooks/<channel code>/ (no session, no CSRF: the signature
is the authentication). The raw body goes to the channel's provider whatever its content
type: JSON for most, a form (`application/x-www-form-urlencoded`, the sale in `payload`) for
Lightspeed; nothing here parses it (request.POST is never read, so the signed bytes are
the bytes received)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.providers.base import BadDelivery, SignatureRefused
from orders.selectors import webhook_channel
from orders.services.inbox import NoIntake, webhook_receive, webhook_url


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, code: str) -> JsonResponse:
    channel = webhook_channel(code)
    if channel is None:
        raise Http404(f"no channel {code}")
    try:
        received = webhook_receive(
            channel=channel,
            headers=request.headers,
            body=request.body,
            url=webhook_url(channel, request.build_absolute_uri()),
        )
    except SignatureRefused as exc:
        return _error("signature_refused", str(exc), 401)
    except BadDelivery as exc:
        return _error("bad_delivery", str(exc), 400)
    except NoIntake as exc:
        return _error(exc.code, exc.message, 404)
    if received.status == "refused":  # kept in the inbox with its error
        delivery = received.delivery
        return _error("bad_delivery", delivery.error, 400, delivery=delivery.pk)
    return JsonResponse(received.body, status=200)


def _error(code: str, message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "extra": extra}, status=status)
