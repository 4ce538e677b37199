from django.core.management.base import CommandError

from catalog.models import Product
from ims.errors import ApplicationError
from ims.management.base import AuditedCommand
from inventory.models import Location
from inventory.services.transfers import transfer_send


class Command(AuditedCommand):
    help = (
        "Send a transfer: QUANTITY available units of SKU leave FROM and show in transit at TO "
        "(receive it on /stock/transfers/ or POST /api/stock/transfers/{id}/receive/), audited "
        "as IMS with the command as origin. Exits 1, changing nothing, on a SKU, location or "
        "quantity IMS cannot take, or fewer available units at FROM."
    )

    def add_arguments(self, parser):
        parser.add_argument("sku", help="the product's SKU")
        parser.add_argument("source", metavar="FROM", help="the code of the location sending")
        parser.add_argument("destination", metavar="TO", help="the code of the location receiving")
        parser.add_argument("quantity", type=int, help="units sent (at least 1)")
        parser.add_argument(
            "--reference", required=True, help="the reference or reason kept with the transfer"
        )

    def handle(self, *args, sku, source, destination, quantity, reference, **options):
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise CommandError(f"sku: no product {sku}")
        places = {}
        for name, code in (("FROM", source), ("TO", destination)):
            places[name] = Location.objects.filter(code=code).first()
            if places[name] is None:
                raise CommandError(f"{name}: no location {code}")
        if not reference.strip():
            raise CommandError("--reference: must not be blank")
        try:
            transfer = transfer_send(
                source=places["FROM"],
                destination=places["TO"],
                lines=[(product.pk, quantity)],
                actor=None,
                reason=reference.strip(),
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"transfer {transfer.pk}: sent {quantity} × {product.sku} from {source} to "
            f"{destination} ({reference.strip()}); in transit until received"
        )
