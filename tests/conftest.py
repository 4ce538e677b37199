"""Shared fixtures: a small hand-made world, CSV files written on the fly, a fixed clock."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from pathlib import Path

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings

from orchestration.ingest import ingest_file

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


# Property tests (hypothesis) draw their examples at random on a developer's machine, to
# search further each run; in CI (CI=true) they draw the same ones every run, so a green run
# stays green and a failure is reproducible (the failing example is printed either way).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

CHROMIUM = os.environ.get("IMS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip on SQLite, unless PostgreSQL is required (CI), where that fails.
    Browser tests skip where Debian's Chromium is not installed (CI installs it)."""
    if not Path(CHROMIUM).exists():
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
                    )
                )
    if any("redis" in item.keywords for item in items) and not _redis_answers():
        for item in items:
            if "redis" in item.keywords:
                if os.environ.get("IMS_REQUIRE_REDIS") == "1":
                    raise pytest.UsageError(f"{item.nodeid} needs Redis at {REDIS_URL}")
                item.add_marker(pytest.mark.skip(reason=f"needs Redis at {REDIS_URL}"))
    if connection.vendor == "postgresql":
        return
    required = os.environ.get("IMS_REQUIRE_POSTGRES") == "1"
    for item in items:
        if "postgres" in item.keywords:
            if required:
                raise pytest.UsageError(
                    f"{item.nodeid} needs PostgreSQL but DATABASE_URL is not PostgreSQL"
                )
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))


def pytest_sessionfinish(session, exitstatus):
    """With IMS_FAIL_ON_SKIP=1 (CI), a skipped test fails the run."""
    if os.environ.get("IMS_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        reporter.write_line(
            f"IMS_FAIL_ON_SKIP: {skipped} test(s) skipped; CI requires none", red=True
        )
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Users are made by the hundred in permission tests; real hashing is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with nothing kept in Django's cache (the webhook's channels, the SLA
    policies in force): what one test wrote never answers another's read."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def csv_file(tmp_path):
    """Write CSV text (dedented) to a file and return its path."""
    counter = iter(range(1000))

    def write(text: str, name: str | None = None, encoding: str = "utf-8") -> Path:
        path = tmp_path / (name or f"file{next(counter)}.csv")
        path.write_bytes(textwrap.dedent(text).lstrip("\n").encode(encoding))
        return path

    return write


@pytest.fixture
def ingest(csv_file, now):
    """ingest(kind, csv text, now=…) → (run, result), through the same entry point as the command."""

    def run(kind: str, text: str, *, at: dt.datetime | None = None, name: str | None = None):
        return ingest_file(
            kind=kind, path=csv_file(text, name=name or f"{kind}.csv"), now=at or now
        )

    return run


@pytest.fixture
def world(ingest):
    """Two locations, two channels, price rules and three products, no stock and no listings yet.

    shop  sells from WH then NYC, no buffer;  market sells from WH, buffer 2 units.
    """
    ingest(
        "locations",
        """
        code,name,kind,erp_code
        WH,Warehouse,warehouse,W1
        NYC,New York store,store,S1
    """,
    )
    ingest(
        "channels",
        """
        code,name,kind,sync_mode,locations,safety_buffer,currency
        shop,Shop,shopify,push,WH;NYC,0,USD
        market,Market,amazon,read_only,WH,2,USD
    """,
    )
    ingest(
        "price_rules",
        """
        category,max_discount_pct,min_margin_pct,luxury,excluded_channels
        *,50,10,false,
        watches,10,,true,market
    """,
    )
    ingest(
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,price,currency
        A-1,Shirt,4006381333931,apparel,EA,10.00,40.00,30.00,USD
        B-2,Mug,036000291452,home,EA,2.00,10.00,8.00,USD
        W-3,Watch,5012345678900,watches,EA,100.00,500.00,480.00,USD
    """,
    )


@pytest.fixture
def user_with_role(django_user_model):
    """user_with_role(Role.OPS) → a user in that role's group (password 'pw')."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    from ims.roles import Role, sync_groups

    if not Group.objects.exists():  # a transactional (browser) test ran before and emptied them
        sync_groups(apps)

    def make(role: Role, username: str | None = None):
        if not Group.objects.filter(name=role.value).exists():
            # A transactional (browser) test flushed the groups the migration made.
            from django.apps import apps

            from ims.roles import sync_groups

            sync_groups(apps)
        user = django_user_model.objects.create_user(
            username or role.name.lower(),
            email=f"{role.name.lower()}@example.com",
            password="pw",
            is_staff=role in (Role.ADMIN, Role.SUPERADMIN),
            is_superuser=role == Role.SUPERADMIN,
        )
        if not Group.objects.filter(name=role.value).exists():
            # A transactional test before this one flushed the groups the migrations made.
            from django.apps import apps

            from ims.roles import sync_groups

            sync_groups(apps)
        user.groups.add(Group.objects.get(name=role.value))
        return user

    return make


# ---------------------------------------------------------------------------
# Browser tests: Playwright driving Debian's Chromium against the live server.


@pytest.fixture(scope="session")
def browser():
    os.environ.setdefault(
        "DJANGO_ALLOW_ASYNC_UNSAFE", "1"
    )  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, serving static files from the apps' and STATICFILES_DIRS
    folders as runserver does. pytest-django does so only when it finds
    'django.contrib.staticfiles' by that name in INSTALLED_APPS; IMS installs it through its
    own app config (ims.apps.StaticFilesConfig), and without this the server would serve
    STATIC_ROOT, empty until `collectstatic` runs."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from pytest_django.live_server_helper import LiveServer

    addr = request.config.getvalue("liveserver") or os.getenv(
        "DJANGO_LIVE_TEST_SERVER_ADDRESS", "localhost"
    )
    server = LiveServer(addr, start=False)
    server.thread.static_handler = StaticFilesHandler
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(browser, live_server, request):
    """A fresh browser page; a screenshot of it is saved under artifacts/screenshots/ after the test."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    blocked = []  # what the Content Security Policy refused, on any page the test opened
    page.on("console", lambda m: "Content Security Policy" in m.text and blocked.append(m.text))
    yield page
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert blocked == [], "the Content Security Policy blocked something"


@pytest.fixture
def login(page):
    """login(username) through the real log-in form (password 'pw', as user_with_role sets)."""

    def go(username: str, password: str = "pw"):
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        return page

    return go
