"""Web Push messages: the payload a service worker gets, its read token, and sending one message.

Sending (``push()``, one attempt) needs the ``push`` extra (pywebpush); it is imported when first used.
The tasks that call it and queue the retries are in ``notifications.push_tasks``; the backend that
queues them is ``notifications.backends.push``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, NamedTuple

from django.core import signing
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from notifications.conf import WebPushSettings, app_settings
from notifications.models import Notification, PushSubscription

logger = logging.getLogger("notifications.push")

#: The largest JSON payload sent: push services take 4096 bytes, encryption adds up to 103.
MAX_PAYLOAD_BYTES = 3800
#: The longest wait between two attempts, whatever Retry-After says.
MAX_RETRY_DELAY = 60.0
READ_SALT = "notifications.push-read"
#: How long the token in a push can mark its notification read.
READ_TOKEN_MAX_AGE = 30 * 86400


def payload(n: Notification) -> dict[str, Any]:
    """What the service worker gets: the notification, and how to mark it read (docs/push.md)."""
    return {
        "id": n.pk,
        "seq": n.seq,
        "title": n.title or n.verb,
        "body": n.body,
        "url": n.url,
        "level": n.level,
        "category": n.category,
        # The in-tab desktop notification of the same notification uses this tag: one replaces the other.
        "tag": f"notification-{n.pk}",
        "icon": app_settings.WEB_PUSH.ICON if app_settings.WEB_PUSH else "",
        "read_url": reverse("notifications:api-push-read"),
        "read_token": read_token(n),
    }


def encode_payload(data: dict[str, Any]) -> str:
    """UTF-8 JSON of at most MAX_PAYLOAD_BYTES: the body is shortened to fit."""
    encoded = _json(data)
    while len(encoded.encode()) > MAX_PAYLOAD_BYTES and data.get("body"):
        excess = len(encoded.encode()) - MAX_PAYLOAD_BYTES
        body = str(data["body"]).encode()
        # Cut by bytes (dropping a split character), then mark the cut; loop if escaping added more.
        kept = body[: max(0, len(body) - excess - len("…".encode()))].decode(errors="ignore")
        data = {**data, "body": kept.rstrip() + "…" if kept.strip() else ""}
        encoded = _json(data)
    return encoded


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def read_token(n: Notification) -> str:
    """A token that lets the service worker mark this one notification read (views/push.py)."""
    return signing.dumps([str(n.recipient_id), n.pk], salt=READ_SALT, compress=False)


def read_token_target(token: str) -> tuple[str, int]:
    """(recipient pk as a string, notification id) of a valid token; raises signing.BadSignature."""
    value = signing.loads(token, salt=READ_SALT, max_age=READ_TOKEN_MAX_AGE)
    if not (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    ):
        raise signing.BadSignature("Unexpected token contents.")
    return value[0], value[1]


class Outcome(NamedTuple):
    """What one attempt gave: "sent", "gone", "failed", or "retry" in ``delay`` seconds."""

    result: str
    delay: float = 0.0


def push(
    subscription: PushSubscription,
    data: str,
    config: WebPushSettings,
    attempt: int,
    *,
    can_retry: bool,
) -> Outcome:
    """Make attempt number ``attempt`` to send one encrypted message to one subscription.

    404/410 (the browser unsubscribed) delete the subscription. 429, 5xx and network errors give
    "retry" with the delay to wait (RETRY_DELAY doubled per attempt, or the service's Retry-After)
    while attempts remain and ``can_retry``: the caller queues the next attempt, nothing sleeps here.
    Every final outcome is logged and counted once, whatever the attempt that reached it.
    """
    import requests
    from pywebpush import WebPushException, webpush

    status: int | None = None
    retry_after: str | None = None
    retryable = False
    try:
        webpush(
            subscription.subscription_info(),
            data,
            vapid_private_key=config.VAPID_PRIVATE_KEY,
            vapid_claims={"sub": config.SUBJECT},  # a new dict: webpush() adds aud and exp
            ttl=config.TTL,
            timeout=config.TIMEOUT,
            headers={"Urgency": "normal"},
        )
    except WebPushException as exc:
        status, retry_after = exc.status_code, exc.retry_after
        error = f"HTTP {status}" if status is not None else str(exc.message)
        retryable = status is not None and (status == 429 or status >= 500)
    except requests.RequestException as exc:
        error, retryable = f"{type(exc).__name__}: {exc}", True
    except Exception as exc:  # a key the encryption refuses: trying again cannot help
        error = f"{type(exc).__name__}: {exc}"
    else:
        PushSubscription.objects.filter(pk=subscription.pk).update(
            success_count=F("success_count") + 1, last_success_at=timezone.now()
        )
        logger.info("Push delivered to subscription %s.", subscription.pk)
        return Outcome("sent")
    if status in (404, 410):
        PushSubscription.objects.filter(pk=subscription.pk).delete()
        logger.info("Push subscription %s is gone (HTTP %s): deleted.", subscription.pk, status)
        return Outcome("gone")
    more = retryable and attempt < config.MAX_ATTEMPTS
    if more and can_retry:
        delay = _retry_delay(attempt, retry_after, config)
        logger.info(
            "Push to subscription %s failed (%s), attempt %d of %d; retrying in %.1f s.",
            subscription.pk,
            error,
            attempt,
            config.MAX_ATTEMPTS,
            delay,
        )
        return Outcome("retry", delay)
    PushSubscription.objects.filter(pk=subscription.pk).update(
        failure_count=F("failure_count") + 1,
        last_failure_at=timezone.now(),
        last_error=error[:255],
    )
    if more:
        logger.warning(
            "Push to subscription %s failed: %s; not retried: the TASKS backend cannot run a "
            "task later (supports_defer, docs/push.md).",
            subscription.pk,
            error,
        )
    else:
        logger.warning("Push to subscription %s failed: %s.", subscription.pk, error)
    return Outcome("failed")


def _retry_delay(attempt: int, retry_after: str | None, config: WebPushSettings) -> float:
    if retry_after and retry_after.strip().isdigit():
        return min(float(retry_after), MAX_RETRY_DELAY)
    return float(min(config.RETRY_DELAY * 2 ** (attempt - 1), MAX_RETRY_DELAY))
