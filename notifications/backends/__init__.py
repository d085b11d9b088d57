"""Delivery channels: ``NOTIFICATIONS["BACKENDS"]`` lists them, ``deliver()`` runs them after commit.

Each backend is a ``notifications.backends.base.DeliveryBackend``; a project adds its own (SMS, Slack)
by appending a dotted path. A backend that raises is logged and never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from notifications.backends.base import DeliveryBackend
from notifications.conf import app_settings
from notifications.exceptions import NotificationsImproperlyConfigured
from notifications.models import Notification

__all__ = ["DeliveryBackend", "deliver", "enqueue", "get_backends"]

logger = logging.getLogger("notifications.backends")


def get_backends() -> list[DeliveryBackend]:
    """One instance of each backend of ``NOTIFICATIONS["BACKENDS"]``, imported on first use."""
    return list(_load(app_settings.BACKENDS))


@cache
def _load(paths: tuple[str, ...]) -> tuple[DeliveryBackend, ...]:
    return tuple(load_backend(path) for path in paths)


def load_backend(path: str) -> DeliveryBackend:
    """An instance of the DeliveryBackend at ``path``; NotificationsImproperlyConfigured if none."""
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise NotificationsImproperlyConfigured(
            f"NOTIFICATIONS['BACKENDS']: cannot import {path!r}: {exc}"
        ) from exc
    if not (isinstance(backend_class, type) and issubclass(backend_class, DeliveryBackend)):
        raise NotificationsImproperlyConfigured(
            f"NOTIFICATIONS['BACKENDS']: {path!r} is not a DeliveryBackend subclass."
        )
    backend = backend_class()
    if not backend.name:
        raise NotificationsImproperlyConfigured(
            f"NOTIFICATIONS['BACKENDS']: {path!r} has no `name` (the channel it delivers)."
        )
    return backend


def enqueue(notifications: Sequence[Notification], using: str) -> None:
    """Run every backend's ``enqueue()`` in the transaction that creates these notifications."""
    if not notifications:
        return
    try:
        backends = get_backends()
    except NotificationsImproperlyConfigured:
        return  # deliver() logs it after commit
    for backend in backends:
        backend.enqueue(notifications, using)


def deliver(notifications: Sequence[Notification]) -> None:
    """Run every backend on these committed notifications; log failures, never raise."""
    if not notifications:
        return
    try:
        backends = get_backends()
    except NotificationsImproperlyConfigured:
        logger.exception("No delivery: NOTIFICATIONS['BACKENDS'] is broken.")
        return
    for backend in backends:
        try:
            backend.deliver(notifications)
        except Exception:
            logger.exception(
                "Delivery backend %r failed on %d notification(s); the others went on.",
                backend.name,
                len(notifications),
            )


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting == "NOTIFICATIONS":
        _load.cache_clear()
