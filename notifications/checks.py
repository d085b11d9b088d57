"""System checks: ``notifications.E001`` ... with hints. Registered in AppConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import mail
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from notifications import conf, redis_fanout
from notifications.conf import app_settings
from notifications.constants import (
    EMAIL,
    GROUP_EXPIRY,
    LONG_GROUP_EXPIRY,
    MINIMUM_CAPACITY,
    RECOMMENDED_CAPACITY,
    REDIS_BLOCKING_SECONDS,
    REDIS_LAYER_BACKEND,
    REDIS_SOCKET_TIMEOUT,
)
from notifications.exceptions import NotificationsImproperlyConfigured


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    """E002 NOTIFICATIONS is not a dict, E003 an unknown key, E004 a bad value: conf's own rules."""
    return [Error(p.msg, hint=p.hint, id=p.id) for p in conf.problems()]


def _settings_broken() -> bool:
    # The checks below read app_settings; when that raises, check_settings reports why (E002 to E004).
    try:
        conf.load()
    except NotificationsImproperlyConfigured:
        return True
    return False


def check_channel_layer(**kwargs: Any) -> list[CheckMessage]:
    if _settings_broken():
        return []
    alias = app_settings.CHANNEL_LAYER
    refresh = app_settings.GROUP_REFRESH_INTERVAL
    layers_setting = getattr(settings, "CHANNEL_LAYERS", None) or {}
    config = layers_setting.get(alias)
    if config is None:
        return [
            Error(
                f"CHANNEL_LAYERS has no {alias!r} layer: notifications cannot be delivered live.",
                hint=(
                    "Add CHANNEL_LAYERS = {'default': notifications.layers.redis_channel_layer("
                    "'redis://127.0.0.1:6379/0')}, or the in-memory layer for development."
                ),
                id="notifications.E001",
            )
        ]
    messages: list[CheckMessage] = []
    backend = str(config.get("BACKEND", ""))
    options = config.get("CONFIG") or {}
    if backend.endswith("InMemoryChannelLayer") and not settings.DEBUG and not _under_test_runner():
        messages.append(
            Warning(
                "The in-memory channel layer is used with DEBUG = False: notifications created in "
                "another process reach open sockets only when the server polls the database "
                f"(every {redis_fanout.sync_interval():g} s), and read or deleted changes made there "
                "do not reach them at all.",
                hint="Use channels-redis in production: notifications.layers.redis_channel_layer().",
                id="notifications.W001",
            )
        )
    group_expiry = options.get("group_expiry", 86400)
    if refresh is not None and refresh >= group_expiry:
        messages.append(
            Warning(
                f"The channel layer's group_expiry ({group_expiry} s) is shorter than the socket "
                f"lifetime allows: sockets re-join their group every {refresh:g} s, so a socket "
                f"open longer than {group_expiry} s stops receiving live notifications.",
                hint="Set NOTIFICATIONS['GROUP_REFRESH_INTERVAL'] below group_expiry, or to None.",
                id="notifications.W002",
            )
        )
    if backend.startswith("channels_redis.core") or backend == REDIS_LAYER_BACKEND:
        messages += _check_redis(options)
        if group_expiry > LONG_GROUP_EXPIRY and _layer_carries_delivery():
            messages.append(
                Warning(
                    f"The channel layer's group_expiry is {group_expiry} s: the group memberships "
                    "of a server process killed without leaving its groups (SIGKILL, out of "
                    "memory) last that long, and the layer queues every message of their users "
                    "for the dead process meanwhile.",
                    hint=f"Set 'group_expiry' to a few minutes ({GROUP_EXPIRY}, the default of "
                    "notifications.layers.redis_channel_layer()): sockets re-join their group "
                    "every group_expiry / 2.",
                    id="notifications.W008",
                )
            )
    return messages


def _layer_carries_delivery() -> bool:
    # With the Redis fan-out (TRANSPORT "auto", plain hosts) the app joins no group at all.
    from notifications import redis_fanout

    return redis_fanout.redis_fanout() is None


def _under_test_runner() -> bool:
    # setup_test_environment() (Django's test runner, pytest-django) installs mail.outbox before the
    # checks run, and tests run with DEBUG = False in one process, where the in-memory layer is right.
    return hasattr(mail, "outbox")


