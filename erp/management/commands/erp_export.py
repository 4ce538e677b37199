from pathlib import Path

from django.core.management.base import CommandError

from erp.errors import ErpUnreachable
from erp.services.export import erp_export
from ims.management.base import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Hand the ERP what it has not been told: shipments of completed orders, returns "
        "received, transfers and adjustments since the last export (a CSV file, and each ERP "
        "source that accepts it); mark them handed over with the export time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, help="folder of the file (default: reports/)")

    def handle(self, *args, out, **options):
        try:
            run = erp_export(out_dir=out)
        except ErpUnreachable as exc:
            raise CommandError(f"{exc.message}; nothing was marked handed over") from None
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(run.by_kind.items())) or "nothing"
        self.stdout.write(
            f"handed over {run.movements} movement(s) ({kinds}) at {run.exported_at.isoformat()}"
        )
        for path in run.files:
            self.stdout.write(f"file: {path}")
        for code, what in sorted(run.sources.items()):
            self.stdout.write(f"{code}: {what}")
