"""Order intake from a channel's queue: Amazon's ORDER_CHANGE notifications on SQS.

The workers read the queue (`channels.adapters.sqs`: ReceiveMessage with long polling, up
to 10 messages, each hidden from other readers for the visibility timeout), take each message
into the inbox (`delivery_take(source="queue")`: stored and processed at most once, named by
its NotificationMetadata.NotificationId) and only then delete it (DeleteMessageBatch):

- stored and processed: deleted;
- stored, but processing failed: deleted too — the delivery is kept in the inbox with its
  error and replayed from there (`inbox_retry_task`), like a webhook's;
- stored as unreadable (not JSON, no NotificationId): kept in the inbox with why, and deleted
  (reading it again will not make it readable);
- already stored (SQS delivers at least once; a delete that was lost): `duplicate`, deleted;
- not stored (the database refused), or its body does not match its MD5: left in the queue,
  it comes back once its visibility timeout runs out and is taken then.

So a message leaves the queue only once its delivery is in the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from channels.adapters import queue_configured, queue_for
from channels.models import Channel
from ims.errors import ApplicationError
from orders.services.inbox import delivery_take

log = logging.getLogger("ims.orders.queue")

DRAIN_SECONDS = 50.0  # one drain reads for at most this long (the schedule runs every minute)


@dataclass
class QueueResult:
    channel: str
    read: int = 0  # messages received
    stored: int = 0  # new to the inbox (processed, or kept with an error)
    duplicates: int = 0  # already in the inbox
    failed: int = 0  # of those stored, kept with an error (replayed from the inbox)
    left: int = 0  # not stored: left in the queue, they come back
    deleted: int = 0
    error: str = ""

    @property
    def line(self) -> str:
        text = (
            f"{self.channel}: {self.read} read, {self.stored} new, "
            f"{self.duplicates} already in the inbox, {self.deleted} deleted"
        )
        if self.failed:
            text += f", {self.failed} kept in the inbox with an error"
        if self.left:
            text += f", {self.left} left in the queue (they come back)"
        if self.error:
            text += f"; failed: {self.error}"
        return text


def queue_drain(
    *,
    channel: Channel,
    queue=None,
    seconds: float = DRAIN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> QueueResult:
    """Read the channel's queue until it is empty or `seconds` have passed, taking each
    message into the inbox and deleting those stored. A queue that cannot be reached (or
    refuses, or is not configured) ends the drain with its error: messages not deleted come
    back and are taken then (those already stored as `duplicate`)."""
    result = QueueResult(channel.code)
    own = queue is None
    deadline = clock() + seconds
    try:
        queue = queue or queue_for(channel)
        while True:
            messages = queue.receive()
            if not messages:
                break
            result.read += len(messages)
            taken = [m for m in messages if _take(channel, m, result)]
            if taken:
                failed = queue.delete(taken)
                result.deleted += len(taken) - len(failed)
                for why in failed:
                    log.warning("queue of %s: could not delete %s", channel.code, why)
            if clock() >= deadline:
                break
    except ApplicationError as exc:  # unreachable, refused, not configured
        result.error = exc.message
        log.warning("queue of %s: %s", channel.code, exc.message)
    finally:
        if own and queue is not None:
            queue.close()
    return result


def _take(channel: Channel, message, result: QueueResult) -> bool:
    """Store one message's delivery; whether it may be deleted (it is in the inbox)."""
    if not message.intact:
        log.warning(
            "queue of %s: message %s does not match its MD5; left to come back",
            channel.code,
            message.message_id,
        )
        result.left += 1
        return False
    try:
        taken = delivery_take(channel=channel, source="queue", body=message.body)
    except Exception:  # not stored: the message stays in the queue and comes back
        log.exception(
            "queue of %s: message %s (received %s times) could not be stored",
            channel.code,
            message.message_id,
            message.receive_count,
        )
        result.left += 1
        return False
    if taken.status == "duplicate":
        result.duplicates += 1
    else:
        result.stored += 1
        if not taken.delivery.processed_at:
            result.failed += 1
    return True


def queue_channels() -> list[Channel]:
    """Channels whose orders arrive on a queue IMS reads (its URL set)."""
    return [c for c in Channel.objects.order_by("code") if queue_configured(c)]


def queues_drain_all(*, seconds: float = DRAIN_SECONDS) -> list[QueueResult]:
    """Drain every channel's queue in turn, sharing `seconds` between them; one channel
    failing never stops the others."""
    results = []
    channels = queue_channels()
    for channel in channels:
        try:
            results.append(queue_drain(channel=channel, seconds=seconds / len(channels)))
        except Exception as exc:
            log.exception("queue of %s failed", channel.code)
            results.append(QueueResult(channel.code, error=repr(exc)))
    return results
