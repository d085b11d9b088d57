"""One settings file for both sides: django-notifications-hq, then this package (HQ_SWITCHED=1)."""

import os

SECRET_KEY = "hq-project-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "notifications",
    "shop",
]
if os.environ.get("HQ_SWITCHED"):
    INSTALLED_APPS.insert(0, "channels")  # what this package's README asks for
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    NOTIFICATIONS = {"BATCH_SIZE": int(os.environ.get("HQ_BATCH_SIZE", "1000"))}
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]
STATIC_URL = "static/"
DJANGO_NOTIFICATIONS_CONFIG = {"USE_JSONFIELD": True, "SOFT_DELETE": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
_url = os.environ["HQ_DATABASE_URL"]
if _url.startswith("postgres://"):
    _rest = _url.removeprefix("postgres://")
    _cred, _, _hostdb = _rest.partition("@")
    _hostport, _, _name = _hostdb.partition("/")
    _host, _, _port = _hostport.partition(":")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _name,
            "USER": _cred,
            "HOST": _host,
            "PORT": _port or "5432",
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _url}}
