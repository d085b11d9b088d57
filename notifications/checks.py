"""System checks: ``notifications.E001`` ... with hints. Registered in AppConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from notifications import layers
from notifications.conf import DEFAULTS, app_settings
from notifications.exceptions import NotificationsImproperlyConfigured

DOCS = "See README.md, section Settings."


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    try:
        values = {name: getattr(app_settings, name) for name in DEFAULTS}
    except NotificationsImproperlyConfigured as exc:
        return [Error(str(exc), hint=DOCS, id="notifications.E002")]
    errors: list[CheckMessage] = []
    special = {"CHANNEL_LAYER", "GROUP_REFRESH_INTERVAL", "SYNC_INTERVAL", "TRANSPORT", "GC_TUNING"}
    positive = [k for k in values if k not in special]
    for name in positive:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(
                Error(
                    f"NOTIFICATIONS[{name!r}] must be a positive number, not {value!r}.",
                    hint=f"Remove it to use the default, {DEFAULTS[name]!r}.",
                    id="notifications.E002",
                )
            )
    optional = {
        "GROUP_REFRESH_INTERVAL": "None re-joins every half group_expiry (at most every five minutes).",
        "SYNC_INTERVAL": "None checks every 10 s (1.5 s with the in-memory layer).",
    }
    for name, hint in optional.items():
        value = values[name]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            errors.append(
                Error(
                    f"NOTIFICATIONS[{name!r}] must be None or a positive number.",
                    hint=hint,
                    id="notifications.E002",
                )
            )
    if values["TRANSPORT"] not in {"auto", "layer"}:
        errors.append(
            Error(
                f"NOTIFICATIONS['TRANSPORT'] must be 'auto' or 'layer', not {values['TRANSPORT']!r}.",
                hint="'auto' uses the Redis fan-out when the layer is channels-redis.",
                id="notifications.E002",
            )
        )
    if not isinstance(values["GC_TUNING"], bool):
        errors.append(
            Error(
                "NOTIFICATIONS['GC_TUNING'] must be True or False.",
                hint="Remove it to use the default, True.",
                id="notifications.E002",
            )
        )
    return errors


def check_channel_layer(**kwargs: Any) -> list[CheckMessage]:
    try:
        alias = app_settings.CHANNEL_LAYER
        refresh = app_settings.GROUP_REFRESH_INTERVAL
    except NotificationsImproperlyConfigured:
        return []  # check_settings reports it (E002)
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
    if backend.endswith("InMemoryChannelLayer") and not settings.DEBUG:
        messages.append(
            Warning(
                "The in-memory channel layer is used with DEBUG = False: notifications created in "
                "one process never reach sockets served by another.",
                hint="Use channels-redis in production: notifications.layers.redis_channel_layer().",
                id="notifications.W001",
            )
        )
    group_expiry = options.get("group_expiry", 86400)
    if isinstance(refresh, int | float) and refresh >= group_expiry:
        messages.append(
            Warning(
                f"The channel layer's group_expiry ({group_expiry} s) is shorter than the socket "
                f"lifetime allows: sockets re-join their group every {refresh} s, so a socket "
                f"open longer than {group_expiry} s stops receiving live notifications.",
                hint="Set NOTIFICATIONS['GROUP_REFRESH_INTERVAL'] below group_expiry, or to None.",
                id="notifications.W002",
            )
        )
    if backend.startswith("channels_redis.core"):
        messages += _check_redis(options)
    return messages


def _check_redis(options: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for host in options.get("hosts") or [{}]:
        timeout = host.get("socket_timeout") if isinstance(host, dict) else None
        if timeout is None or timeout <= layers.REDIS_BLOCKING_SECONDS:
            messages.append(
                Warning(
                    "A channels-redis host has no socket_timeout above the layer's "
                    f"{layers.REDIS_BLOCKING_SECONDS} s blocking read: redis-py may time out an idle "
                    "server's read and close its sockets (code 1011).",
                    hint=(
                        "Give each host a dict with 'socket_timeout': "
                        f"{layers.REDIS_SOCKET_TIMEOUT}, or use "
                        "notifications.layers.redis_channel_layer()."
                    ),
                    id="notifications.W003",
                )
            )
            break
    capacity = options.get("capacity", 100)
    if capacity < layers.MINIMUM_CAPACITY:
        messages.append(
            Warning(
                f"channels-redis capacity is {capacity}: it bounds one queue shared by every socket "
                "of a server process, so a burst to more sockets than that is dropped silently.",
                hint=f"Set 'capacity' to {layers.RECOMMENDED_CAPACITY} or more.",
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


def register_checks() -> None:
    register(Tags.compatibility)(check_settings)
    register(Tags.compatibility)(check_channel_layer)
    register(Tags.security, deploy=False)(check_security)
