from django.core.management.base import CommandError

from channels.models import Channel
from ims.errors import ApplicationError
from ims.management.base import AuditedCommand
from inventory.models import Location
from orders.models import ChannelOrder
from orders.services.returns import customer_return_receive


def _line(text: str) -> tuple[str, int]:
    sku, sep, quantity = text.rpartition("=")
    if not sep or not sku or not quantity.strip().isdigit():
        raise CommandError(f"line: {text!r} is not SKU=UNITS")
    return sku.strip(), int(quantity)


class Command(AuditedCommand):
    help = (
        "Receive a customer's return handed in at a store (a till or a returns desk scripting "
        "it): each --line SKU=UNITS of the channel's order, never more than shipped and not "
        "yet returned, goes into returned at LOCATION and waits for a person's inspection "
        "(the page or the API); Finance is told. The same --reference twice records it once. "
        "Exits 1, changing nothing, on anything IMS cannot take."
    )

    def add_arguments(self, parser):
        parser.add_argument("--location", required=True, help="the store's location code")
        parser.add_argument("--channel", required=True, help="the order's channel code")
        parser.add_argument("--order", required=True, help="the order's number on the channel")
        parser.add_argument(
            "--line",
            action="append",
            required=True,
            metavar="SKU=UNITS",
            help="a SKU of the order and the units handed back (repeat for more)",
        )
        parser.add_argument("--reference", default="", help="the store's return slip")
        parser.add_argument("--reason", default="", help="why the customer sent it back")

    def handle(self, *args, location, channel, order, line, reference, reason, **options):
        lines = [_line(text) for text in line]
        place = Location.objects.filter(code=location).first()
        if place is None:
            raise CommandError(f"location: no location {location}")
        seller = Channel.objects.filter(code=channel).first()
        if seller is None:
            raise CommandError(f"channel: no channel {channel}")
        found = ChannelOrder.objects.filter(channel=seller, external_id=order).first()
        if found is None:
            raise CommandError(f"order: no order {order} on {channel}")
        try:
            received, created = customer_return_receive(
                order=found, location=place, lines=lines, reference=reference, reason=reason
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        units = sum(q for _, q in lines)
        if created:
            self.stdout.write(
                f"return {received.pk} ({received.external_id}) received at {place.code}: "
                f"{units} unit(s) of {channel} order {order} in returned, awaiting inspection"
            )
        else:
            self.stdout.write(
                f"return {received.pk} ({received.external_id}) was received already; "
                "nothing changed"
            )
