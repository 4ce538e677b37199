"""Production hardening: the settings IMS_ENV=production gives, log-in throttling, and the
Content Security Policy on every response."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ims.roles import Role

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Zq3v8H0bT5nX2pWc7yK4mR9sD1fG6jL0aE3uI8oP5tY2wQ7zV4xB9nM6cJ1hF"

# The production environment the README documents ("Production").
PRODUCTION_ENV = {
    "IMS_ENV": "production",
    "DJANGO_SECRET_KEY": SECRET,
    "DJANGO_ALLOWED_HOSTS": "ims.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://ims.example.com",
}


def manage(tmp_path, *args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "IMS_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    result = manage(tmp_path, "check", "--deploy", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_off_without_a_secret_key_is_refused_too(tmp_path):
    result = manage(tmp_path, "check", DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_development_keeps_its_defaults(tmp_path):
    result = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.ALLOWED_HOSTS)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ['127.0.0.1', 'localhost']"


@pytest.mark.django_db
def test_every_response_carries_a_strict_content_security_policy(client, user_with_role):
    for response in (client.get("/accounts/login/"), client.get("/exceptions/")):
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # The page's own scripts carry this response's nonce, and nothing else runs inline.
    user_with_role(Role.OPS, "olivia")
    client.post("/accounts/login/", {"username": "olivia", "password": "pw"})
    response = client.get("/exceptions/")
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    inline = [
        tag for tag in re.findall(r"<script[^>]*>", response.content.decode()) if "src=" not in tag
    ]
    assert inline and all(f'nonce="{nonce}"' in tag for tag in inline)


def log_in(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.mark.django_db
def test_five_failed_log_ins_lock_the_user_out_from_that_address_even_with_the_right_password(
    client, user_with_role
):
    user_with_role(Role.OPS, "olivia")
    for _ in range(4):
        response = log_in(client, "olivia", "guess")
        assert response.status_code == 200
        assert "didn't match" in response.content.decode()
    response = log_in(client, "olivia", "guess")  # the fifth
    assert response.status_code == 429

    response = log_in(client, "olivia", "pw")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed log-ins for <strong>olivia</strong> from this address (5)" in page
    assert "refused, even with the right password, for 15 minutes" in page
    assert client.get("/exceptions/").status_code == 302  # not logged in

    # Another user from the same address, and the same user from another address, log in.
    user_with_role(Role.OPS, "oscar")
    assert log_in(client, "oscar", "pw").status_code == 302
    client.logout()
    other = client.__class__(REMOTE_ADDR="10.9.8.7")
    assert log_in(other, "olivia", "pw").status_code == 302


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off(client, user_with_role):
    from axes.models import AccessAttempt

    user_with_role(Role.OPS, "olivia")
    for _ in range(5):
        log_in(client, "olivia", "guess")
    assert log_in(client, "olivia", "pw").status_code == 429
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    assert log_in(client, "olivia", "pw").status_code == 302


@pytest.mark.django_db
def test_the_admin_log_in_is_throttled_too(client, user_with_role):
    user_with_role(Role.SUPERADMIN, "sam")
    for _ in range(5):
        client.post("/admin/login/", {"username": "sam", "password": "guess"})
    response = client.post("/admin/login/", {"username": "sam", "password": "pw"})
    assert response.status_code == 429


@pytest.mark.django_db
def test_behind_the_https_proxy_the_address_counted_is_the_one_the_proxy_appended(
    client, user_with_role, settings
):
    settings.IMS_HTTPS = True  # every request comes from the proxy (REMOTE_ADDR 127.0.0.1)
    user_with_role(Role.OPS, "olivia")
    for n in range(5):  # the attacker varies the address it claims; the proxy appends its own
        client.post(
            "/accounts/login/",
            {"username": "olivia", "password": "guess"},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.9",
        )
    locked = client.post(
        "/accounts/login/",
        {"username": "olivia", "password": "pw"},
        HTTP_X_FORWARDED_FOR="10.0.0.99, 203.0.113.9",
    )
    assert locked.status_code == 429
    other = client.__class__()
    elsewhere = other.post(
        "/accounts/login/",
        {"username": "olivia", "password": "pw"},
        HTTP_X_FORWARDED_FOR="198.51.100.4",
    )
    assert elsewhere.status_code == 302  # olivia herself, from her own address


@pytest.mark.django_db
def test_in_development_djangos_error_pages_work_without_the_policy(client, settings):
    """Django exempts its debug pages (their inline style and script carry no nonce)."""
    settings.DEBUG = True  # the technical 404 page
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Content-Security-Policy" not in response.headers
    assert "Content-Security-Policy" in client.get("/accounts/login/").headers