def _check_redis(options: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for host in options.get("hosts") or [{}]:
        timeout = host.get("socket_timeout") if isinstance(host, dict) else None
        if timeout is None or timeout <= REDIS_BLOCKING_SECONDS:
            messages.append(
                Warning(
                    "A channels-redis host has no socket_timeout above the layer's "
                    f"{REDIS_BLOCKING_SECONDS} s blocking read: redis-py may time out an idle "
                    "server's read and close its sockets (code 1011).",
                    hint=(
                        "Give each host a dict with 'socket_timeout': "
                        f"{REDIS_SOCKET_TIMEOUT}, or use "
                        "notifications.layers.redis_channel_layer()."
                    ),
                    id="notifications.W003",
                )
            )
            break
    capacity = options.get("capacity", 100)
    if capacity < MINIMUM_CAPACITY:
        messages.append(
            Warning(
                f"channels-redis capacity is {capacity}: it bounds one queue shared by every socket "
                "of a server process, so a burst to more sockets than that is dropped silently.",
                hint=f"Set 'capacity' to {RECOMMENDED_CAPACITY} or more.",
                id="notifications.W004",
            )
        )
    return messages


def check_security(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if "*" in settings.ALLOWED_HOSTS and not settings.DEBUG:
        messages.append(
            Warning(
                "ALLOWED_HOSTS contains '*': AllowedHostsOriginValidator then accepts WebSockets "
                "from any site (cross-site WebSocket hijacking).",
                hint="List your host names in ALLOWED_HOSTS.",
                id="notifications.W005",
            )
        )
    if getattr(settings, "ASGI_APPLICATION", None):
        for alias, db in settings.DATABASES.items():
            # None keeps connections forever: the worst case, not "off".
            if db.get("CONN_MAX_AGE", 0) != 0 and not (db.get("OPTIONS") or {}).get("pool"):
                messages.append(
                    Warning(
                        f"DATABASES[{alias!r}]['CONN_MAX_AGE'] is not 0 under ASGI: persistent "
                        "connections leak, one per thread.",
                        hint="Set CONN_MAX_AGE to 0, or use connection pooling.",
                        id="notifications.W006",
                    )
                )
    return messages


def check_backends(**kwargs: Any) -> list[CheckMessage]:
    """E005 a delivery backend that cannot be loaded; W007 email links without a site URL."""
    from notifications.backends import load_backend

    if _settings_broken():
        return []
    messages: list[CheckMessage] = []
    names = []
    for path in app_settings.BACKENDS:
        try:
            names.append(load_backend(path).name)
        except NotificationsImproperlyConfigured as exc:
            messages.append(
                Error(
                    str(exc),
                    hint=(
                        "Each entry is the dotted path of a "
                        "notifications.backends.base.DeliveryBackend subclass with a `name`."
                    ),
                    id="notifications.E005",
                )
            )
    if EMAIL in names and app_settings.EMAIL_BASE_URL is None:
        messages.append(
            Warning(
                "NOTIFICATIONS['EMAIL_BASE_URL'] is not set: digest emails carry paths instead of "
                "links, and no List-Unsubscribe header.",
                hint="Set it to your site's address, such as 'https://example.com'.",
                id="notifications.W007",
            )
        )
    return messages


PUSH_BACKEND = "notifications.backends.push.PushBackend"


def check_web_push(**kwargs: Any) -> list[CheckMessage]:
    """W010: Web Push is asked for (WEB_PUSH given, or PushBackend listed) but its keys are missing."""
    user = getattr(settings, "NOTIFICATIONS", None) or {}
    if _settings_broken() or app_settings.WEB_PUSH is not None or not isinstance(user, dict):
        return []
    given = user.get("WEB_PUSH") or {}
    listed = PUSH_BACKEND in (user.get("BACKENDS") or ())
    if not given and not listed:
        return []
    missing = [k for k in conf.WEB_PUSH_REQUIRED if not given.get(k)]
    return [
        Warning(
            f"Web Push is off: NOTIFICATIONS['WEB_PUSH'] lacks {', '.join(missing)}.",
            hint=(
                "Run `manage.py notifications_vapid_keys` and put the pair and a SUBJECT "
                "('mailto:you@example.com') in NOTIFICATIONS['WEB_PUSH']. See docs/push.md."
            ),
            id="notifications.W010",
        )
    ]


def check_push_tasks(**kwargs: Any) -> list[CheckMessage]:
    """W011: Web Push is on, but the push tasks' backend cannot run a task later (ImmediateBackend,
    the default without TASKS): each push is sent inside the request and never retried."""
    if _settings_broken() or app_settings.WEB_PUSH is None:
        return []
    if PUSH_BACKEND not in app_settings.BACKENDS:
        return []
    from notifications.push_tasks import push_to_subscription

    backend = push_to_subscription.get_backend()
    if backend.supports_defer:
        return []
    return [
        Warning(
            f"Web Push is on, but the tasks backend {type(backend).__name__} cannot "
            "run a task later: each push is sent inside the request that created the "
            "notification, and a failed push is not retried.",
            hint=(
                "Set TASKS to a backend that can defer: the database or Redis backend of the tasks "
                "framework with its worker, or notifications.thread_tasks.ThreadBackend for a "
                "single-process site. See docs/push.md."
            ),
            id="notifications.W011",
        )
    ]


def register_checks() -> None:
    register(Tags.compatibility)(check_settings)
    register(Tags.compatibility)(check_backends)
    register(Tags.compatibility)(check_web_push)
    register(Tags.compatibility)(check_push_tasks)
    register(Tags.compatibility)(check_channel_layer)
    register(Tags.security, deploy=False)(check_security)
