"""`init --erp KIND --ecom KIND[,KIND…]`: write a starting configuration, check what it can
reach, print what is left (orchestration.init.config_init)."""

from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError

from channels.models import ChannelKind
from erp.models import ErpKind
from ims.errors import FileRejected
from ims.management.base import AuditedCommand
from orchestration.init import InitRefused, config_apply, config_init

MARK = {True: "ok", False: "FAILED", None: "not checked"}


def _kinds(values: list[str]) -> list[str]:
    kinds = [k.strip().lower() for value in values for k in value.split(",") if k.strip()]
    for kind in kinds:
        if kind not in ChannelKind.values:
            raise CommandError(
                f"--ecom: unknown channel kind '{kind}' (one of {', '.join(ChannelKind.values)})"
            )
    return kinds


def _urls(values: list[str]) -> dict[str, str]:
    urls = {}
    for value in values:
        code, sep, url = value.partition("=")
        if not sep or not code.strip() or not url.strip():
            raise CommandError(f"--url: '{value}' is not CODE=URL (e.g. shopify=https://…)")
        urls[code.strip()] = url.strip()
    return urls


class Command(AuditedCommand):
    help = (
        "Write a starting configuration (locations, channels and ERP-source files, an "
        ".env.template, README-init.md), check each connection it can reach, and print "
        "what is left. Refuses to overwrite without --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--erp", choices=ErpKind.values, help="the ERP's kind")
        parser.add_argument(
            "--ecom",
            action="append",
            default=[],
            metavar="KIND[,KIND…]",
            help=f"a channel kind, repeatable or comma-separated ({', '.join(ChannelKind.values)})",
        )
        parser.add_argument(
            "--dir", type=Path, default=Path("."), help="where to write (default: here)"
        )
        parser.add_argument(
            "--url",
            action="append",
            default=[],
            metavar="CODE=URL",
            help="a channel's or the ERP's base_url (repeatable)",
        )
        parser.add_argument("--currency", default="USD", help="the channels' currency (USD)")
        parser.add_argument("--force", action="store_true", help="overwrite files init wrote")
        parser.add_argument(
            "--apply",
            action="store_true",
            help="also ingest the files and register the schedules",
        )

    def handle(self, *args, erp, ecom, dir, url, currency, force, apply, **options):
        try:
            result = config_init(
                directory=dir,
                erp=erp,
                channels=_kinds(ecom),
                urls=_urls(url),
                currency=currency.upper(),
                force=force,
            )
        except InitRefused as exc:
            raise CommandError(exc.message, returncode=1) from None
        for path in result.written:
            self.stdout.write(f"wrote {path}")
        self.stdout.write("\nConnection checks:")
        for check in result.checks:
            self.stdout.write(f"  [{MARK[check.ok]}] {check.label}: {check.detail}")
        if apply:
            self._apply(dir)
        else:
            self.stdout.write("\nApply it:")
            for command in result.commands:
                self.stdout.write(f"  {command}")
        self.stdout.write("\nWhat is left:")
        for item in result.checklist:
            self.stdout.write(f"  [ ] {item}")

    def _apply(self, directory: Path) -> None:
        self.stdout.write("\nApplied:")
        try:
            for kind, summary in config_apply(directory=directory):
                self.stdout.write(f"  ingest {kind}: {summary}")
        except FileRejected as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(
                "a file was refused; nothing of it was applied", returncode=1
            ) from None
        call_command("setup_schedules", stdout=self.stdout)
