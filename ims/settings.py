"""IMS settings, read from the environment.

Defaults run the embedded set-up: an SQLite file in the project folder and an
in-process (synchronous) task queue. Production sets DATABASE_URL to PostgreSQL
and IMS_QUEUE to `orm` (or `redis`) and runs `manage.py qcluster` workers.
"""

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


# Production is a switch, IMS_ENV=production: DEBUG is off, and nothing falls back to a
# development value (README, "Production"). Anything else is development: DEBUG on, a fixed key.
IMS_ENV = os.environ.get("IMS_ENV", "development").strip().lower()
if IMS_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"IMS_ENV is {IMS_ENV!r}: it must be development or production")
PRODUCTION = IMS_ENV == "production"
DEBUG = False if PRODUCTION else env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION or not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set: IMS will not run with DEBUG off on a known key. Give "
            "it 50+ random characters, e.g. from "
            '`python -c "import secrets; print(secrets.token_urlsafe(50))"`.'
        )
    SECRET_KEY = "ims-insecure-development-key-change-me"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is not set: name the host(s) IMS is served as, comma-separated"
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# HTTPS (on by default in production): TLS ends at a reverse proxy in front of `ims.serve`,
# which must set X-Forwarded-Proto (overwriting the client's) and append X-Forwarded-For.
# Plain http is redirected to https, browsers are told to use only https (HSTS), and the
# session and CSRF cookies are never sent over plain http.
IMS_HTTPS = env_bool("IMS_HTTPS", PRODUCTION)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION or IMS_HTTPS
if IMS_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("IMS_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("IMS_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("IMS_HSTS_PRELOAD", True)

# Content Security Policy on every response: scripts, styles, images, fonts and requests only
# from IMS itself; an inline <script> or <style> runs only with the request's nonce
# ({{ csp_nonce }}); no plugins, no framing, forms post only to IMS. An injected script
# that escaped the templates' escaping would not run. A hash lets plotly.js add the empty
# <style> element it fills through the CSSOM.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [
        CSP.SELF,
        CSP.NONCE,
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # "" (plotly's rule sheets)
    ],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Log-in throttling (django-axes): after IMS_LOGIN_FAILURE_LIMIT failed log-ins for one
