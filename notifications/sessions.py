"""Who opened a socket, and is the session it was opened with still valid?

The handshake's user is read once: by ``sign_in()`` in the consumer's one trip to the database on
connect (``routing.SessionAuthMiddleware`` leaves it deferred; the connects of one moment share a
trip), or by channels' ``AuthMiddlewareStack`` before the consumer runs. A socket therefore
remembers its session (``SessionRef``) and the server process re-checks the sessions of all its
sockets together (transport.Hub): two queries with a database session engine, however many sockets.

A session is valid as long as Django's ``get_user()`` would still accept it over HTTP: it exists, its
backend gives its user (ModelBackend: the user exists and may log in, ``is_active``), and the user's
session auth hash (password) is the one the session holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Final

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.crypto import constant_time_compare

VALID: Final = "valid"
# The session is gone or its user may no longer log in: close with 4401.
ENDED: Final = "ended"
# The session is gone and the user's password changed since the socket opened: the key was most likely
# cycled by update_session_auth_hash() in this very browser, which holds the new one: reconnect.
CHANGED: Final = "changed"
# The session holds another password's hash. Right after a password change in this browser, the
# request may not have cycled the key yet: look again shortly before treating it as ENDED.
MISMATCH: Final = "mismatch"

# Session keys per query (under SQLite's and PostgreSQL's parameter limits).
CHUNK: Final = 5_000


@dataclass(frozen=True, slots=True)
class SessionRef:
    """What a socket knows of its session from the handshake."""

    key: str
    user_pk: str
    auth_hash: str


class DeferredUser:
    """``scope["user"]`` until the consumer signs the session in (``sign_in()``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        raise ValueError(
            "The socket's user is read in the consumer's trip to the database on connect "
            "(notifications.routing.SessionAuthMiddleware); it is not known before."
        )


def sign_in(keys: Iterable[str]) -> dict[str, tuple[Any, SessionRef]]:
    """The user of each session key that signs in, with its SessionRef; other keys are missing.

    Django's rules for a request (``django.contrib.auth.get_user``): a session that exists, a
    configured backend, a user that may log in (``user_can_authenticate``: ModelBackend refuses
    inactive users), the session auth hash of the user's password or of a ``SECRET_KEY_FALLBACKS``
    key. Unlike a request, a handshake sends no cookie back, so a session that fails is not flushed
    or cycled here: the browser's next request does that. Two queries with a database session
    engine, however many keys. Runs in the database thread.
    """
    found = _load_sessions(set(keys))
    users = _session_users(found.values())
    signed_in: dict[str, tuple[Any, SessionRef]] = {}
    for key, data in found.items():
        user = users.get(_user_key(data))
        auth_hash = str(data.get(HASH_SESSION_KEY) or "")
        if user is not None and _hash_matches(auth_hash, user):
            signed_in[key] = (user, SessionRef(key, str(user.pk), auth_hash))
    return signed_in


def ref_from_scope(scope: dict[str, Any]) -> SessionRef | None:
    """The session of a handshake, or None when the user was not authenticated by a session."""
    session: Any = scope.get("session")
    user = scope.get("user")
    key = getattr(session, "session_key", None)
    if not key or user is None:
        return None
    if str(session.get(SESSION_KEY)) != str(user.pk):
        return None  # another middleware authenticated this user
    return SessionRef(key, str(user.pk), str(session.get(HASH_SESSION_KEY) or ""))


def check(refs: Iterable[SessionRef]) -> dict[SessionRef, str]:
    """The verdict on each session: VALID, ENDED, CHANGED or MISMATCH. Runs in the database thread."""
    refs = set(refs)
    sessions = _load_sessions({ref.key for ref in refs})
    signed_in = _session_users(sessions.values())
    gone = _load_users({ref.user_pk for ref in refs if ref.key not in sessions})
    verdicts: dict[SessionRef, str] = {}
    for ref in refs:
        data = sessions.get(ref.key)
        if data is None:
            user = gone.get(ref.user_pk)
            if user is None or not getattr(user, "is_active", True):
                verdicts[ref] = ENDED
            else:
                verdicts[ref] = ENDED if _hash_matches(ref.auth_hash, user) else CHANGED
            continue
        user = signed_in.get(_user_key(data))
        if user is None or str(data.get(SESSION_KEY)) != ref.user_pk:
            verdicts[ref] = ENDED
        elif not _hash_matches(str(data.get(HASH_SESSION_KEY) or ""), user):
            verdicts[ref] = MISMATCH
        else:
            verdicts[ref] = VALID
    return verdicts


def _load_sessions(keys: set[str]) -> dict[str, dict[str, Any]]:
    """Each session's data by key; keys of sessions that are gone or expired are missing."""
    store_class: Any = import_module(settings.SESSION_ENGINE).SessionStore
    found: dict[str, dict[str, Any]] = {}
    if issubclass(store_class, DatabaseSessionStore):  # db and cached_db: one query per chunk
        model = store_class.get_model_class()
        decoder = store_class()
        ordered = sorted(keys)
        for start in range(0, len(ordered), CHUNK):
            rows = model.objects.filter(
                session_key__in=ordered[start : start + CHUNK], expire_date__gt=timezone.now()
            ).values_list("session_key", "session_data")
            for key, data in rows:
                found[key] = decoder.decode(data)
        return found
    for key in keys:  # cache, file, signed cookies: no SQL
        data = store_class(key).load()
        if data:
            found[key] = data
    return found


def _user_key(data: dict[str, Any]) -> tuple[str, str]:
    return str(data.get(SESSION_KEY)), str(data.get(BACKEND_SESSION_KEY))


def _session_users(sessions: Iterable[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """What Django's ``get_user()`` gives for each session, by (user pk, backend path).

    A session whose backend is not configured, or whose backend refuses its user, is missing.
    Backends that look users up as ModelBackend does share one query (``user_can_authenticate`` is
    still theirs); a backend with a ``get_user()`` of its own is asked, once per user: its rules are
    its own (a tenant, a proxy model, a remote directory).
    """
    # Imported here: it imports auth's models, which need the app registry ready.
    from django.contrib.auth.backends import ModelBackend

    wanted = {
        _user_key(data)
        for data in sessions
        if SESSION_KEY in data and data.get(BACKEND_SESSION_KEY) in settings.AUTHENTICATION_BACKENDS
    }
    backends: dict[str, Any] = {path: load_backend(path) for _, path in wanted}
    by_model = {path for path, b in backends.items() if type(b).get_user is ModelBackend.get_user}
    loaded = _load_users({pk for pk, path in wanted if path in by_model})
    users: dict[tuple[str, str], Any] = {}
    for pk, path in wanted:
        backend = backends[path]
        if path in by_model:
            # ModelBackend.get_user(): the user by pk, if user_can_authenticate() (the backend's).
            user = loaded.get(pk)
            if user is not None and not backend.user_can_authenticate(user):
                user = None
        else:
            user = _ask(backend, pk)
        if user is not None:
            users[(pk, path)] = user
    return users


def _ask(backend: Any, pk: str) -> Any:
    try:
        user_id = get_user_model()._meta.pk.to_python(pk)
    except ValidationError:
        return None  # a key the user model never issued, as Django's get_user() treats it
    return backend.get_user(user_id)


def _load_users(pks: set[str]) -> dict[str, Any]:
    model = get_user_model()
    values = []
    for pk in pks:
        try:
            values.append(model._meta.pk.to_python(pk))
        except Exception:  # noqa: S112 - a key the user model never issued: no such user
            continue
    users: dict[str, Any] = {}
    for start in range(0, len(values), CHUNK):
        for user in model._default_manager.filter(pk__in=values[start : start + CHUNK]):
            users[str(user.pk)] = user
    return users


def _hash_matches(session_hash: str, user: Any) -> bool:
    if not session_hash or not hasattr(user, "get_session_auth_hash"):
        return not hasattr(user, "get_session_auth_hash")
    if constant_time_compare(session_hash, user.get_session_auth_hash()):
        return True
    fallbacks = getattr(user, "get_session_auth_fallback_hash", None)
    return fallbacks is not None and any(
        constant_time_compare(session_hash, fallback) for fallback in fallbacks()
    )
