"""Crier settings: everything comes from the environment (django-environ).

Two modes. The embedded default (CRIER_MODE=development) runs on a laptop with no services:
SQLite files under var/ for the data and for Celery's queue (crier/broker.py), keys
generated into var/ on the first run, the provider sandbox on. Production
(CRIER_MODE=production) requires SECRET_KEY, CRIER_ENCRYPTION_KEYS, ALLOWED_HOSTS and real
services, turns the sandbox off and hardens HTTP so that ``manage.py check --deploy
--fail-level WARNING`` is clean.

Longer than 400 lines because every setting says where it comes from and why it has its default.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

MODE = env.str("CRIER_MODE", default="development")
if MODE not in {"development", "production"}:
    raise environ.ImproperlyConfigured("CRIER_MODE must be 'development' or 'production'.")
PRODUCTION = MODE == "production"
# Production never falls back to the laptop defaults (SQLite, the embedded broker, a cache per
# process, secrets generated into var/): it refuses to start, naming everything missing.
PRODUCTION_NEEDS = (
    "SECRET_KEY",
    "CRIER_ENCRYPTION_KEYS",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
)
if PRODUCTION and (missing := [n for n in PRODUCTION_NEEDS if not env.str(n, default="").strip()]):
    raise environ.ImproperlyConfigured(
        f"CRIER_MODE=production needs {', '.join(missing)} in the environment (or .env); "
        "see the README's section on PostgreSQL and Redis."
    )

VAR_DIR = Path(env.str("CRIER_VAR_DIR", default=str(BASE_DIR / "var")))


def _local_secret(name: str, make) -> str:
    """A secret generated once into var/, so a laptop needs no configuration (not in production)."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")
    CRIER_ENCRYPTION_KEYS = env.list("CRIER_ENCRYPTION_KEYS")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret(
        "secret_key", get_random_secret_key
    )
    CRIER_ENCRYPTION_KEYS = env.list("CRIER_ENCRYPTION_KEYS", default=[]) or [
        _local_secret("encryption_key", lambda: Fernet.generate_key().decode())
    ]

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The provider sandbox (local emulators of each provider's HTTP API) is for the demo and tests.
SANDBOX = env.bool("SANDBOX", default=not PRODUCTION)
# Provider hosts (README, Security). Besides each provider's documented host, accounts may call
# only these: "host" or "host:port" (443 when left out), "*.example.com" for its subdomains; a
# regional domain, a test host, a relay. Trusted by whoever runs Crier: even a private address.
CRIER_PROVIDER_HOSTS = env.list("CRIER_PROVIDER_HOSTS", default=[])
# Webhook endpoints (docs/webhooks.md) are https on public addresses, except these hosts, in
# the same patterns: a receiver on the operator's own network, over http too. Trusted by
# whoever runs Crier: the guard lets them reach any address.
CRIER_WEBHOOK_HOSTS = env.list("CRIER_WEBHOOK_HOSTS", default=[])
# Origins this Crier is served at, whose /sandbox/<provider> an account may call over http;
# by default the development server's (production names its own, if it runs a sandbox at all).
_port = env.int("CRIER_PORT", default=8000)  # the Procfile's web port
CRIER_SANDBOX_ORIGINS = env.list(
    "CRIER_SANDBOX_ORIGINS",
    default=[] if PRODUCTION else [f"http://127.0.0.1:{_port}", f"http://localhost:{_port}"],
)
# How long the sandbox's "hang" fault knob holds a response (longer than an adapter's read timeout).
SANDBOX_HANG_SECONDS = env.float("SANDBOX_HANG_SECONDS", default=60)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "workspaces",
    "audit",
    "providers",
    "contacts",
    "webhooks",
    "campaigns",
    "overview",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
]
if SANDBOX:
    INSTALLED_APPS.append("providers.sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A plain single SMS (POST /api/v1/messages) is answered here, before the rest: api/fast.py.
    "api.fast.FastMessagesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "workspaces.tenancy.WorkspaceMiddleware",
    "workspaces.twofactor.RequireTwoFactorMiddleware",
    "core.security.SignedInMiddleware",
    "core.uploads.UploadLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crier.urls"
WSGI_APPLICATION = "crier.wsgi.application"

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
                "workspaces.tenancy.workspace_context",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'crier.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the timeout rides out short locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    # A connection is kept for the next request for this long instead of opening one per
    # request (a few ms each, most of a small API call's time: bench/api.py), and checked
    # before reuse, so a server restart costs one failed check, never a failed request.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CRIER_DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Axes first: it refuses a locked-out username and address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading a session's user with their memberships in one statement.
    "workspaces.tenancy.MemberBackend",
]
# Backends renamed since a session could have stored their path (login() does; a path no longer
# in AUTHENTICATION_BACKENDS signs the user out): core.sessions reads a session's old path as
# the new one, and a two-factor login pending across the change finishes with the new one.
# Listing ModelBackend above instead would hash every wrong password twice.
CRIER_RENAMED_AUTH_BACKENDS = {
    "django.contrib.auth.backends.ModelBackend": "workspaces.tenancy.MemberBackend",
}
# Login throttling (django-axes): this many failures for one username from one address lock that
# pair out for the cool-off. A username that does not exist is counted and locked the same way,
# and the lockout page names no user, so neither tells whether an account exists.
AXES_FAILURE_LIMIT = env.int("CRIER_LOGIN_FAILURE_LIMIT", default=5)
# ...and this many from one address, whatever the usernames, lock the address out
# (workspaces/throttling.py: axes has a single limit for all its lockout parameters).
CRIER_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("CRIER_LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
AXES_HANDLER = "workspaces.throttling.AddressLimitHandler"
AXES_COOLOFF_TIME = timedelta(minutes=env.int("CRIER_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# Behind reverse proxies the connecting address is the proxy's, which would lock a username out
# for everybody: CRIER_TRUSTED_PROXIES (how many proxies stand in front, each appending to
# X-Forwarded-For) makes the client's address the one the outermost trusted proxy appended,
# read by django-ipware; what a client wrote further left is ignored. Leave it 0 when clients
# reach Django directly, or they could pick their own address.
_TRUSTED_PROXIES = env.int("CRIER_TRUSTED_PROXIES", default=0)
if _TRUSTED_PROXIES:
    # python-ipware counts the proxies listed in X-Forwarded-For: the nearest one is REMOTE_ADDR.
    AXES_IPWARE_PROXY_COUNT = _TRUSTED_PROXIES - 1
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    # Not strict: a client that sends an X-Forwarded-For of its own lengthens the list, and
    # strict mode would then fall back to the proxy's address, one lockout for everybody.
    IPWARE_STRICT = False
# Two-factor login (django-otp, workspaces/twofactor.py): the name authenticator apps show.
OTP_TOTP_ISSUER = "Crier"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
# In development WhiteNoise serves straight from the source folders, no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Recipient imports: guards applied before and while a file is read.
CRIER_IMPORT_MAX_BYTES = env.int("CRIER_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
CRIER_IMPORT_MAX_ROWS = env.int("CRIER_IMPORT_MAX_ROWS", default=2_000_000)
CRIER_IMPORT_MAX_COLUMNS = env.int("CRIER_IMPORT_MAX_COLUMNS", default=100)
# Custom contact fields a workspace may define (contact imports create them from columns).
CRIER_CONTACT_FIELDS_MAX = env.int("CRIER_CONTACT_FIELDS_MAX", default=200)
# Uploads read at once, in one web process and in one workspace (core/uploads.py); each
# costs a few MB of memory while its first rows are read, whatever the file.
CRIER_UPLOADS_PER_PROCESS = env.int("CRIER_UPLOADS_PER_PROCESS", default=4)
CRIER_UPLOADS_PER_WORKSPACE = env.int("CRIER_UPLOADS_PER_WORKSPACE", default=3)
# A validation helper silent this long fails its import (core/children.py); an import
# whose worker has been silent this long is failed by beat (fail_abandoned_imports).
CRIER_IMPORT_STALL_SECONDS = env.float("CRIER_IMPORT_STALL_SECONDS", default=60.0)
CRIER_IMPORT_STALE_SECONDS = env.float("CRIER_IMPORT_STALE_SECONDS", default=120.0)
CRIER_SPREADSHEET_SECONDS = env.float("CRIER_SPREADSHEET_SECONDS", default=120.0)
# Above this many pending recipients the preview prices a campaign in the background.
CRIER_PREVIEW_SYNC_LIMIT = env.int("CRIER_PREVIEW_SYNC_LIMIT", default=200_000)
# Let a 50 MB upload through Django to the import's own size check, which explains itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# An upload over CRIER_IMPORT_MAX_BYTES is dropped while it streams in (core/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "core.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Celery. The embedded default keeps the queue in an SQLite file under var/ (crier/broker.py),
# so a laptop needs neither Redis nor RabbitMQ; production points CELERY_BROKER_URL at one.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=f"sqlite:///{VAR_DIR / 'broker.sqlite3'}")
if CELERY_BROKER_URL.startswith("sqlite:"):
    CELERY_BROKER_TRANSPORT = "crier.broker:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_POOL = "prefork"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Installed into django-celery-beat's tables at beat start-up; editable in the admin.
CELERY_BEAT_SCHEDULE = {
    # The API's Idempotency-Keys are kept 24 hours.
    "forget-idempotency-keys": {"task": "api.tasks.forget_idempotency_keys", "schedule": 60 * 60},
    "refresh-balances": {"task": "providers.tasks.refresh_balances", "schedule": 15 * 60},
    # Sender names' approval statuses, as each provider reports them (errors on the account).
    "refresh-sender-names": {"task": "providers.tasks.refresh_sender_names", "schedule": 60 * 60},
    # Starts due campaigns and hands sending campaigns to workers (no ETA tasks: a broker
    # redelivers those twice past its visibility timeout).
    "dispatch-campaigns": {"task": "campaigns.tasks.dispatch_campaigns", "schedule": 2.0},
    # Hands every campaign in flight whose next poll is due to a worker, one poll at a time
    # per campaign (campaigns.tracking.polling); the interval itself is per provider.
    "poll-campaigns": {"task": "campaigns.tasks.poll_campaigns", "schedule": 2.0},
    # Contacts' last sent and delivered dates from the batches updated since the last run
    # (campaigns.engagement.roll_up), for segments' engagement conditions.
    "roll-up-engagement": {"task": "campaigns.tasks.roll_up_engagement", "schedule": 60.0},
    # Fails the recipient imports a dead worker left running (campaigns.recipients.imports).
    "fail-abandoned-imports": {
        "task": "campaigns.tasks.fail_abandoned_imports",
        "schedule": 30.0,
    },
    # The same for contact-book imports (contacts.importing).
    "fail-abandoned-contact-imports": {
        "task": "contacts.tasks.fail_abandoned_imports",
        "schedule": 30.0,
    },
    # Bulk-loaded contact books' own search indexes whose build was lost, queued again, and
    # those of deleted workspaces dropped (contacts.search_indexes).
    "check-search-indexes": {"task": "contacts.tasks.check_search_indexes", "schedule": 300.0},
    # Big campaigns' number indexes, once their numbers changed (campaigns.number_index).
    "fill-number-indexes": {"task": "campaigns.tasks.fill_number_indexes", "schedule": 30.0},
    # Webhook events fanned out and due deliveries sent (webhooks.delivery): each recorded
    # event queues this task too; beat catches a lost message and runs the retries.
    "deliver-webhooks": {"task": "webhooks.tasks.deliver", "schedule": 10.0},
    # Webhook events and their delivery log older than CRIER_WEBHOOK_KEEP_DAYS.
    "prune-webhooks": {"task": "webhooks.tasks.prune", "schedule": 60 * 60},
}
# Webhooks: a request's timeout, how long a delivery is retried (exponential backoff, see
# webhooks.delivery.backoff), how long an endpoint may fail without a success before it is
# disabled and its workspace's admins told, and how long one delivery task runs.
CRIER_WEBHOOK_TIMEOUT = env.float("CRIER_WEBHOOK_TIMEOUT", default=10.0)
CRIER_WEBHOOK_RETRY_HOURS = env.float("CRIER_WEBHOOK_RETRY_HOURS", default=24.0)
CRIER_WEBHOOK_DISABLE_AFTER_HOURS = env.float("CRIER_WEBHOOK_DISABLE_AFTER_HOURS", default=72.0)
CRIER_WEBHOOK_TASK_SECONDS = env.float("CRIER_WEBHOOK_TASK_SECONDS", default=50.0)
CRIER_WEBHOOK_KEEP_DAYS = env.int("CRIER_WEBHOOK_KEEP_DAYS", default=30)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# The most messages Crier asks a provider to price in one quote (the compose page's "Ask ... for
# its price"): the quote sends every recipient's text, within the web request.
CRIER_QUOTE_LIMIT = env.int("CRIER_QUOTE_LIMIT", default=100_000)

# Sending (campaigns.sending.engine). A worker keeps a campaign for CRIER_SEND_TASK_SECONDS, then
# hands it back to the beat task; a batch whose worker vanished is reconciled once its lease (the
# provider timeout plus a margin, renewed before every request) has run out.
CRIER_PROVIDER_TIMEOUT = env.float("CRIER_PROVIDER_TIMEOUT", default=30.0)
CRIER_SEND_TASK_SECONDS = env.float("CRIER_SEND_TASK_SECONDS", default=60.0)
CRIER_SEND_BATCH_SIZE = env.int("CRIER_SEND_BATCH_SIZE", default=0)  # 0: the provider's largest
CRIER_SEND_MAX_ATTEMPTS = env.int("CRIER_SEND_MAX_ATTEMPTS", default=10)  # per batch, transient
CRIER_SEND_PAUSE_AFTER_ERRORS = env.int("CRIER_SEND_PAUSE_AFTER_ERRORS", default=3)
CRIER_SEND_BACKOFF_CAP = env.float("CRIER_SEND_BACKOFF_CAP", default=60.0)
# A running task renews its leases every third of this; a worker killed mid-batch lets go of
# its campaign and batch within it.
CRIER_LEASE_SECONDS = env.float("CRIER_LEASE_SECONDS", default=15.0)
# A batch whose answer was lost is sent again only when the provider has no trace of it this
# long after the last request could have reached it. Below 0: each provider's own figure
# (ProviderAdapter.settle_time, 10 minutes); tests and the sandbox demo set it lower.
CRIER_RECONCILE_SETTLE_SECONDS = env.float("CRIER_RECONCILE_SETTLE_SECONDS", default=-1.0)
# A batch the provider refused as one it has, but that Crier then cannot find, is left
# "unknown" for a person after this long.
CRIER_RECONCILE_GIVE_UP_SECONDS = env.int("CRIER_RECONCILE_GIVE_UP_SECONDS", default=24 * 3600)

# Tracking (campaigns.tracking.polling). Each provider polls at its own interval (Capabilities.
# poll_interval); CRIER_POLL_INTERVAL > 0 overrides it for all of them (seconds).
CRIER_POLL_INTERVAL = env.float("CRIER_POLL_INTERVAL", default=0.0)
# A poll holds its campaign this long at most; a worker that died frees it after that.
CRIER_POLL_LEASE_SECONDS = env.float("CRIER_POLL_LEASE_SECONDS", default=300.0)
# After a message's validity, how long late delivery reports may still arrive: a batch the
# provider calls done is closed (its open messages become "unknown") only after that.
CRIER_POLL_SETTLE_SECONDS = env.int("CRIER_POLL_SETTLE_SECONDS", default=600)
# Validity assumed when neither the campaign nor the provider states one (seconds).
CRIER_POLL_DEFAULT_VALIDITY = env.int("CRIER_POLL_DEFAULT_VALIDITY", default=24 * 3600)
# A provider that reports nothing (Conpeek): its messages stay "queued" this long after the
# batch went out, then become "unknown" and the campaign completes. Two minutes in the
# embedded demo (the sandbox finishes every call by then); a day in production.
CRIER_POLL_UNTRACKED_SECONDS = env.int(
    "CRIER_POLL_UNTRACKED_SECONDS", default=120 if MODE == "development" else 24 * 3600
)
# A batch the provider never calls done is given up (open messages "unknown") this long after
# its validity and settle window ran out.
CRIER_POLL_GIVE_UP_SECONDS = env.int("CRIER_POLL_GIVE_UP_SECONDS", default=3 * 24 * 3600)

# Provider login tokens are cached here; production shares one cache between processes.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        "quiet_ticks": {"()": "crier.logs.QuietTicks"},
        "redact_secrets": {"()": "crier.logs.RedactSecrets"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request URL at INFO; Mobizon carries its API key in the query string.
    # django-axes logs every login at INFO; its WARNING for a failed login is the useful part.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's access log: the request line carries Mobizon's apiKey query value.
        "django.server": {"filters": ["redact_secrets"]},
        "django.request": {"filters": ["redact_secrets"]},
        "httpx": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # Beat's every-2-second ticks say nothing unless they did something (crier.logs).
        "celery.beat": {"filters": ["quiet_ticks"]},
        "celery.app.trace": {"filters": ["quiet_ticks"]},
        "celery.worker.strategy": {"filters": ["quiet_ticks"]},
    },
}

# Hardened HTTP. Production turns everything on; behind a TLS-terminating proxy set
# SECURE_PROXY_SSL_HEADER_ENABLED=true.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, read with SQL built once (every signed-in request reads one).
SESSION_ENGINE = "core.sessions"
# A session ends after this long without a request (core.security.SignedInMiddleware
# moves the end forward at most once a minute, so polling pages do not write every time).
SESSION_COOKIE_AGE = env.int("CRIER_SESSION_IDLE_SECONDS", default=8 * 3600)
# Workspaces a user may create (own); a superuser may create any number.
CRIER_MAX_WORKSPACES_PER_USER = env.int("CRIER_MAX_WORKSPACES_PER_USER", default=5)
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content Security Policy (django-csp): everything from our own origin, no inline script or
# style and no eval; htmx is held to the same by its meta config in base.html.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# The public API (api/, docs/api.md): keys in the Authorization header, never a session, so
# no CSRF; errors as problem details; one rate per key (CRIER_API_RATE: "100/s", "6000/min"),
# counted in CACHE_URL's cache (per process with the default local memory).
CRIER_API_RATE = env.str("CRIER_API_RATE", default="100/s")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.keys.KeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.keys.ScopePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Crier API",
    "DESCRIPTION": (
        "Create, launch and follow SMS and voice campaigns, send single messages, and read "
        "their statuses. Authenticate with a workspace's key: `Authorization: Bearer crier_…`. "
        "Every POST takes an `Idempotency-Key`. Errors are RFC 9457 problem details. "
        "Guide with examples: docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_problems",
        "api.schema.add_links",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CampaignStatusEnum": "core.statuses.CampaignStatus",
        "MessageStatusEnum": "core.statuses.MessageStatus",
        "OptOutSourceEnum": "contacts.models.OptOutSource",
    },
}

# Error reports (the debug page, mails to ADMINS) hide credentials even while DEBUG is on.
DEFAULT_EXCEPTION_REPORTER_FILTER = "crier.reporting.CredentialSafeReporterFilter"

FORM_RENDERER = "core.forms_renderer.BootstrapFormRenderer"

# E-mail (invitations). Development prints every message on the console; production sends
# through EMAIL_URL (smtp+tls://user:password@smtp.example.com:587), by default a relay on
# localhost, never the console: an invitation's link must not land in a log.
vars().update(
    env.email_url("EMAIL_URL", default="smtp://localhost:25" if PRODUCTION else "consolemail://")
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Crier <crier@localhost>")
EMAIL_TIMEOUT = 10
# How long an invitation's link works.
CRIER_INVITATION_DAYS = env.int("CRIER_INVITATION_DAYS", default=7)
