import datetime as dt
import zoneinfo
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from erp.errors import ResetRefused
from erp.models import ErpSource
from erp.services.reset import erp_reset
from ims.errors import FileRejected
from ims.management.base import AuditedCommand
from ims.progress import progress_bar


def as_of_argument(text: str) -> dt.datetime:
    """ISO-8601; a time without an offset is read in the business time zone."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--as-of: '{text}' is not an ISO-8601 time (e.g. 2026-11-23T07:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(settings.IMS_BUSINESS_TZ))
    return moment.astimezone(dt.UTC)


class Command(AuditedCommand):
    help = (
        "Apply the ERP's full stock file as of a time, with the variance of what the ERP has "
        "not been told yet, in one transaction; write the variance file."
    )
    # A morning batch job: it runs without Django's system checks, which load every URL
    # conf, view and admin (a fifth of a second and 15 MB before the first row is read);
    # `manage.py check` runs them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--as-of", required=True, help="the time the file counts stock at")
        parser.add_argument("--variance-out", type=Path, help="default: <reports>/variance.csv")
        parser.add_argument("--source", help="the ERP source's code (its locations and aliases)")
        parser.add_argument(
            "--max-zero-share",
            type=float,
            help=f"refuse a file that zeroes more than this share of stock "
            f"(default IMS_ERP_MAX_ZERO_SHARE, {settings.IMS_ERP_MAX_ZERO_SHARE})",
        )

    def handle(self, *args, file, as_of, variance_out, source, max_zero_share, **options):
        as_of = as_of_argument(as_of)
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        erp_source = ErpSource.objects.filter(code=source).first() if source else None
        if source and erp_source is None:
            raise CommandError(f"--source: no ERP source '{source}'")
        size = file.stat().st_size
        with progress_bar("erp_reset", unit="B") as progress:
            try:
                summary = erp_reset(
                    path=file,
                    as_of=as_of,
                    variance_out=variance_out,
                    source=erp_source,
                    zero_share=max_zero_share,
                    progress=(lambda done: progress(done, size)) if progress else None,
                )
            except FileRejected as exc:
                for error in exc.errors:
                    self.stderr.write(str(error))
                raise CommandError(
                    f"{file}: {len(exc.errors)} problem(s); nothing of the file was applied",
                    returncode=1,
                ) from None
            except ResetRefused as exc:
                for problem in exc.problems:
                    self.stderr.write(problem)
                raise CommandError(
                    f"{file}: reset refused; nothing was applied", returncode=1
                ) from None
        self.stdout.write(f"ERP reset {file} as of {as_of.isoformat()}")
        for line in summary.lines():
            self.stdout.write(line)
        if options["verbosity"] >= 2:
            self.stdout.write(
                "timings: "
                + ", ".join(f"{phase} {sec:.2f} s" for phase, sec in summary.run.timings.items())
            )
