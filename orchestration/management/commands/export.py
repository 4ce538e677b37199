import sys
from pathlib import Path

from django.core.management.base import CommandError

from ims.csvio import write_csv
from ims.management.base import AuditedCommand
from orchestration import exports


class Command(AuditedCommand):
    help = "Write a CSV export (stdout unless --out FILE)."

    def add_arguments(self, parser):
        parser.add_argument("what", choices=sorted(exports.EXPORTS))
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")

    def handle(self, *args, what, out=None, **options):
        header, rows = exports.EXPORTS[what]()
        try:
            count = write_csv(out or sys.stdout, header, rows)
        except OSError as exc:
            raise CommandError(f"{out}: {exc.strerror}") from None
        if out:
            self.stdout.write(f"{what}: {count} rows written to {out}")
