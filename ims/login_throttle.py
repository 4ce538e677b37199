"""Log-in throttling (django-axes, configured in ims/settings.py): the address a log-in
attempt is counted against."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind the HTTPS proxy (IMS_HTTPS) every request comes from the
    proxy, so the address is the last one in X-Forwarded-For: the one the proxy appended,
    which a client cannot forge (addresses before it are the client's own say)."""
    if settings.IMS_HTTPS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "")
