"""`python -m ims.serve`, the production server, serves IMS."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Zq3v8H0bT5nX2pWc7yK4mR9sD1fG6jL0aE3uI8oP5tY2wQ7zV4xB9nM6cJ1hF"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 120  # the first start collects the static files
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "ims.serve did not start"
            assert server.poll() is None, "ims.serve exited"
            time.sleep(0.2)


def test_the_production_server_serves_pages_over_kept_alive_connections(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "IMS_WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    server = subprocess.Popen([sys.executable, "-m", "ims.serve"], cwd=ROOT, env=env)
    try:
        wait_for(server, port)
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


def test_the_production_server_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "IMS_"))}
    env |= {"IMS_ENV": "production", "DJANGO_ALLOWED_HOSTS": "ims.example.com"}
    result = subprocess.run(
        [sys.executable, "-m", "ims.serve"],
        cwd=ROOT,
        env=env | {"DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ims.serve: DJANGO_SECRET_KEY is not set")


# ---------------------------------------------------------------------------
# IMS as deployed: IMS_ENV=production (DEBUG off, HTTPS at a proxy) with the demo data.


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """`python -m ims.serve` with the production settings the README documents, behind an
    HTTPS proxy that the requests below stand in for (X-Forwarded-Proto: https)."""
    tmp = tmp_path_factory.mktemp("production")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "IMS_"))}
    env |= {
        "IMS_ENV": "production",
        "DJANGO_SECRET_KEY": SECRET,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # The browser below speaks plain http to the server (the proxy's part is only its header).
        "DJANGO_CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{tmp / 'prod.sqlite3'}",
        "IMS_REPORTS_DIR": str(tmp / "reports"),
        "IMS_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "IMS_WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    for command in (["migrate", "-v", "0"], ["load_demo"], ["reconcile"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    server = subprocess.Popen([sys.executable, "-m", "ims.serve"], cwd=ROOT, env=env)
    try:
        wait_for(server, port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


HTTPS = {"X-Forwarded-Proto": "https"}


def get(port, path, headers=None, method="GET", body=None):
    http = HTTPConnection("127.0.0.1", port, timeout=20)
    http.request(method, path, body=body, headers=headers or {})
    response = http.getresponse()
    content = response.read()
    http.close()
    return response, content


def test_plain_http_is_sent_to_https(production):
    response, _ = get(production, "/accounts/login/")
    assert response.status == 301
    assert response.getheader("Location") == f"https://127.0.0.1:{production}/accounts/login/"


def test_https_answers_carry_hsts_csp_and_secure_cookies(production):
    response, content = get(production, "/accounts/login/", HTTPS)
    assert response.status == 200
    assert (
        response.getheader("Strict-Transport-Security")
        == "max-age=31536000; includeSubDomains; preload"
    )
    assert "default-src 'self'" in response.getheader("Content-Security-Policy")
    csrf_cookie = next(
        c for c in response.headers.get_all("Set-Cookie") if c.startswith("csrftoken=")
    )
    assert "; Secure" in csrf_cookie

    token = content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response, _ = get(
        production,
        "/accounts/login/",
        HTTPS
        | {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": csrf_cookie.split(";")[0],
            "Origin": f"http://127.0.0.1:{production}",
        },
        method="POST",
        body=f"csrfmiddlewaretoken={token}&username=demo-ops&password=demo-ops-2026",
    )
    assert response.status == 302
    session_cookie = next(
        c for c in response.headers.get_all("Set-Cookie") if c.startswith("sessionid=")
    )
    assert "; Secure" in session_cookie and "; HttpOnly" in session_cookie


def test_static_files_are_served_with_debug_off_under_hashed_names(production):
    _, page = get(production, "/accounts/login/", HTTPS)
    stylesheet = re.search(r'href="(/static/ims/ims\.[0-9a-f]{12}\.css)"', page.decode()).group(1)
    response, _ = get(production, stylesheet, HTTPS | {"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/css")
    assert response.getheader("Content-Encoding") == "gzip"
    assert "immutable" in response.getheader("Cache-Control")
    htmx = re.search(r'src="(/static/django_htmx/htmx-2\.min\.[0-9a-f]{12}\.js)"', page.decode())
    assert get(production, htmx.group(1), HTTPS)[0].status == 200


@pytest.mark.browser
def test_the_production_ui_is_styled_scripted_and_breaks_no_csp_rule(production, browser):
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{production}",
        viewport={"width": 1360, "height": 900},
        extra_http_headers=HTTPS,
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    violations = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    shots = ROOT / "artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    def log_in(username):
        page.context.clear_cookies()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", f"{username}-2026")
        page.click("button[type=submit]")
        page.wait_for_url("**/")

    try:
        log_in("demo-ops")
        page.wait_for_selector("#chart-accuracy-by-channel .main-svg")  # plotly drew the scorecard

        page.goto("/exceptions/")
        # ims.css is applied: the top bar is dark, a colour only the stylesheet gives.
        assert (
            page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor")
            == "rgb(29, 36, 51)"
        )
        assert page.evaluate("typeof htmx") == "object"
        page.click('[data-tab="Price_Mismatch"]')  # htmx swaps the results in
        page.wait_for_url("**discrepancy=Price_Mismatch**")
        page.wait_for_selector("#results tr[data-sku]")
        page.screenshot(path=str(shots / "production_triage.png"), full_page=True)
        assert page.evaluate("window.__csp") == []

        log_in("demo-superadmin")
        for path, drawn in [
            ("/sla/", ".topbar"),
            ("/channels/runs/", ".topbar"),
            ("/audit/", "#audit-filter"),
            ("/products/", ".topbar"),
            ("/pricing/governance/", ".topbar"),
            ("/pricing/change/", ".card.medium"),
            ("/pricing/rules/", ".card.medium"),
            ("/admin/", "#content"),
            ("/api/docs/", ".swagger-ui .info .title"),  # Swagger UI from drf-spectacular-sidecar
        ]:
            page.goto(path)
            page.wait_for_selector(drawn)
            page.wait_for_load_state("networkidle")
            assert page.evaluate("window.__csp") == [], path
        assert violations == []
    finally:
        context.close()
