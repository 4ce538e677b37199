from django.core.management.base import CommandError

from ims.audit import audit_origin
from ims.management.base import AuditedCommand
from orders.models import WebhookDelivery
from orders.services.inbox import webhook_deliveries_replay


class Command(AuditedCommand):
    help = (
        "Process stored webhook deliveries again: by default every one not processed yet. "
        "A delivery already processed changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="only this channel's deliveries (its code)")
        parser.add_argument("--id", type=int, action="append", help="this delivery (repeatable)")
        parser.add_argument(
            "--all", action="store_true", help="every stored delivery, processed or not"
        )

    def handle(self, *args, channel=None, id=None, all=False, **options):
        deliveries = WebhookDelivery.objects.all()
        if channel:
            deliveries = deliveries.filter(channel__code=channel)
        if id:
            deliveries = deliveries.filter(pk__in=id)
            missing = set(id) - set(deliveries.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"no delivery {', '.join(map(str, sorted(missing)))}")
        elif not all:
            deliveries = deliveries.filter(processed_at__isnull=True)
        with audit_origin("command replay_inbox"):
            counts = webhook_deliveries_replay(deliveries=deliveries)
        self.stdout.write(
            f"replayed: {counts['processed']} processed, {counts['failed']} failed, "
            f"{counts['already']} already processed (unchanged)"
        )
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} delivery(ies) still fail; see their error")
