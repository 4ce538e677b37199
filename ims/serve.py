"""How IMS is served in production: `python -m ims.serve`, run from the project folder.

The server is granian, a WSGI server written in Rust: it parses HTTP and keeps connections
alive outside Python, so the workers' Python time goes to IMS itself. On the orders
benchmark it took 0.5–1 ms less CPU per webhook order than gunicorn's threaded workers and
cut the 99th-percentile latency (README, "Serving").

Workers are processes, one per core by default: the webhook path is CPU-bound Python
between short database round trips, so more processes than cores only queue on the CPU.
When PostgreSQL runs on the same machine it takes about a third of the CPU of a webhook order
(the ORM's Python about two thirds), so the workers then get three quarters of the cores,
rounded up (2 of 2, 3 of 4, 6 of 8): on the 2-core benchmark machine two workers took 166
orders/s where one took 117, bound by one interpreter lock (README, "Orders benchmark").
Each worker runs 6 threads, so some compute while others wait on PostgreSQL (row locks,
commits). Database connections persist across
requests (DATABASE_CONN_MAX_AGE, read by ims/settings.py), so a request does not pay for a
new PostgreSQL connection. Override with IMS_WEB_BIND, WEB_CONCURRENCY, IMS_WEB_THREADS,
DATABASE_CONN_MAX_AGE, IMS_WEB_LOG_LEVEL and IMS_WEB_ACCESS_LOG=1.

Before any worker starts, the settings are loaded once (a production set-up without its
secret key stops here with the reason, rather than in every worker, respawned) and, with DEBUG
off, `collectstatic` puts the static files under their hashed names in STATIC_ROOT, where
WhiteNoise serves them from (README, "Production").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")
    prepare()
    host, _, port = os.environ.get("IMS_WEB_BIND", "127.0.0.1:8000").rpartition(":")
    cores = os.cpu_count() or 2
    Granian(
        "ims.wsgi:application",
        address=host or "127.0.0.1",
        port=int(port),
        interface=Interfaces.WSGI,
        workers=int(
            os.environ.get("WEB_CONCURRENCY")
            or (
                cores - cores // 4
                if database_is_local(os.environ.get("DATABASE_URL", ""))
                else cores
            )
        ),
        blocking_threads=int(os.environ.get("IMS_WEB_THREADS", "6")),
        backlog=2048,
        respawn_failed_workers=True,
        log_level=LogLevels(os.environ.get("IMS_WEB_LOG_LEVEL", "warning")),
        log_access=os.environ.get("IMS_WEB_ACCESS_LOG") == "1",
        working_dir=ROOT,
    ).serve()


def prepare() -> None:
    """Load the settings (refusing, with the reason, what they refuse) and, with DEBUG off,
    collect the static files WhiteNoise serves."""
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ims.settings")
    try:
        django.setup()
    except ImproperlyConfigured as error:
        sys.exit(f"ims.serve: {error}")
    if not settings.DEBUG and not static_files_collected():
        call_command("collectstatic", interactive=False, verbosity=0)


def static_files_collected() -> bool:
    """Whether STATIC_ROOT's manifest already names every static file there is now, and is
    newer than each of them: then collectstatic (hashing and compressing ~40 MB) is skipped."""
    import json

    from django.apps import apps
    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finders

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if not manifest.exists():
        return False
    sources = {}
    for finder in get_finders():
        for path, storage in finder.list(apps.get_app_config("staticfiles").ignore_patterns):
            prefix = getattr(storage, "prefix", None)
            sources[f"{prefix}/{path}" if prefix else path] = storage.path(path)
    collected = manifest.stat().st_mtime
    return set(json.loads(manifest.read_text())["paths"]) == set(sources) and all(
        os.path.getmtime(source) < collected for source in sources.values()
    )


def database_is_local(url: str) -> bool:
    """Whether DATABASE_URL names a PostgreSQL server on this machine (SQLite counts as not:
    it runs inside the workers)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        return False
    return (parts.hostname or "localhost") in ("localhost", "127.0.0.1", "::1")


if __name__ == "__main__":
    main()
