from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from channels.models import SYNC_MODE_RANK, Channel, SyncTrigger
from channels.sync.engine import sync
from ims.audit import audit_origin
from ims.management.base import AuditedCommand
from ims.progress import progress_bar
from reconcile.reconcile import reconcile


class Command(AuditedCommand):
    help = (
        "Sync channels: read each (live through its adapter when it has a base_url), plan what "
        "differs, and in push mode send it; writes sync-plan.csv in every mode."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="sync only this channel (by code)")
        parser.add_argument(
            "--mode",
            choices=list(SYNC_MODE_RANK),
            help="lower every channel's mode to this one (it never raises a channel's own mode)",
        )
        parser.add_argument("--out", type=Path, help="reports folder (default: reports/)")

    def handle(self, *args, channel=None, mode=None, out=None, **options):
        scope = None
        if channel:
            scope = Channel.objects.filter(code=channel).first()
            if scope is None:
                raise CommandError(f"--channel: unknown channel '{channel}'")
        with audit_origin("command sync"), progress_bar("sync", unit="value") as progress:
            outcome = sync(
                channel=scope,
                mode=mode,
                out_dir=out,
                trigger=SyncTrigger.COMMAND,
                progress=progress,
                record_exceptions=False,
            )
            # Then reconcile the same scope, so what was read, sent or found failing is in the
            # exceptions at once (sync() alone queues it) and its run is printed.
            reconciled = reconcile(channel=scope, out_dir=out)
        for run in outcome.runs:
            self.stdout.write(
                f"{run.channel.code}: sync #{run.pk} {run.mode} {run.status} "
                f"({run.source}, {run.listings_read} listings read): {run.planned} to change, "
                f"{run.sent} sent, {run.failed} refused, {run.stale} stale, "
                f"{run.blocked_prices} price(s) blocked by a rule"
            )
        self.stdout.write(f"plan: {outcome.plan_path or Path(out or settings.IMS_REPORTS_DIR)}")
        self.stdout.write(
            f"exceptions recorded by reconcile #{reconciled.pk}: {reconciled.created} new, "
            f"{reconciled.updated} changed, {reconciled.resolved} resolved"
        )
        if outcome.problems:
            for problem in outcome.problems:
                self.stderr.write(problem)
            raise CommandError(
                f"{len(outcome.problems)} channel(s) not synced in full", returncode=1
            )
