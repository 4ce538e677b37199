"""Customer messages' refusals."""

from __future__ import annotations

from ims.errors import ApplicationError


class MessageError(ApplicationError):
    """A message or attachment that cannot be queued or sent as asked."""

    code = "message_error"


class AccessRefused(ApplicationError):
    """A prescription request, code or link that is refused (and recorded)."""

    code = "access_refused"
    http_status = 403
