"""The webhook endpoint: POST /webhooks/<channel code>/ (no session, no CSRF: the signature
is the authentication)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.providers.base import BadDelivery, SignatureRefused
from orders.selectors import webhook_channel
from orders.services import NoIntake, webhook_receive, webhook_url


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
        return JsonResponse({"code": "signature_refused", "message": str(exc)}, status=401)
    except BadDelivery as exc:
        return JsonResponse({"code": "bad_delivery", "message": str(exc)}, status=400)
    except NoIntake as exc:
        return JsonResponse({"code": exc.code, "message": exc.message}, status=404)
    return JsonResponse(received.body, status=200)
