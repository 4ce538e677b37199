from pathlib import Path

from django.core.management.base import CommandError

from erp.errors import ErpUnreachable, ResetRefused
from erp.models import ErpSource
from ims.errors import FileRejected
from ims.management.base import AuditedCommand
from orchestration.erp import erp_pull


class Command(AuditedCommand):
    help = (
        "Read an ERP source (its API, or the newest file dropped in its folder): catalog and "
        "prices through the ingests, stock through the reset with its variance."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="the ERP source's code")
        parser.add_argument("--variance-out", type=Path, help="default: <reports>/variance.csv")

    def handle(self, *args, source, variance_out, **options):
        erp = ErpSource.objects.filter(code=source).first()
        if erp is None:
            raise CommandError(f"no ERP source '{source}'")
        try:
            result = erp_pull(source=erp, variance_out=variance_out)
        except FileRejected as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{source}: {exc.message}", returncode=1) from None
        except ResetRefused as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError(f"{source}: reset refused; nothing was applied") from None
        except ErpUnreachable as exc:
            raise CommandError(exc.message) from None
        for line in result.lines():
            self.stdout.write(line)
