from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from channels.models import Channel
from ims.management.base import AuditedCommand
from ims.progress import progress_bar
from reconcile.reconcile import reconcile


def print_figures(stdout, figures: dict) -> None:
    exposure = " + ".join(
        f"{amount} {currency}" for currency, amount in sorted(figures["exposure"].items())
    )
    stdout.write(
        f"SKUs checked {figures['skus_checked']}, sync accuracy {figures['accuracy']} %, "
        f"exceptions {figures['exceptions']}, exception rate {figures['exception_rate']} %, "
        f"revenue exposure {exposure or '0.00'}, oversell-risk SKUs {figures['oversell_skus']}"
    )


class Command(AuditedCommand):
    help = "Reconcile what channels show against IMS; write exceptions.csv, sku-rollup.csv, scorecard.html."

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="reconcile only this channel (by code)")
        parser.add_argument("--out", type=Path, help="reports folder (default: reports/)")

    def handle(self, *args, channel=None, out=None, **options):
        scope = None
        if channel:
            scope = Channel.objects.filter(code=channel).first()
            if scope is None:
                raise CommandError(f"--channel: unknown channel '{channel}'")
        with progress_bar("reconcile", unit="SKU") as progress:
            run = reconcile(channel=scope, out_dir=out, progress=progress)
        self.stdout.write(
            f"reconcile #{run.pk}: {run.created} new, {run.updated} changed, {run.resolved} resolved exceptions"
        )
        print_figures(self.stdout, run.figures)
        self.stdout.write(f"reports in {out or settings.IMS_REPORTS_DIR}")
