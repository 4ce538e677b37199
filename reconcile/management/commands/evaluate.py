from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.template.loader import render_to_string
from django.utils import timezone

from ims.management.base import AuditedCommand
from reconcile.evaluation import evaluate
from reconcile.management.commands.reconcile import print_figures
from reconcile.reconcile import reconcile


class Command(AuditedCommand):
    help = "Rerun reconcile and score it against the demo's gold files; exits non-zero below 100 %."

    def add_arguments(self, parser):
        parser.add_argument(
            "--gold",
            type=Path,
            default=settings.BASE_DIR / "var" / "demo",
            help="folder holding gold-exceptions.csv and gold-scorecard.json",
        )
        parser.add_argument("--report", choices=["html"], help="also write evaluation.html")
        parser.add_argument("--out", type=Path, help="reports folder (default: reports/)")

    def handle(self, *args, gold, report=None, out=None, **options):
        if not (gold / "gold-exceptions.csv").is_file():
            raise CommandError(f"{gold}: no gold-exceptions.csv (run load_demo first)")
        out = out or settings.IMS_REPORTS_DIR
        run = reconcile(out_dir=out)
        result = evaluate(gold_dir=gold, figures=run.figures)
        self.stdout.write(
            f"{'discrepancy':<22}{'gold':>6}{'found':>7}{'matched':>9}{'precision':>11}{'recall':>9}"
        )
        for k in result.kinds:
            self.stdout.write(
                f"{k.discrepancy:<22}{k.gold:>6}{k.found:>7}{k.matched:>9}{k.precision:>9} %{k.recall:>7} %"
            )
        for name, expected, actual in result.figures:
            mark = "ok" if expected == actual else "DIFFERS"
            self.stdout.write(f"  {name}: gold {expected} / found {actual} [{mark}]")
        for row in result.missed[:20]:
            self.stdout.write(f"  missed or different: {row}")
        for row in result.unexpected[:20]:
            self.stdout.write(f"  not in gold: {row}")
        print_figures(self.stdout, run.figures)
        if report == "html":
            path = Path(out) / "evaluation.html"
            path.write_text(
                render_to_string(
                    "exceptions/evaluation_report.html",
                    {"result": result, "run": run, "generated_at": timezone.now()},
                ),
                encoding="utf-8",
            )
            self.stdout.write(f"report: {path}")
        if not result.passed:
            raise CommandError("evaluation below 100 % (see above)", returncode=1)
        self.stdout.write("evaluation passed: 100 % precision and recall, figures match the gold")
