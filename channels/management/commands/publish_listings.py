from django.core.management.base import CommandError

from channels.models import Channel, PublicationStatus
from channels.publish import MOST, listing_publish
from exceptions.models import Discrepancy, OpsException
from ims.errors import ApplicationError
from ims.management.base import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Publish products to a channel from IMS: create each listing the channel lacks (push "
        "mode) or show what would be sent (dry run). Name the SKUs, or --missing for every open "
        "Missing_SKU on the channel. One line per SKU (published with its id there, unmatched "
        "or refused with why, left out with why), then the total. Exits 1 when the channel "
        "refuses publishing (read-only, paused) or a listing was refused or unmatched."
    )

    def add_arguments(self, parser):
        parser.add_argument("channel", help="the channel's code")
        parser.add_argument("skus", nargs="*", help="the SKUs to publish")
        parser.add_argument(
            "--missing",
            action="store_true",
            help="every SKU with an open Missing_SKU exception on the channel",
        )

    def handle(self, *args, channel, skus, missing, **options):
        found = Channel.objects.filter(code=channel).first()
        if found is None:
            raise CommandError(f"channel: no channel {channel}")
        if missing:
            skus = [
                *skus,
                *OpsException.objects.open()
                .filter(channel=found, discrepancy=Discrepancy.MISSING_SKU, product__isnull=False)
                .order_by("sku_id")
                .values_list("sku_id", flat=True),
            ]
        if not skus:
            raise CommandError("skus: name the SKUs to publish, or --missing")
        troubled = 0
        for start in range(0, len(skus), MOST):
            try:
                outcome = listing_publish(
                    channel=found, skus=skus[start : start + MOST], actor=None
                )
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
            for publication in outcome.publications:
                said = publication.external_id or publication.error or ""
                self.stdout.write(
                    f"{publication.product.sku}: {publication.get_status_display().lower()}"
                    + (f": {said}" if said else "")
                )
                troubled += publication.status in (
                    PublicationStatus.UNMATCHED,
                    PublicationStatus.FAILED,
                )
            for skipped in outcome.skipped:
                self.stdout.write(f"{skipped.sku}: left out: {skipped.reason}")
            self.stdout.write(outcome.summary)
        if troubled:
            raise CommandError(f"{troubled} listing(s) not created on {found.code}: see above")
