"""Settings of the demo project. Environment: DATABASE_URL, REDIS_URL, DJANGO_DEBUG, DJANGO_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import dj_database_url
import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "notifications",
    "project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the browser's language (Accept-Language)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

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
            ],
        },
    },
]

# IMMEDIATE: writers take the lock at BEGIN, so concurrent notify() calls queue instead of failing;
# WAL lets readers (other processes' sockets) go on meanwhile.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {"default": dj_database_url.config(default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS

if os.environ.get("REDIS_URL"):
    # Imported here: without REDIS_URL nothing imports redis.
    from notifications.layers import redis_channel_layer

    CHANNEL_LAYERS = {"default": redis_channel_layer(os.environ["REDIS_URL"])}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"


def _demo_web_push() -> dict[str, str] | None:
    """Web Push keys from the environment, else a pair derived from SECRET_KEY (demo only: every
    process of the demo gets the same pair without a file; set VAPID_* in any real deployment)."""
    public, private = os.environ.get("VAPID_PUBLIC_KEY"), os.environ.get("VAPID_PRIVATE_KEY")
    if not private:
        try:
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        except ImportError:  # without the push extra the demo runs without Web Push
            return None
        seed = hashlib.sha256(f"demo-vapid:{SECRET_KEY}".encode()).digest()
        key = ec.derive_private_key(
            int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1, ec.SECP256R1()
        )
        point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        public = base64.urlsafe_b64encode(point).decode().rstrip("=")
        private = base64.urlsafe_b64encode(key.private_numbers().private_value.to_bytes(32, "big"))
        private = private.decode().rstrip("=")
    return {
        "VAPID_PUBLIC_KEY": public or "",
        "VAPID_PRIVATE_KEY": private,
        "SUBJECT": os.environ.get("VAPID_SUBJECT", "mailto:admin@example.com"),
    }


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# The demo runs tasks (Web Push sends) in threads of the web process: no worker to start.
TASKS = {"default": {"BACKEND": "notifications.thread_tasks.ThreadBackend"}}


NOTIFICATIONS: dict[str, object] = {
    "CATEGORIES": {
        "comments": {"label": "Comments", "in_app": True, "push": True, "email": True},
        "posts": {"label": "Posts", "in_app": True, "push": True, "email": False},
    },
    # Digest emails: print them on the console (EMAIL_BACKEND below) after one minute.
    "EMAIL_DIGEST_DELAY": 60,
    "EMAIL_BASE_URL": os.environ.get("DJANGO_SITE_URL", "http://127.0.0.1:8000"),
    "WEB_PUSH": _demo_web_push(),
}
if django.VERSION >= (6, 1):  # MAILERS replaces EMAIL_BACKEND
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "Relay <notifications@example.com>"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"notifications": {"handlers": ["console"], "level": "INFO"}},
}
