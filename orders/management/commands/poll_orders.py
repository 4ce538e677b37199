from django.core.management.base import CommandError

from channels.models import Channel
from ims.audit import audit_origin
from ims.management.base import AuditedCommand
from orders.services.poll import PollResult, orders_poll, orders_poll_all


class Command(AuditedCommand):
    help = (
        "Poll channels for orders changed since their cursor (the safety net for lost "
        "webhooks; Flipkart's intake): every channel with a live connection, or one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="only this channel (its code)")

    def handle(self, *args, channel=None, **options):
        with audit_origin("command poll_orders"):
            if channel:
                found = Channel.objects.filter(code=channel).first()
                if found is None:
                    raise CommandError(f"no channel {channel}")
                results = [orders_poll(channel=found)]
            else:
                results = orders_poll_all()
        if not results:
            self.stdout.write("no channel with a live connection lists its orders")
        for result in results:
            self.stdout.write(_line(result))
        failed = [r.channel for r in results if r.error or (r.sales and r.sales.error)]
        if failed:
            raise CommandError(f"could not poll {', '.join(failed)}; see the errors above")


def _line(result: PollResult) -> str:
    line = (
        f"{result.channel}: {result.found} listed, {result.stored} new, "
        f"{result.received} order(s) received"
    )
    if result.failed:
        line += f", {result.failed} kept in the inbox with an error"
    if result.error:
        line += f"; failed: {result.error}"
    sales = result.sales
    if sales is not None:
        line += (
            f"; its own POS: {sales.found} sale(s) listed, {sales.stored} new, "
            f"{sales.recorded} recorded"
        )
        if sales.failed:
            line += f", {sales.failed} kept in the inbox with an error"
        if sales.error:
            line += f"; failed: {sales.error}"
    return line
