from django.core.management.base import CommandError

from ims.audit import audit_origin
from ims.management.base import AuditedCommand
from inventory.services.ledger import ledger_drift, ledger_repair


class Command(AuditedCommand):
    help = (
        "Recompute every stock level from the movement ledger and report any drift "
        "(exit 1); with --repair, record a logged correction movement for each."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--repair", action="store_true", help="write a correction movement per drift"
        )

    def handle(self, *args, repair=False, **options):
        drifts = ledger_drift()
        if not drifts:
            self.stdout.write("ledger check: every level agrees with the ledger")
            return
        for drift in drifts:
            self.stderr.write(str(drift))
        if not repair:
            raise CommandError(
                f"ledger check: {len(drifts)} level(s) disagree with the ledger "
                "(run with --repair to record corrections)",
                returncode=1,
            )
        with audit_origin("command ledger_check --repair"):
            written = ledger_repair(drifts=drifts)
        left = ledger_drift()
        if left:
            raise CommandError(f"ledger check: {len(left)} drift(s) remain after repair")
        self.stdout.write(f"ledger check: {written} correction(s) recorded; the ledger agrees")
