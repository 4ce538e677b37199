from pathlib import Path

from django.core.management.base import CommandError

from ims import csvio
from ims.errors import FileRejected
from ims.management.base import AuditedCommand
from ims.progress import progress_bar
from orchestration.ingest import KINDS, ingest_file


class Command(AuditedCommand):
    help = "Validate and apply one input file (all or nothing); list every bad row as file:line: column: reason."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", type=Path)

    def handle(self, *args, kind, file, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        with progress_bar(f"ingest {kind}", unit="B") as progress:
            token = csvio.progress_hook.set(
                (lambda done: progress(done, file.stat().st_size)) if progress else None
            )
            try:
                _run, result = ingest_file(kind=kind, path=file)
            except FileRejected as exc:
                for error in exc.errors:
                    self.stderr.write(str(error))
                raise CommandError(
                    f"{file}: {len(exc.errors)} problem(s); nothing of the file was applied",
                    returncode=1,
                ) from None
            finally:
                csvio.progress_hook.reset(token)
        for kept in result.kept_out:
            self.stdout.write(f"kept out: {kept}")
        self.stdout.write(
            f"{kind} {file}: {result.rows} rows, {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
            + (f", {len(result.kept_out)} kept out by a price rule" if result.kept_out else "")
        )
