"""DATABASE_URL -> a DATABASES entry (postgres:// and sqlite:// only: all the demo and CI need)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def parse(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 0,
        }
    if parts.scheme == "sqlite":
        return sqlite(unquote(parts.path))
    raise ImproperlyConfigured(f"DATABASE_URL must be postgres:// or sqlite://, not {url!r}")


def sqlite(path: Any) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # IMMEDIATE: writers take the lock at BEGIN, so concurrent notify() calls queue instead of
        # failing; WAL lets readers (other processes' sockets) go on meanwhile.
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
