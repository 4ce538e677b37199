import datetime as dt
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.utils import timezone

from ims.errors import FileRejected
from ims.management.base import AuditedCommand
from ims.roles import Role
from orchestration.demo import INGEST_ORDER, build_demo
from orchestration.demo.day import day_play, day_played
from orchestration.ingest import ingest_file

# One demo log-in per role; the password is the username followed by -2026 (demo only).
DEMO_USERS = {
    "demo-catalog": Role.CATALOG_MANAGER,
    "demo-pricing": Role.PRICING,
    "demo-ops": Role.OPS,
    "demo-store": Role.STORE_STAFF,
    "demo-finance": Role.FINANCE,
    "demo-admin": Role.ADMIN,
    "demo-superadmin": Role.SUPERADMIN,
}


class Command(AuditedCommand):
    help = "Build the demo dataset (1,000 SKUs, 4 channels, mismatches baked in) and ingest it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir",
            type=Path,
            default=settings.BASE_DIR / "var" / "demo",
            help="where the demo files and gold files are written (default: var/demo)",
        )
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            help="the day effective dates are relative to (default: today, UTC)",
        )
        parser.add_argument(
            "--day",
            action="store_true",
            help="then play a day of the shop's life: orders through the webhook endpoint, a "
            "return, a backorder, a held POS sale, a vendor return, SLA clocks in every state, "
            "the Shopify channel pushing to its stand-in shop (the gold is what IMS must show "
            "after it)",
        )

    def handle(self, *args, dir, today=None, day=False, **options):
        now = timezone.now()
        played = day and day_played()
        if played:
            # The day happened in this database already: the same plan, the same gold.
            if not (dir / "day.json").exists():
                raise CommandError(
                    f"the demo's day was played in this database but {dir / 'day.json'} is "
                    "gone, so its gold cannot be written again: `make clean`, then `make demo`",
                    returncode=1,
                )
            now = dt.datetime.fromisoformat(
                json.loads((dir / "day.json").read_text(encoding="utf-8"))["at"]
            )
        today = today or now.date()
        files = build_demo(dir, today=today, day_at=now if day else None)
        self.stdout.write(f"demo files written to {dir}")
        if played:
            # Ingesting again would put the snapshots' old listings over what the live
            # channel has been read and pushed since: the database is kept as it is.
            self.stdout.write(
                "the demo's data and day are in this database already: nothing ingested again"
            )
            return
        kinds = [(kind, files[kind]) for kind in INGEST_ORDER]
        kinds += [
            ("snapshot", path)
            for name, path in sorted(files.items())
            if name.startswith("snapshot-")
        ]
        for kind, path in kinds:
            try:
                _, result = ingest_file(kind=kind, path=path)
            except FileRejected as exc:
                for error in exc.errors:
                    self.stderr.write(str(error))
                raise CommandError(f"{path}: the demo file was refused", returncode=1) from None
            self.stdout.write(
                f"  {kind:<12} {path.name:<26} {result.rows:>5} rows, {result.created} created, "
                f"{result.updated} updated, {result.unchanged} unchanged"
                + (f", {len(result.kept_out)} kept out by a price rule" if result.kept_out else "")
            )
        self.stdout.write(
            f"gold files: {dir / 'gold-exceptions.csv'}, {dir / 'gold-scorecard.json'}"
        )
        self._demo_users()
        if day:
            day_play(
                json.loads((dir / "day.json").read_text(encoding="utf-8")),
                folder=dir,
                say=self.stdout.write,
            )

    def _demo_users(self):
        """Demo log-ins (for the demo only): created once, the password printed when created."""
        User = get_user_model()
        for username, role in DEMO_USERS.items():
            if User.objects.filter(username=username).exists():
                continue
            password = f"{username}-2026"
            user = User.objects.create_user(
                username,
                email=f"{username}@example.com",
                password=password,
                is_staff=role in (Role.ADMIN, Role.SUPERADMIN),
                is_superuser=role == Role.SUPERADMIN,
            )
            user.groups.add(Group.objects.get(name=role.value))
            self.stdout.write(f"demo user {username} ({role.value}) / {password}")
