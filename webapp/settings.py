"""Mimic settings.

One module for every environment. With no environment variables set it runs
embedded (SQLite, in-memory channel layer, Celery tasks in-process). With
DATABASE_URL and REDIS_URL it runs on PostgreSQL, Redis and separate workers.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from engine.frames import MAX_BYTES as FRAME_MAX_BYTES
from lib.deploysecrets import PUBLISHED_FIELD_KEY, PUBLISHED_SECRET_KEY, secret_problems

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


# The published development key applies only in the embedded shape (see "Security and privacy" below).
SECRET_KEY = os.getenv("SECRET_KEY", "")
DEBUG = envbool("DEBUG", "False")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_ROOT = os.getenv("SITE_ROOT", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "calls",
    "reports",
    "illustrations",
    "privacy",
    "dion",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "privacy.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "lib.language.ChosenLanguageMiddleware",  # LocaleMiddleware without Accept-Language: Russian unless chosen
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.TwoFactorMiddleware",  # a signed-in user without a verified second factor goes there
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout anywhere into the lockout page
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite unless DATABASE_URL names a server.
DATABASE_URL = os.getenv("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", "0"))}
    # A database that drops packets instead of refusing them must not hold daphne's database thread for minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", envint("DB_CONNECT_TIMEOUT", "3"))
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.getenv("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20},
            # A file, not pytest-django's shared in-memory default: tests start real daphne/Celery
            # subprocesses that must see the test database (one file per test process).
            "TEST": {"NAME": os.getenv("SQLITE_TEST_PATH", f"/tmp/mimic-test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# django-axes guards the backend itself, so every door (the sign-in page, /admin/login/, SSO) shares one lockout.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "calls:call_list"
LOGOUT_REDIRECT_URL = "accounts:login"

# Tests (and the servers they start) hash with MD5: real hashing costs seconds per user.
if envbool("MIMIC_TEST_FAST_HASHER", "False"):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Redis carries the channel layer and the Celery broker when configured.
REDIS_URL = os.getenv("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis Pub/Sub, and a Redis outage pauses the sockets instead of closing them
            # (lib/layers.py). MIMIC_CHANNEL_LAYER=lists: the list-based layer (bench/live_load.py --compare).
            "BACKEND": "lib.layers.ResilientRedisChannelLayer"
            if os.getenv("MIMIC_CHANNEL_LAYER") == "lists"
            else "lib.layers.ResilientRedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
# Tests and benchmarks run their own queue so that no other worker on the same Redis takes their frames.
CELERY_TASK_DEFAULT_QUEUE = os.getenv("CELERY_QUEUE", "celery")
# Embedded: tasks run in-process, on a worker thread (never on the event loop).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Frames travel as task arguments; no result backend may keep them or anything else.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
# Frame tasks are msgpack (raw JPEG bytes, calls.tasks); everything else is JSON. Neither can run code.
CELERY_ACCEPT_CONTENT = ["json", "msgpack"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "600")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "660")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", "3600"),
    # How often a worker looks for messages of dead workers past the visibility timeout (kombu: 10 s x 10).
    "unacked_restore_interval": envint("CELERY_UNACKED_RESTORE_INTERVAL", "10"),
    "unacked_restore_throttle": envint("CELERY_UNACKED_RESTORE_THROTTLE", "10"),
    # The restore sweep holds a Redis lock while it runs (milliseconds). A worker killed inside a sweep leaves the
    # lock until it expires, and no worker restores anything meanwhile (kombu: 300 s); 60 s bounds that delay.
    "unacked_mutex_expire": envint("CELERY_UNACKED_MUTEX_EXPIRE", "60"),
    # A publish to a vanished broker fails instead of hanging (then the frame is dropped as "paused").
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery >= 5.5 closes every database connection after every task unless this is set (celery#9824), so each
# frame paid a new PostgreSQL connection (a backend fork). With it set this high the fixup never closes;
# webapp.celery closes connections the way Django does for requests: when older than CONN_MAX_AGE or broken.
# (0 restores Celery's close-after-every-task, for bench/live_load.py --compare.)
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", "1000000000") or None
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Reliability (docs/benchmarks.md "Reliability"): a message that kills its worker this many times is
# dead-lettered (calls.models.DeadLetter, lib.tasks.ReliableTask) instead of looping; frame tasks
# have short time limits. The visibility timeout above must stay longer than the longest task (660 s).
MIMIC_TASK_MAX_DELIVERIES = envint("MIMIC_TASK_MAX_DELIVERIES", "3")
# Frame tasks are acks-late too: a worker crash redelivers them (stale ones are then dropped and counted).
MIMIC_FRAME_ACKS_LATE = envbool("MIMIC_FRAME_ACKS_LATE", "True")
MIMIC_FRAME_SOFT_TIME_LIMIT = envint("MIMIC_FRAME_SOFT_TIME_LIMIT", "20")
MIMIC_FRAME_TIME_LIMIT = envint("MIMIC_FRAME_TIME_LIMIT", "30")
# Backpressure: frames are dropped (counted, "backpressure") while about this many wait in the queue
# (queued batches x this daphne process's recent frames per batch).
MIMIC_QUEUE_MAX_DEPTH = envint("MIMIC_QUEUE_MAX_DEPTH", "20")
# Cross-call micro-batching (calls.batching): a daphne process sends its frames to the workers as one
# task per this many frames or per this many ms after the first, whichever comes first; 0 ms sends each frame
# alone. Measured in docs/benchmarks.md, "Live load".
MIMIC_FRAME_BATCH_MS = envint("MIMIC_FRAME_BATCH_MS", "50")
MIMIC_FRAME_BATCH_MAX = envint("MIMIC_FRAME_BATCH_MAX", "16")
# How long a worker trusts a call's open/consented state (the write itself re-checks under a row lock).
MIMIC_CALL_STATE_CACHE_MS = envint("MIMIC_CALL_STATE_CACHE_MS", "1000")
# Daphne probes Redis and the database this often while sockets are open ("analysis paused").
MIMIC_HEALTH_PROBE_MS = envint("MIMIC_HEALTH_PROBE_MS", "1000")
CELERY_BEAT_SCHEDULE = {
    "end-idle-calls": {"task": "calls.tasks.end_idle_calls", "schedule": 30.0},
}

# Internationalisation: Russian first, English when the user picks it with the switch (the language cookie);
# the browser's Accept-Language is ignored (lib.language.ChosenLanguageMiddleware).
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.getenv("TIME_ZONE", "Europe/Moscow")
USE_I18N = True
USE_TZ = True
# Dates and times: one format per language (webapp/formats/<lang>/formats.py), always in TIME_ZONE: there is no
# per-user zone, the bank's zone is every user's (lib/timefmt.py).
FORMAT_MODULE_PATH = "webapp.formats"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static", ("frontend", BASE_DIR / "frontend")]
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
SERVE_STATIC = envbool("SERVE_STATIC", "True")
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", str(BASE_DIR / "media")))

EMAIL_BACKEND = os.getenv("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "mimic@localhost")

# Live analysis.
# The engine's own limit unless set: one number for the socket's check and the decoder's.
MIMIC_FRAME_MAX_BYTES = envint("MIMIC_FRAME_MAX_BYTES", str(FRAME_MAX_BYTES))
MIMIC_DEFAULT_FPS = envint("MIMIC_DEFAULT_FPS", "2")
MIMIC_MAX_FPS = envint("MIMIC_MAX_FPS", "5")
MIMIC_IDLE_END_SECONDS = envint("MIMIC_IDLE_END_SECONDS", "120")
# Celery beat ends idle calls (calls.tasks.end_idle_calls, every 30 s). The embedded mode has no beat, so there
# each open socket checks its own call instead; with beat those checks are only load (a query per socket per 10 s).
MIMIC_SOCKET_IDLE_CHECK = envbool("MIMIC_SOCKET_IDLE_CHECK", str(CELERY_TASK_ALWAYS_EAGER))
# A frame still queued after this long is dropped (counted as "stale"): late scores are worthless live.
MIMIC_FRAME_STALE_MS = envint("MIMIC_FRAME_STALE_MS", "5000")
# Manager alert: negative expression in more than this share of the face-visible frames of the window.
MIMIC_ALERT_WINDOW_SECONDS = envint("MIMIC_ALERT_WINDOW_SECONDS", "30")
MIMIC_ALERT_NEGATIVE_SHARE = float(os.getenv("MIMIC_ALERT_NEGATIVE_SHARE", "0.5"))
MIMIC_SMOOTHING_FRAMES = envint("MIMIC_SMOOTHING_FRAMES", "5")
# Model overrides (empty: the files under engine/weights/); tests point subprocesses at a stand-in.
MIMIC_CLASSIFIER_PATH = os.getenv("MIMIC_CLASSIFIER_PATH", "")
MIMIC_DETECTOR_PATH = os.getenv("MIMIC_DETECTOR_PATH", "")
# The personal-data operator named in the consent text (name and address).
MIMIC_OPERATOR = os.getenv("MIMIC_OPERATOR", "")

# Recorded calls (reports app): the upload is deleted as soon as its analysis ends.
MIMIC_UPLOAD_MAX_BYTES = envint("MIMIC_UPLOAD_MAX_BYTES", str(500 * 1024 * 1024))
# Refused from the container header before decoding, and the duration again while decoding (default 4K, 3 h).
MIMIC_UPLOAD_MAX_PIXELS = envint("MIMIC_UPLOAD_MAX_PIXELS", str(3840 * 2160))
MIMIC_UPLOAD_MAX_SECONDS = envint("MIMIC_UPLOAD_MAX_SECONDS", str(3 * 3600))
# Request bodies are refused at the ASGI edge (lib.bodylimit) before Django spools them to disk: the upload pages
# may send MIMIC_UPLOAD_MAX_BYTES plus 1 MiB of form, every other request this many bytes.
MIMIC_REQUEST_MAX_BYTES = envint("MIMIC_REQUEST_MAX_BYTES", str(10 * 1024 * 1024))

# Dion integration (dion/; see docs/dion.md). The IAPI is on once an access token is set, the bot once its
# technical account is; without them the manager pastes the Dion meeting link by hand.
DION_IAPI_URL = os.getenv("DION_IAPI_URL", "https://api-integration.dion.vc/v1")
DION_CLIENT_CERT = os.getenv("DION_CLIENT_CERT", "")
DION_CLIENT_KEY = os.getenv("DION_CLIENT_KEY", "")
DION_CA_BUNDLE = os.getenv("DION_CA_BUNDLE", "")
DION_ACCESS_TOKEN = os.getenv("DION_ACCESS_TOKEN", "")
# A file re-read on every request, so a rotated token needs no restart; wins over DION_ACCESS_TOKEN.
DION_ACCESS_TOKEN_FILE = os.getenv("DION_ACCESS_TOKEN_FILE", "")
DION_IAPI_TIMEOUT = float(os.getenv("DION_IAPI_TIMEOUT", "10"))
DION_IAPI_RETRIES = envint("DION_IAPI_RETRIES", "3")
# Documented IAPI load: at most 100 requests per 60 s and at most 10 at once (per deployment with REDIS_URL).
DION_RATE_LIMITS = [(envint("DION_RATE_PER_MINUTE", "100"), 60.0)]
DION_MAX_CONCURRENT = envint("DION_MAX_CONCURRENT", "10")
# Where the values Mimic needs are in Dion's answers, which Dion does not publish (dotted paths, first wins).
DION_EVENT_ID_KEYS = envlist("DION_EVENT_ID_KEYS", "id,event_id,data.id")
DION_EVENT_LINK_KEYS = envlist("DION_EVENT_LINK_KEYS", "link,url,join_url,data.link,data.url")
DION_USER_EMAIL_KEYS = envlist("DION_USER_EMAIL_KEYS", "email,data.email,user.email")
DION_USER_NAME_KEYS = envlist("DION_USER_NAME_KEYS", "name,data.name,user.name")
DION_PARTICIPANT_LIST_KEYS = envlist("DION_PARTICIPANT_LIST_KEYS", "users,data,items")
DION_SESSION_LIST_KEYS = envlist("DION_SESSION_LIST_KEYS", "sessions,intervals")
DION_EVENT_PARAMS = envlist("DION_EVENT_PARAMS")  # values from GET /events/params, sent as event_params
# Meeting end through the API: open calls' meetings are polled this often (Celery beat; the bot worker in the
# embedded shape), at most this many a run, and a call ends once every session has stayed ended this long.
DION_POLL_INTERVAL_SECONDS = envint("DION_POLL_INTERVAL_SECONDS", "30")
DION_POLL_MAX_MEETINGS = envint("DION_POLL_MAX_MEETINGS", "20")
DION_MEETING_END_GRACE_SECONDS = envint("DION_MEETING_END_GRACE_SECONDS", "60")
# The Dion.Chats bot (manage.py dion_bot): its technical account, password inline or in a file.
DION_BOT_API_URL = os.getenv("DION_BOT_API_URL", "https://bots-api.dion.vc")
DION_BOT_EMAIL = os.getenv("DION_BOT_EMAIL", "")
DION_BOT_PASSWORD = os.getenv("DION_BOT_PASSWORD", "")
DION_BOT_PASSWORD_FILE = os.getenv("DION_BOT_PASSWORD_FILE", "")
DION_BOT_TIMEOUT = float(os.getenv("DION_BOT_TIMEOUT", "10"))
DION_BOT_LONG_POLL_SECONDS = envint("DION_BOT_LONG_POLL_SECONDS", "25")
DION_BOT_BATCH = envint("DION_BOT_BATCH", "20")
DION_BOT_PARSE_MODE = os.getenv("DION_BOT_PARSE_MODE", "")  # empty: plain text, no parse_mode sent
# The bot worker also polls meetings (for the embedded shape, which has no Celery beat).
DION_BOT_POLLS_MEETINGS = envbool("DION_BOT_POLLS_MEETINGS", "False" if REDIS_URL else "True")
CELERY_BEAT_SCHEDULE["dion-poll-meetings"] = {
    "task": "dion.tasks.poll_meetings",
    "schedule": float(DION_POLL_INTERVAL_SECONDS),
}
DION_WEBHOOK_SECRET = os.getenv("DION_WEBHOOK_SECRET", "")
DION_WEBHOOK_TOLERANCE_SECONDS = envint("DION_WEBHOOK_TOLERANCE_SECONDS", "300")
# Hosts accepted for a pasted meeting link (empty: any https link).
DION_MEETING_HOSTS = envlist("DION_MEETING_HOSTS")

# Security and privacy (privacy app; see docs/privacy.md). Embedded defaults keep `make run` working on
# http://127.0.0.1:8000; MIMIC_PRODUCTION=1 turns on HTTPS-only settings and requires real secrets.
MIMIC_PRODUCTION = envbool("MIMIC_PRODUCTION", "False")
# Fernet keys for encrypted fields (client names and contacts); the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = envlist("FIELD_ENCRYPTION_KEYS")
# The published development secrets (lib.deploysecrets) only in the embedded shape: no DATABASE_URL, no
# MIMIC_PRODUCTION. With a real database they are refused by value, and unset secrets stop the server.
MIMIC_EMBEDDED_SHAPE = not DATABASE_URL and not MIMIC_PRODUCTION
if MIMIC_EMBEDDED_SHAPE:
    SECRET_KEY = SECRET_KEY or PUBLISHED_SECRET_KEY
    FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or [PUBLISHED_FIELD_KEY]
elif "pytest" in sys.modules and not MIMIC_PRODUCTION and not (SECRET_KEY or FIELD_ENCRYPTION_KEYS):
    # A test run against PostgreSQL gets throwaway random secrets, never the published ones; the servers it
    # starts receive the same ones (tests/support/servers.py).
    SECRET_KEY = secrets.token_urlsafe(50)
    FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
if not MIMIC_EMBEDDED_SHAPE and (_problems := secret_problems(SECRET_KEY, FIELD_ENCRYPTION_KEYS)):
    raise ImproperlyConfigured(
        "With DATABASE_URL or MIMIC_PRODUCTION=1 Mimic needs its own secrets (README, Production): "
        + "; ".join(_problems)
    )
# The consent text names the personal-data operator (152-FZ art. 9): a placeholder is no consent at all.
if MIMIC_PRODUCTION and not MIMIC_OPERATOR.strip():
    raise ImproperlyConfigured("MIMIC_PRODUCTION=1 requires MIMIC_OPERATOR (the operator's name and address)")
# Mimic inside a Dion iframe: only these origins may frame it (CSP frame-ancestors); cookies become
# SameSite=None; Secure; Partitioned so the session works inside the frame.
MIMIC_EMBEDDING = envbool("MIMIC_EMBEDDING", "False")
MIMIC_DION_ORIGINS = envlist("MIMIC_DION_ORIGINS")
MIMIC_COOKIE_PARTITIONED = MIMIC_EMBEDDING and envbool("MIMIC_COOKIE_PARTITIONED", "True")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", str(MIMIC_PRODUCTION))
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if MIMIC_PRODUCTION else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", str(MIMIC_PRODUCTION))
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", str(MIMIC_PRODUCTION))
if envbool("SECURE_PROXY_SSL_HEADER", "False"):  # only behind a proxy that always sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # privacy.middleware drops it where CSP frame-ancestors allows Dion
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", str(MIMIC_PRODUCTION or MIMIC_EMBEDDING))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "None" if MIMIC_EMBEDDING else "Lax"
CSRF_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", str(10 * 3600))
# Sign-in lockout per username (django-axes, accounts.lockout): this many failures, each within the window of the
# one before, lock the account for the window; attempts while locked neither reach the password nor extend it.
MIMIC_LOGIN_MAX_FAILURES = envint("MIMIC_LOGIN_MAX_FAILURES", "5")
MIMIC_LOGIN_LOCKOUT_SECONDS = envint("MIMIC_LOGIN_LOCKOUT_SECONDS", "900")
AXES_FAILURE_LIMIT = MIMIC_LOGIN_MAX_FAILURES
AXES_COOLOFF_TIME = timedelta(seconds=MIMIC_LOGIN_LOCKOUT_SECONDS)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_CALLABLE = "accounts.lockout.username_key"
AXES_CLIENT_IP_CALLABLE = "lib.clientip.request_client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]  # masked in the attempts' stored form data
AXES_VERBOSE = False
# Locked by username only, on purpose: the bank's staff reach Mimic from a few shared NAT addresses, and locking
# an address would lock a whole office out (axes counts a username's failures from every address together).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# The client's address is the one that the last of this many proxies in front of daphne saw (X-Forwarded-For read
# from the right); 0 trusts no header and takes the socket's peer.
MIMIC_TRUSTED_PROXIES = envint("MIMIC_TRUSTED_PROXIES", "0")
# Two factors (django-otp): admins and supervisors always enrol a TOTP device at their first sign-in; managers too
# unless MIMIC_MANAGER_2FA=0.
MIMIC_MANAGER_2FA = envbool("MIMIC_MANAGER_2FA", "True")
OTP_TOTP_ISSUER = os.getenv("OTP_TOTP_ISSUER", "Mimic")
# Corporate sign-in by OpenID Connect (mozilla-django-oidc, accounts.oidc; docs/privacy.md), off unless
# MIMIC_OIDC_ENABLED=1. Staff accounts are matched by e-mail; the role comes from MIMIC_OIDC_ROLE_CLAIM,
# mapped by MIMIC_OIDC_ROLES ("idp-value=role,..."); a user whose claim maps to no role is refused.
MIMIC_OIDC_ENABLED = envbool("MIMIC_OIDC_ENABLED", "False")
OIDC_RP_CLIENT_ID = os.getenv("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.getenv("OIDC_RP_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = os.getenv("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.getenv("OIDC_RP_SCOPES", "openid email profile")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.getenv("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.getenv("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.getenv("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.getenv("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_ISSUER = os.getenv("OIDC_OP_ISSUER", "")
OIDC_USE_PKCE = True
OIDC_CREATE_USER = False  # only existing staff accounts sign in
OIDC_AUTHENTICATION_CALLBACK_URL = "accounts:oidc_callback"
OIDC_VERIFY_SSL = envbool("OIDC_VERIFY_SSL", "True")
OIDC_CA_BUNDLE = os.getenv("OIDC_CA_BUNDLE", "")
if OIDC_CA_BUNDLE:
    OIDC_VERIFY_SSL = OIDC_CA_BUNDLE  # requests' verify= takes a CA bundle path too
OIDC_TIMEOUT = float(os.getenv("OIDC_TIMEOUT", "10"))
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
MIMIC_OIDC_ROLE_CLAIM = os.getenv("MIMIC_OIDC_ROLE_CLAIM", "roles")
MIMIC_OIDC_ROLES = envlist("MIMIC_OIDC_ROLES", "mimic-admin=admin,mimic-supervisor=supervisor,mimic-manager=manager")
# MIMIC_OIDC_MANAGER_PASSWORDS=0: personal managers sign in by SSO only (the password form refuses them).
MIMIC_OIDC_MANAGER_PASSWORDS = envbool("MIMIC_OIDC_MANAGER_PASSWORDS", "True")
if MIMIC_OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("accounts.oidc.RoleClaimOIDCBackend")
# Retention in days (0 keeps forever); privacy.tasks.purge_expired_data runs daily (CELERY_BEAT_SCHEDULE).
MIMIC_RETENTION_SAMPLES_DAYS = envint("MIMIC_RETENTION_SAMPLES_DAYS", "90")
MIMIC_RETENTION_REPORTS_DAYS = envint("MIMIC_RETENTION_REPORTS_DAYS", "365")
MIMIC_RETENTION_PDFS_DAYS = envint("MIMIC_RETENTION_PDFS_DAYS", "30")
MIMIC_RETENTION_ILLUSTRATION_LINKS_DAYS = envint("MIMIC_RETENTION_ILLUSTRATION_LINKS_DAYS", "180")
MIMIC_RETENTION_FEEDBACK_DAYS = envint("MIMIC_RETENTION_FEEDBACK_DAYS", "365")
MIMIC_RETENTION_MEETINGS_DAYS = envint("MIMIC_RETENTION_MEETINGS_DAYS", "90")
MIMIC_RETENTION_LOGIN_FAILURES_DAYS = envint("MIMIC_RETENTION_LOGIN_FAILURES_DAYS", "1")
MIMIC_RETENTION_SIGN_INS_DAYS = envint("MIMIC_RETENTION_SIGN_INS_DAYS", "90")
# Calls (with their consents, scores and reports) and clients' names and contacts (after their last call).
MIMIC_RETENTION_CALLS_DAYS = envint("MIMIC_RETENTION_CALLS_DAYS", "365")
MIMIC_RETENTION_CLIENTS_DAYS = envint("MIMIC_RETENTION_CLIENTS_DAYS", "730")
# Without Celery beat (the embedded shape) the web process itself purges: after a request, when the last purge is
# older than this many hours (0: never, as with Redis, where beat runs privacy.tasks.purge_expired_data daily).
MIMIC_RETENTION_IN_PROCESS_HOURS = envint("MIMIC_RETENTION_IN_PROCESS_HOURS", "0" if REDIS_URL else "24")
CELERY_BEAT_SCHEDULE["purge-expired-data"] = {
    "task": "privacy.tasks.purge_expired_data",
    "schedule": crontab(hour=3, minute=15),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}
