"""Errors of the channels app: a provider that cannot be reached or refuses, a run that may not go on."""

from __future__ import annotations

from ims.errors import ApplicationError


class ChannelNotConfigured(ApplicationError):
    """A credential or setting the adapter needs is missing (names the variable, never a value)."""

    code = "channel_not_configured"


class ChannelUnreachable(ApplicationError):
    """The provider did not answer usefully after every retry (timeouts, 429s, 5xx)."""

    code = "channel_unreachable"


class ProviderRefused(ApplicationError):
    """The provider answered a call with an error that retrying will not fix (4xx, bad payload)."""

    code = "provider_refused"

    def __init__(self, message: str, *, status: int | None = None, extra: dict | None = None):
        super().__init__(message, extra={"status": status, **(extra or {})})
        self.status = status


class SyncBusy(ApplicationError):
    """Another sync of the channel is running now."""

    code = "sync_busy"
    http_status = 409


class SyncNotAllowed(ApplicationError):
    """The requested sync or correction cannot happen (mode, state, kind of exception)."""

    code = "sync_not_allowed"


class SyncTakenOver(ApplicationError):
    """The run was marked interrupted (no heartbeat for too long) and another may have taken over:
    this worker stops sending."""

    code = "sync_taken_over"
