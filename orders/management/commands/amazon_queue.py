import time

from django.core.management.base import CommandError
from django.db import close_old_connections

from channels.adapters import queue_configured
from channels.models import Channel
from ims.management.base import AuditedCommand
from orders.services.queue import DRAIN_SECONDS, queue_drain, queues_drain_all

FAILED_PAUSE = 10.0


class Command(AuditedCommand):
    help = (
        "Read Amazon's ORDER_CHANGE notifications from each channel's SQS queue into the "
        "inbox (what the 'order queues' schedule runs each minute): every channel whose "
        "IMS_CHANNEL_<CODE>_SQS_QUEUE_URL is set, or one. A message is deleted once its "
        "delivery is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="only this channel (its code)")
        parser.add_argument(
            "--seconds",
            type=float,
            default=DRAIN_SECONDS,
            help=f"read for at most this long, or until the queue is empty ({DRAIN_SECONDS:g})",
        )
        parser.add_argument(
            "--forever",
            action="store_true",
            help="keep reading (long polling) until stopped: a consumer process of its own "
            "instead of the schedule",
        )

    def handle(self, *args, channel=None, seconds=DRAIN_SECONDS, forever=False, **options):
        if channel:
            found = Channel.objects.filter(code=channel).first()
            if found is None:
                raise CommandError(f"no channel {channel}")
            if not queue_configured(found):
                raise CommandError(
                    f"channel {channel} ({found.kind}) reads no queue: set "
                    f"{found.env_prefix}SQS_QUEUE_URL (Amazon channels only)"
                )
        while True:
            if channel:
                results = [queue_drain(channel=found, seconds=seconds)]
            else:
                results = queues_drain_all(seconds=seconds)
            if not results:
                self.stdout.write("no channel reads a queue (set IMS_CHANNEL_<CODE>_SQS_QUEUE_URL)")
                return
            for result in results:
                if result.read or result.error or not forever:
                    self.stdout.write(result.line)
            failed = [r.channel for r in results if r.error]
            if not forever:
                if failed:
                    raise CommandError(f"could not read the queue of {', '.join(failed)}")
                return
            if failed:
                time.sleep(FAILED_PAUSE)  # a queue that cannot be reached is asked again later
            close_old_connections()  # a consumer runs for days: no connection kept past its age
