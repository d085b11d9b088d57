"""Test settings: a custom user model, SQLite (or DATABASE_URL), the in-memory layer by default.

Tests that need Redis switch CHANNEL_LAYERS with the `redis_layer` fixture (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import dj_database_url
import django

from project.settings import SQLITE_OPTIONS

BASE_DIR = Path(__file__).resolve().parent.parent
# Subprocesses may run as another project (tests of two projects sharing one Redis database).
SECRET_KEY = os.environ.get("NOTIFICATIONS_TEST_SECRET_KEY", "tests-only")
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

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
    "tests.testapp",
]
AUTH_USER_MODEL = "testapp.User"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the browser's language (Accept-Language)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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

# Subprocesses (daphne in end-to-end tests) get the test database's name through this variable.
_test_db = os.environ.get("NOTIFICATIONS_TEST_DB_NAME")
# SQLite in a file, not :memory:, so that daphne subprocesses share it with the test process.
_sqlite = Path(tempfile.gettempdir()) / f"notifications-tests-{os.getpid()}.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(os.environ.get("DATABASE_URL") or f"sqlite:///{_sqlite}")
}
if _test_db:
    DATABASES["default"]["NAME"] = _test_db
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    DATABASES["default"]["TEST"] = {"NAME": DATABASES["default"]["NAME"]}

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
if os.environ.get("NOTIFICATIONS_TEST_REDIS_URL") and _test_db:
    from notifications.layers import redis_channel_layer

    CHANNEL_LAYERS = {
        "default": redis_channel_layer(
            os.environ["NOTIFICATIONS_TEST_REDIS_URL"].split(","),  # several: sharded
            prefix=os.environ.get("NOTIFICATIONS_TEST_REDIS_PREFIX", "asgi"),
            # More keyword arguments of redis_channel_layer() as JSON (a short group_expiry, say).
            **json.loads(os.environ.get("NOTIFICATIONS_TEST_LAYER_OPTIONS", "{}")),
        )
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
# Subprocesses (daphne) get their NOTIFICATIONS as JSON in this variable.
NOTIFICATIONS: dict[str, object] = json.loads(os.environ.get("NOTIFICATIONS_TEST_SETTINGS", "{}"))
if django.VERSION >= (6, 1):
    # Django 6.1 deprecates EMAIL_BACKEND for MAILERS (the test runner makes each one locmem).
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
