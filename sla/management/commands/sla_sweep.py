"""Run the SLA sweep now (the schedule runs it every minute): warnings, breaches, ladder steps."""

import datetime as dt

from django.core.management.base import CommandError

from ims.management.base import AuditedCommand
from sla.services import sla_sweep


class Command(AuditedCommand):
    help = "Fire every SLA warning, breach and escalation step that is due (each exactly once)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--at", help="sweep as of this ISO-8601 instant (default: now), e.g. 2026-11-16T15:55Z"
        )

    def handle(self, *args, **options):
        at = None
        if options["at"]:
            try:
                at = dt.datetime.fromisoformat(options["at"].replace("Z", "+00:00"))
            except ValueError as exc:
                raise CommandError(f"--at: '{options['at']}' is not an ISO-8601 instant") from exc
            if at.tzinfo is None:
                raise CommandError("--at: give a time zone (…Z or +05:30)")
        result = sla_sweep(now=at)
        self.stdout.write(
            f"{result.clocks} clocks due: {result.warnings} warnings, {result.breaches} breaches, "
            f"{result.steps} ladder steps, {result.notified} people told"
        )
        for flag in result.flagged:
            self.stdout.write(f"repeated breaches: {flag}")
