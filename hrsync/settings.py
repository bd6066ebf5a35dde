"""hrsync settings: every value comes from the environment, read here only.

Two shapes:
- **Embedded** (no ``DATABASE_URL``): SQLite and a filesystem Celery broker under
  ``HRSYNC_VAR_DIR``, DEBUG on, and the secret key and encryption key generated
  once into files there. One machine, no servers, for trying hrsync out.
- **Deployed** (``DATABASE_URL`` set, normally PostgreSQL, with Redis as the
  broker): DEBUG off and every secret must come from the environment; nothing
  has a default.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("HRSYNC_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
EMBEDDED = "DATABASE_URL" not in env

DEBUG = env.bool("DJANGO_DEBUG", default=EMBEDDED)


def _local_secret(name: str, make: callable) -> str:
    """Read a generated secret from VAR_DIR, creating it on first use.

    Only the embedded mode uses this; a deployment must pass its secrets in the
    environment so they survive a fresh container and are the same everywhere.
    """
    if not EMBEDDED:
        raise ImproperlyConfigured(
            f"Set {name} in the environment: a deployment with DATABASE_URL has no default for it."
        )
    path = VAR_DIR / name.lower()
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=None) or _local_secret(
    "DJANGO_SECRET_KEY", lambda: secrets.token_urlsafe(50)
)
# One or more Fernet keys, comma separated: the first encrypts, all decrypt
# (so a key can be rotated without losing stored credentials).
HRSYNC_ENCRYPTION_KEYS = env.list("HRSYNC_ENCRYPTION_KEY", default=[]) or [
    _local_secret("HRSYNC_ENCRYPTION_KEY", lambda: Fernet.generate_key().decode())
]

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if EMBEDDED else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    "hrsync.people",
    "connections",
    "mappings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Serves /static/ from the web process itself: no separate file server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hrsync.urls"
WSGI_APPLICATION = "hrsync.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # A connector's own pages keep their templates in its package
        # (connectors/<kind>/templates/<kind>/…), beside its views.
        "DIRS": [BASE_DIR / "templates", *sorted(BASE_DIR.glob("connectors/*/templates"))],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "hrsync.sqlite3",
            # The web server and the worker share one file: wait for locks
            # rather than failing, and take the write lock up front so two
            # writers never deadlock upgrading read locks.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": env.str("HRSYNC_SQLITE_TEST_NAME", default="") or None},
        }
    }
else:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Vendor access tokens (encrypted) are cached here so a run reuses the last
# run's token: the web and worker processes must share it, hence files under
# VAR_DIR by default rather than each process's memory. Machines that share
# no disk point CACHE_URL at Redis (redis://host:6379/1).
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# -- Sign-in throttling (django-axes) ------------------------------------------
# After HRSYNC_LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address, that username is refused from that address, even with the right
# password, for HRSYNC_LOGIN_LOCKOUT_MINUTES (counted from the last attempt).
# Other accounts, and the same account from elsewhere, are unaffected; signing
# in before the limit starts the count again. `manage.py axes_reset_username`
# unlocks an account early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("HRSYNC_LOGIN_FAILURE_LIMIT", default=5)
_LOCKOUT_MINUTES = env.int("HRSYNC_LOGIN_LOCKOUT_MINUTES", default=15)
if AXES_FAILURE_LIMIT < 1 or _LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured("HRSYNC_LOGIN_FAILURE_LIMIT and HRSYNC_LOGIN_LOCKOUT_MINUTES must be at least 1.")
AXES_COOLOFF_TIME = dt.timedelta(minutes=_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "hrsync.access.sign_in_locked_out"
# No startup banner on every command's stderr; failures and lockouts are
# still logged (WARNING), with the username and address masked.
AXES_VERBOSE = False
# The address a sign-in comes from. Behind HRSYNC_PROXY_COUNT reverse proxies
# (a load balancer, nginx…) each appending to X-Forwarded-For, it is the entry
# the outermost proxy wrote, counted from the right: whatever a browser put in
# the header itself stays to the left and is never believed. 0: browsers
# connect to hrsync directly, and the header is ignored.
HRSYNC_PROXY_COUNT = env.int("HRSYNC_PROXY_COUNT", default=0)
if HRSYNC_PROXY_COUNT < 0:
    raise ImproperlyConfigured("HRSYNC_PROXY_COUNT must be 0 or more.")
if HRSYNC_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    # ipware counts the proxies listed in the header: all but the nearest one.
    AXES_IPWARE_PROXY_COUNT = HRSYNC_PROXY_COUNT - 1
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
# Take the client's position from the right even when the header holds more
# entries than proxies (a browser's own), instead of distrusting the header.
IPWARE_STRICT = False

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))
# A deployment serves compressed, content-hashed copies made by
# `collectstatic` (the Docker image runs it at build time). The embedded mode,
# DEBUG and test runs serve files straight from the source tree, so they never
# need `collectstatic` (`dev.py test` sets DJANGO_STATIC_MANIFEST=false when it
# runs the suite against PostgreSQL).
_STATIC_MANIFEST = env.bool("DJANGO_STATIC_MANIFEST", default=not (EMBEDDED or DEBUG))
# Files other systems send to hrsync (uploads, webhook bodies: InboundFile),
# kept until they are processed and purged. Web and workers must share it.
MEDIA_ROOT = Path(env.str("HRSYNC_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without the manifest, WhiteNoise looks files up in the source tree per
# request (as runserver does) instead of scanning a STATIC_ROOT that may not exist.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not _STATIC_MANIFEST

# -- Security (deployed) -----------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Every script and stylesheet is a file under /static/ (the Django admin's
# too), so nothing inline ever needs to run: injected markup stays inert.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# -- Email -------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="hrsync <hrsync@localhost>")
# Absolute address of this site, for links in emails (set-password links).
HRSYNC_BASE_URL = env.str("HRSYNC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# -- Celery ------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis", "sentinel")):
    # Without socket timeouts a Redis that accepts connections but never
    # answers keeps a publish, and the web request behind it, waiting for ever.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 3}
# A click on Sync publishes a task in the web request: with the queue down it
# must answer within seconds ("the task queue is unreachable"), so one quick
# retry at most.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE

# -- hrsync ------------------------------------------------------------------
# Offer the bundled demo roster as an integration.
HRSYNC_SAMPLE_CONNECTOR = env.bool("HRSYNC_SAMPLE_CONNECTOR", default=True)
# CSV file connections may read a file:// path on this server: handy for
# trying hrsync out, never wanted on a shared deployment.
HRSYNC_ALLOW_LOCAL_FILES = env.bool("HRSYNC_ALLOW_LOCAL_FILES", default=EMBEDDED)
# How often the dispatcher looks for due connections and stale runs (seconds).
HRSYNC_DISPATCH_EVERY = env.int("HRSYNC_DISPATCH_EVERY", default=300)
# A running sync whose heartbeat is older than this is marked failed (seconds);
# a run beats every tenth of it, also while it waits on a vendor.
HRSYNC_STALE_AFTER = env.int("HRSYNC_STALE_AFTER", default=900)
# A queued sync no worker has picked up after this long is marked failed.
HRSYNC_QUEUED_TIMEOUT = env.int("HRSYNC_QUEUED_TIMEOUT", default=3600)

# -- Outbound connections ----------------------------------------------------
# Which addresses connectors may reach (connectors/outbound.py applies the
# rules to every resolved address, at connect time). Deployed only: the
# embedded mode reaches anything, its own loopback included.
# Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): "allow"
# suits a self-hosted install beside its HR system; "deny" a shared one.
HRSYNC_OUTBOUND_PRIVATE = env.str("HRSYNC_OUTBOUND_PRIVATE", default="allow").strip().lower()
if HRSYNC_OUTBOUND_PRIVATE not in {"allow", "deny"}:
    raise ImproperlyConfigured("HRSYNC_OUTBOUND_PRIVATE must be allow or deny.")
# Exceptions to the rules: networks (10.2.0.0/16, 127.0.0.1) or host names.
HRSYNC_OUTBOUND_ALLOW = env.list("HRSYNC_OUTBOUND_ALLOW", default=[])
# Development and tests only: plain http:// to a stand-in vendor on this
# machine's loopback, which deployed mode otherwise refuses to reach at all.
HRSYNC_ALLOW_INSECURE_LOOPBACK = env.bool("HRSYNC_ALLOW_INSECURE_LOOPBACK", default=False)
# The longest a web page waits on a vendor (Test connection, Save and test,
# the column-mapping page): well under the web worker's timeout (gunicorn's
# is 30 s), so a slow vendor gives a sentence, not a 500. Syncs in the worker
# keep the full timeouts.
HRSYNC_WEB_CHECK_SECONDS = env.int("HRSYNC_WEB_CHECK_SECONDS", default=20)
if HRSYNC_WEB_CHECK_SECONDS < 1:
    raise ImproperlyConfigured("HRSYNC_WEB_CHECK_SECONDS must be at least 1.")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Every process (web, worker, beat, the commands) also appends its records
# here, tracebacks included, when set. The commands leave tracebacks off the
# terminal below --verbosity 2, so this is where an operator finds them.
HRSYNC_LOG_FILE = env.str("HRSYNC_LOG_FILE", default="")
# Every handler scrubs webhook secrets from request paths (hrsync.logs).
_LOG_HANDLERS: dict[str, dict[str, Any]] = {
    "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["secret_paths"]}
}
if HRSYNC_LOG_FILE:
    # Watched: a log rotated under the processes' feet is reopened.
    _LOG_HANDLERS["file"] = {
        "class": "logging.handlers.WatchedFileHandler",
        "filename": HRSYNC_LOG_FILE,
        "formatter": "plain",
        "filters": ["secret_paths"],
    }
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"secret_paths": {"()": "hrsync.logs.SecretPathFilter"}},
    "handlers": _LOG_HANDLERS,
    "root": {"handlers": list(_LOG_HANDLERS), "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The development server's request lines, through the handlers that scrub them.
        "django.server": {"handlers": list(_LOG_HANDLERS), "level": "INFO", "propagate": False},
    },
}
# The worker logs through LOGGING as well, instead of replacing its handlers
# with Celery's own (which would leave HRSYNC_LOG_FILE without the syncs).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
