"""`python -m ims.serve`, the production server, serves IMS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_production_server_serves_pages_over_kept_alive_connections(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "IMS_WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    server = subprocess.Popen([sys.executable, "-m", "ims.serve"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "ims.serve did not start"
                assert server.poll() is None, "ims.serve exited"
                time.sleep(0.2)
        http = HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(2):  # the same connection twice
            http.request("GET", "/accounts/login/")
            response = http.getresponse()
            assert response.status == 200
            assert b"password" in response.read().lower()
        http.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_workers_leave_half_the_cores_to_a_database_on_the_same_machine():
    from ims.serve import database_is_local

    assert database_is_local("postgres://postgres@127.0.0.1:5432/ims")
    assert database_is_local("postgresql:///ims")  # the local socket
    assert not database_is_local("postgres://ims@db.internal:5432/ims")
    assert not database_is_local("sqlite:///db.sqlite3")


def test_a_worker_freezes_what_it_loaded_at_start_out_of_the_collectors_sight():
    """The modules, classes and functions a worker imports live as long as it does: a full
    garbage collection walking them all paused every request in flight (ims/wsgi.py)."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import gc, ims.wsgi; print(gc.get_freeze_count())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(loaded.stdout) > 20_000
