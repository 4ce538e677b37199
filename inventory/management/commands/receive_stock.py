from django.core.management.base import CommandError

from catalog.models import Product
from ims.errors import ApplicationError
from ims.management.base import AuditedCommand
from inventory.models import Location
from inventory.services.stock import stock_receive


class Command(AuditedCommand):
    help = (
        "Receive a supplier's delivery: QUANTITY units of SKU into available at LOCATION, one "
        "receipt movement (ref receipt:REFERENCE), audited. Exits 1, changing nothing, on a "
        "SKU, location or quantity IMS cannot take."
    )

    def add_arguments(self, parser):
        parser.add_argument("sku", help="the product's SKU")
        parser.add_argument("location", help="the location's code")
        parser.add_argument("quantity", type=int, help="units received (at least 1)")
        parser.add_argument(
            "--reference", required=True, help="the delivery note or purchase order"
        )
        parser.add_argument("--note", default="", help="anything to keep with the movement")

    def handle(self, *args, sku, location, quantity, reference, note, **options):
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise CommandError(f"sku: no product {sku}")
        place = Location.objects.filter(code=location).first()
        if place is None:
            raise CommandError(f"location: no location {location}")
        try:
            stock_receive(
                product_id=product.pk,
                location_id=place.pk,
                quantity=quantity,
                reference=reference,
                note=note,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        level = product.stock_levels.get(location=place)
        self.stdout.write(
            f"received {quantity} × {product.sku} at {place.code} (receipt:{reference.strip()}); "
            f"available now {level.available}"
        )