# username from one address, that pair is refused, even with the right password, for
# IMS_LOGIN_COOLOFF_MINUTES. Guessing passwords online stops being practical.
AXES_FAILURE_LIMIT = int(os.environ.get("IMS_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("IMS_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "ims.login_throttle.client_ip"
AXES_VERBOSE = False
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before any check
    "django.contrib.auth.backends.ModelBackend",
]

INSTALLED_APPS = [
    "ims.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "ims",
    "catalog",
    "inventory",
    "channels",
    "exceptions",
    "sla",
    "orders",
    "notifications",
    "erp",
    "reconcile",
    "orchestration",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ims.audit.AuditOriginMiddleware",
    "ims.middleware.DeniedAccessMiddleware",
    "ims.middleware.BodyTooLargeMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out log-in into the lockout page
]

ROOT_URLCONF = "orchestration.urls"
WSGI_APPLICATION = "ims.wsgi.application"
ASGI_APPLICATION = "ims.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while a command writes.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["OPTIONS"]["timeout"] = 30
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters travel apart from the statement (server-side binding), so psycopg prepares a
    # statement the fifth time a connection runs it and then only executes it: PostgreSQL
    # parses and plans the hot paths' statements once per connection. PgBouncer in transaction
    # mode keeps them since 1.21 (max_prepared_statements); set IMS_DB_PREPARE=0 where the
    # pooler cannot, and nothing is prepared.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    if os.environ.get("IMS_DB_PREPARE", "1") == "0":
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Dates in files (effective dates) are read in the business time zone.
IMS_BUSINESS_TZ = os.environ.get("IMS_BUSINESS_TZ", "UTC")

STATIC_URL = "static/"
# plotly.js is our own static file, never a CDN: its "basic" bundle (scatter, bar and pie,
# the only traces IMS draws; 1.2 MB against 4.8 MB for the whole library), the same version as
# the installed plotly package (static/vendor/plotly-basic/, tests/reconcile/test_views.py).
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Static files are served by WhiteNoise (also with DEBUG off) from STATIC_ROOT, which
# `collectstatic` fills (`python -m ims.serve` runs it at start): each file under a name
# carrying a hash of its content, so browsers may cache it for good, and compressed.
# Development and tests serve them from the folders above, as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if not DEBUG:  # after SecurityMiddleware: static files get its headers, and CSP's
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

# Email (notifications): files under var/mail/ in the demo (one per message, so a command's
# output is not buried under raw MIME); SMTP (EMAIL_HOST, else this machine's mail server, on
# EMAIL_PORT) in production; IMS_EMAIL_BACKEND chooses another (…console.EmailBackend prints).
_EMAIL_BACKEND = os.environ.get(
    "IMS_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.filebased.EmailBackend",
)
if os.environ.get("EMAIL_HOST") or _EMAIL_BACKEND.endswith(".smtp.EmailBackend"):
    _EMAIL_OPTIONS = {
        "host": os.environ.get("EMAIL_HOST") or "localhost",
        "port": int(os.environ.get("EMAIL_PORT", "25")),
    }
elif _EMAIL_BACKEND.endswith(".filebased.EmailBackend"):
    _EMAIL_OPTIONS = {"file_path": os.environ.get("IMS_MAIL_DIR", str(BASE_DIR / "var" / "mail"))}
else:
    _EMAIL_OPTIONS = {}
MAILERS = {"default": {"BACKEND": _EMAIL_BACKEND, "OPTIONS": _EMAIL_OPTIONS}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ims@localhost")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Channel price drift: a channel with this many new price mismatches within the window is flagged.
IMS_DRIFT_FLAG_COUNT = int(os.environ.get("IMS_DRIFT_FLAG_COUNT", "10"))
IMS_DRIFT_WINDOW_HOURS = float(os.environ.get("IMS_DRIFT_WINDOW_HOURS", "168"))

# Reports folder used when a command is given no --out.
IMS_REPORTS_DIR = Path(os.environ.get("IMS_REPORTS_DIR", BASE_DIR / "reports"))

# Background tasks: `sync` runs them in-process (the embedded default and the
# tests), `orm` and `redis` hand them to `manage.py qcluster` workers.
IMS_QUEUE = os.environ.get("IMS_QUEUE", "sync")

# How long an order not yet confirmed (paid) on its channel keeps its reservation.
IMS_UNCONFIRMED_HOLD_HOURS = int(os.environ.get("IMS_UNCONFIRMED_HOLD_HOURS", "48"))
# SLA engine: repeated breaches by one store, channel or kind within the window are flagged.
IMS_SLA_REPEAT_COUNT = int(os.environ.get("IMS_SLA_REPEAT_COUNT", "3"))
IMS_SLA_REPEAT_WINDOW_HOURS = float(os.environ.get("IMS_SLA_REPEAT_WINDOW_HOURS", "168"))

# Customer messages by WhatsApp (the Business Cloud API) and prescription access.
IMS_WHATSAPP_BASE_URL = os.environ.get("IMS_WHATSAPP_BASE_URL", "https://graph.facebook.com/v21.0")
IMS_WHATSAPP_PHONE_NUMBER_ID = os.environ.get("IMS_WHATSAPP_PHONE_NUMBER_ID", "")
IMS_WHATSAPP_ACCESS_TOKEN = os.environ.get("IMS_WHATSAPP_ACCESS_TOKEN", "")
IMS_WHATSAPP_APP_SECRET = os.environ.get("IMS_WHATSAPP_APP_SECRET", "")
IMS_WHATSAPP_VERIFY_TOKEN = os.environ.get("IMS_WHATSAPP_VERIFY_TOKEN", "")
IMS_WHATSAPP_MAX_ATTEMPTS = int(os.environ.get("IMS_WHATSAPP_MAX_ATTEMPTS", "5"))
# Region for customer phone numbers written without a country code (ISO 3166, e.g. IN).
IMS_PHONE_REGION = os.environ.get("IMS_PHONE_REGION", "") or None
IMS_SHOP_URL = os.environ.get("IMS_SHOP_URL", "http://127.0.0.1:8000/")
IMS_OTP_TTL_MINUTES = int(os.environ.get("IMS_OTP_TTL_MINUTES", "10"))
IMS_OTP_MAX_ATTEMPTS = int(os.environ.get("IMS_OTP_MAX_ATTEMPTS", "5"))
IMS_OTP_MAX_PER_HOUR = int(os.environ.get("IMS_OTP_MAX_PER_HOUR", "3"))
IMS_PRESCRIPTION_LINK_MINUTES = int(os.environ.get("IMS_PRESCRIPTION_LINK_MINUTES", "10"))


# The ERP reset: the share of stock a file may zero by omitting pairs before it is refused
# as likely truncated.
IMS_ERP_MAX_ZERO_SHARE = float(os.environ.get("IMS_ERP_MAX_ZERO_SHARE", "0.10"))
# Where what an ERP pull read is written (in IMS's file forms) before it is applied.
IMS_ERP_PULL_DIR = Path(os.environ.get("IMS_ERP_PULL_DIR", BASE_DIR / "var" / "erp"))
# django-q2 workers (README, Configuration). timeout: the longest task allowed, a full push to
# Amazon that waits for its two feeds (stock, prices; FEED_WAIT_SECONDS 1200 each) after reading;
# a task past it has its worker killed. retry: a task not acknowledged by then is delivered again
# (a killed worker's); it must exceed the timeout or a task still running would be handed to a
# second worker. max_attempts: a task that raised is run at most three times in all. A killed sync
# does not wait for its redelivery: its run stops heartbeating and is marked interrupted within
# IMS_SYNC_STALE_SECONDS + a minute; the redelivered task is one more sync (values are absolute).
IMS_Q_TIMEOUT = int(os.environ.get("IMS_Q_TIMEOUT", "3600"))
IMS_Q_RETRY = int(os.environ.get("IMS_Q_RETRY", str(IMS_Q_TIMEOUT + 60)))
if IMS_Q_RETRY <= IMS_Q_TIMEOUT:
    raise ImproperlyConfigured(
        f"IMS_Q_RETRY ({IMS_Q_RETRY}) must be more than IMS_Q_TIMEOUT ({IMS_Q_TIMEOUT}): "
        "a task still running would be delivered to a second worker"
    )
Q_CLUSTER = {
    # Its name keys its queue on the broker: two IMS installations on one Redis take two names.
    "name": os.environ.get("IMS_Q_NAME", "ims"),
    "workers": int(os.environ.get("IMS_Q_WORKERS", "2")),
    "timeout": IMS_Q_TIMEOUT,
    "retry": IMS_Q_RETRY,
    "max_attempts": 3,
    "catch_up": False,
    "sync": IMS_QUEUE == "sync",
    "label": "Tasks",
}
if IMS_QUEUE == "redis":
    Q_CLUSTER["redis"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
else:
    Q_CLUSTER["orm"] = "default"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "ims.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "IMS API",
    "DESCRIPTION": "Stock, prices, channels and exceptions. Authenticate with a session or "
    "`Authorization: Token <key>` (issue one with `manage.py drf_create_token USER`).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies as their own components: what a client sends (required, not blank) is
    # described apart from what it reads back.
    "COMPONENT_SPLIT_REQUEST": True,
    # Bodies are documented as JSON, what integrators send (forms are still read, undocumented:
    # one form value cannot say whether it is a list of one).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "ProductStatusEnum": "catalog.models.ProductStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ims.openapi.error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("IMS_LOG_LEVEL", "WARNING")},
    "loggers": {"ims": {"level": os.environ.get("IMS_LOG_LEVEL", "WARNING"), "propagate": True}},
}
