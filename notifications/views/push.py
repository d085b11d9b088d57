"""Web Push over HTTP (docs/push.md): the service worker script, the browser's subscriptions, and
marking a notification read from a click on its push.

- ``GET sw.js``: the service worker, served from the app's path so its scope is the app's.
- ``POST api/push-subscriptions/`` ``PushSubscription.toJSON()``: 201, or 200 when the endpoint was
  known (it then belongs to the signed-in user, whoever had it). ``DELETE`` ``{"endpoint"}``: 204.
  Session + CSRF, like the rest of the JSON API.
- ``POST api/push-read/`` ``{"id", "token"}``: the service worker cannot read the CSRF cookie, so this
  endpoint takes the token each push carries instead: signed by the server for one notification of one
  user, it is sent only inside the encrypted push, so another site cannot forge the request. The session
  must still be that user's.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from notifications import api
from notifications.conf import app_settings
from notifications.constants import PUSH_ENDPOINT_MAX_LENGTH
from notifications.exceptions import InvalidNotification, NotificationNotFound
from notifications.http_errors import error, json_errors
from notifications.models import PushSubscription
from notifications.views.json_api import json_endpoint
from notifications.webpush import read_token_target

SERVICE_WORKER = Path(__file__).resolve().parent.parent / "static" / "notifications" / "sw.js"
#: Sizes of the subscription's keys, decoded: an uncompressed P-256 point and a 16-byte secret.
P256DH_BYTES = 65
AUTH_BYTES = 16
USER_AGENT_MAX_LENGTH = 512
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


@cache
def _service_worker_source() -> bytes:
    return SERVICE_WORKER.read_bytes()


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker script. Revalidated on every update check, so a deploy reaches browsers."""
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        raise InvalidNotification("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidNotification("The body must be a JSON object.")
    return body


def clean_endpoint(value: object) -> str:
    """An https:// push service URL (http:// on a loopback host too while DEBUG is on)."""
    if not isinstance(value, str) or not value:
        raise InvalidNotification('"endpoint" must be the push service URL, a string.')
    if len(value) > PUSH_ENDPOINT_MAX_LENGTH:
        raise InvalidNotification(
            f'"endpoint" is longer than {PUSH_ENDPOINT_MAX_LENGTH} characters.'
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidNotification('"endpoint" must not contain whitespace or control characters.')
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError:
        raise InvalidNotification('"endpoint" is not a valid URL.') from None
    if not host or "@" in parts.netloc:
        raise InvalidNotification('"endpoint" must be an absolute URL with a host and no user.')
    if parts.scheme == "https":
        return value
    if parts.scheme == "http" and settings.DEBUG and _is_loopback(host):
        return value
    raise InvalidNotification(
        '"endpoint" must be an https:// URL (http:// only on a loopback host, with DEBUG on).'
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key(keys: dict[str, Any], name: str, size: int) -> str:
    value = keys.get(name)
    if not isinstance(value, str) or not _BASE64URL.match(value):
        raise InvalidNotification(f'"keys.{name}" must be a base64url string.')
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise InvalidNotification(f'"keys.{name}" must be a base64url string.') from None
    if len(raw) != size:
        raise InvalidNotification(f'"keys.{name}" must decode to {size} bytes, not {len(raw)}.')
    if name == "p256dh" and not _is_p256_point(raw):
        raise InvalidNotification('"keys.p256dh" must be an uncompressed P-256 public key.')
    return value.rstrip("=")


def _is_p256_point(raw: bytes) -> bool:
    # cryptography comes with pywebpush, which Web Push needs (this view answers 404 without it).
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return raw[0] == 4


@json_endpoint(methods=("POST", "DELETE"))
def push_subscriptions(request: HttpRequest) -> HttpResponse:
    """Register this browser's subscription for the signed-in user, or unregister it."""
    user: Any = request.user
    body = _json_object(request)
    endpoint = clean_endpoint(body.get("endpoint"))
    if request.method == "DELETE":
        PushSubscription.objects.filter(user_id=user.pk, endpoint=endpoint).delete()
        return HttpResponse(status=204)
    if app_settings.WEB_PUSH is None:
        return error(404, "push_disabled", "Web Push is off on this site (no VAPID keys).")
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise InvalidNotification('"keys" must be an object {"p256dh": ..., "auth": ...}.')
    subscription, created = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "user_id": user.pk,
            "p256dh": _key(keys, "p256dh", P256DH_BYTES),
            "auth": _key(keys, "auth", AUTH_BYTES),
            "user_agent": request.headers.get("User-Agent", "")[:USER_AGENT_MAX_LENGTH],
        },
    )
    return JsonResponse(
        {"id": subscription.pk, "endpoint": endpoint, "browser": subscription.browser},
        status=201 if created else 200,
    )


@csrf_exempt  # the signed token stands in for the CSRF token: see the module docstring
@json_errors
def push_read(request: HttpRequest) -> HttpResponse:
    """Mark the notification of a clicked push read: {"id": ..., "token": ...} from its payload."""
    if request.method != "POST":
        response = error(405, "method_not_allowed", "Use POST for this endpoint.")
        response["Allow"] = "POST"
        return response
    if not request.user.is_authenticated:
        return error(401, "not_authenticated", "Sign in to use notifications.")
    try:
        body = _json_object(request)
    except InvalidNotification as exc:
        return error(400, "invalid", str(exc))
    token, notification_id = body.get("token"), body.get("id")
    if not isinstance(token, str) or not isinstance(notification_id, int):
        return error(400, "invalid", '"id" must be a notification id and "token" a string.')
    try:
        owner, signed_id = read_token_target(token)
    except signing.BadSignature:
        return error(403, "invalid_token", "The token is not valid (or has expired).")
    if owner != str(request.user.pk) or signed_id != notification_id:
        return error(403, "invalid_token", "The token is for another notification or user.")
    try:
        changed = api.mark_read(request.user, [notification_id])
    except NotificationNotFound as exc:
        return error(404, "not_found", str(exc))
    unread, last_seq = api.inbox(request.user)
    return JsonResponse({"ids": changed, "unread_count": unread, "last_seq": last_seq})
